import { describe, expect, it } from "vitest";
import {
  BIGINT,
  DOUBLE,
  INTEGER,
  STRING,
  array,
  decimal,
  map,
  struct,
  TIMESTAMP,
  NULL_TYPE,
} from "../../src/types/sqltype.ts";
import {
  arithmetic,
  castFunction,
  canImplicitlyCast,
  commonSuperType,
  compareValues,
  decimalToString,
  javaDoubleToString,
  negate,
  normalizeLong,
  parseDecimal,
  rescale,
  SqlRuntimeError,
  wrapLong,
} from "../../src/types/values.ts";

describe("values", () => {
  it("prints doubles as Java", () => {
    expect(javaDoubleToString(10)).toBe("10.0");
    expect(javaDoubleToString(1e7)).toBe("1.0E7");
    expect(javaDoubleToString(0.0001)).toBe("1.0E-4");
    expect(javaDoubleToString(10.3)).toBe("10.3");
  });
  it("handles decimals", () => {
    expect(decimalToString(12345n, 2)).toBe("123.45");
    expect(decimalToString(-5n, 3)).toBe("-0.005");
    expect(parseDecimal("1.50")).toEqual({ unscaled: 150n, scale: 2 });
    expect(rescale(125n, 2, 1)).toBe(13n);
    expect(rescale(-125n, 2, 1)).toBe(-13n);
  });
  it("casts as ksqlDB", () => {
    expect(castFunction(array(INTEGER), STRING)!([1, 3])).toBe("[1, 3]");
    expect(castFunction(map(STRING, INTEGER), STRING)!(new Map([["this", 1]]))).toBe("{this=1}");
    expect(
      castFunction(
        struct([
          { name: "F0", type: INTEGER },
          { name: "f1", type: INTEGER },
        ]),
        STRING,
      )!({ F0: 1, f1: 3 }),
    ).toBe("Struct{F0=1,f1=3}");
    expect(castFunction(array(BIGINT), array(INTEGER))!([1, 3, 2147483648])).toEqual([1, 3, -2147483648]);
    expect(castFunction(STRING, array(INTEGER))).toBeUndefined();
    const s2s = castFunction(
      struct([
        { name: "F0", type: BIGINT },
        { name: "F1", type: STRING },
      ]),
      struct([
        { name: "F0", type: STRING },
        { name: "F3", type: STRING },
      ]),
    )!;
    expect(s2s({ F0: 1, F1: "3" })).toEqual({ F0: "1", F3: null });
    expect(() => castFunction(STRING, INTEGER)!("abc")).toThrow();
    expect(castFunction(STRING, decimal(4, 2))!("1.005")).toBe(101n);
    expect(castFunction(DOUBLE, INTEGER)!(-1.9)).toBe(-1);
    expect(castFunction(TIMESTAMP, STRING)!(0)).toBe("1970-01-01T00:00:00.000");
    expect(castFunction(NULL_TYPE, INTEGER)!(null)).toBeNull();
  });
  it("widens", () => {
    expect(canImplicitlyCast(INTEGER, BIGINT)).toBe(true);
    expect(canImplicitlyCast(BIGINT, INTEGER)).toBe(false);
    expect(canImplicitlyCast(INTEGER, decimal(10, 0))).toBe(true);
    expect(canImplicitlyCast(INTEGER, decimal(5, 0))).toBe(false);
    expect(commonSuperType([INTEGER, decimal(4, 2)])).toEqual(decimal(12, 2));
    expect(commonSuperType([INTEGER, STRING])).toBeUndefined();
  });
  it("does arithmetic", () => {
    const a = arithmetic("/", INTEGER, INTEGER)!;
    expect(a.fn(7, 2)).toBe(3);
    expect(() => a.fn(1, 0)).toThrow();
    const d = arithmetic("+", decimal(4, 2), decimal(3, 1))!;
    expect(d.type).toEqual(decimal(5, 2));
    expect(d.fn(150n, 25n)).toBe(400n);
    const q = arithmetic("/", decimal(4, 2), decimal(4, 2))!;
    expect(q.type).toEqual(decimal(11, 7));
    expect(q.fn(100n, 300n)).toBe(3333333n);
    expect(arithmetic("*", INTEGER, DOUBLE)!.type).toEqual(DOUBLE);
  });
  it("orders", () => {
    expect([3, null, 1].sort(compareValues(INTEGER))).toEqual([null, 1, 3]);
  });
});

describe("BIGINT over the whole 64-bit range", () => {
  const MAX = 2n ** 63n - 1n;
  const MIN = -(2n ** 63n);
  const SAFE = Number.MAX_SAFE_INTEGER;
  const op = (o: "+" | "-" | "*" | "/" | "%", a: unknown, b: unknown) => arithmetic(o, BIGINT, BIGINT)!.fn(a, b);

  it("is a number while safe and a bigint beyond, never both for one value", () => {
    expect(normalizeLong(5n)).toBe(5);
    expect(normalizeLong(BigInt(SAFE))).toBe(SAFE);
    expect(normalizeLong(BigInt(SAFE) + 1n)).toBe(2n ** 53n);
    expect(normalizeLong(-BigInt(SAFE) - 1n)).toBe(-(2n ** 53n));
    expect(wrapLong(MAX + 1n)).toBe(MIN);
  });

  it("adds, subtracts and multiplies exactly, wrapping like Java's long", () => {
    expect(op("+", SAFE, 2)).toBe(2n ** 53n + 1n); // a double would give 2^53 + 2
    expect(op("+", 2n ** 53n + 1n, -2)).toBe(SAFE);
    expect(op("+", MAX, 1)).toBe(MIN);
    expect(op("-", MIN, 1)).toBe(MAX);
    expect(op("+", MAX, -MAX)).toBe(0);
    expect(op("*", 2n ** 32n, 2n ** 32n)).toBe(0); // 2^64 wraps to 0
    expect(op("*", 3037000500, 3037000500)).toBe(-9223372036709301616n);
    expect(op("*", -1, MIN)).toBe(MIN);
    expect(op("*", 0, -5)).toBe(0);
    expect(Object.is(op("*", 0, -5), -0)).toBe(false);
  });

  it("divides toward zero, Long.MIN_VALUE / -1 wraps, and by zero fails", () => {
    expect(op("/", MAX, 2)).toBe(2n ** 62n - 1n);
    expect(op("/", MIN, -1)).toBe(MIN);
    expect(op("/", -(2n ** 60n), 2n ** 59n)).toBe(-2);
    expect(op("%", MAX, 10)).toBe(7);
    expect(op("%", MIN, 10)).toBe(-8);
    expect(() => op("/", MAX, 0)).toThrow(SqlRuntimeError);
  });

  it("negates: -Long.MIN_VALUE is Long.MIN_VALUE, as in Java", () => {
    const neg = negate(BIGINT)!;
    expect(neg(MAX)).toBe(-MAX);
    expect(neg(MIN)).toBe(MIN);
    expect(neg(-(2n ** 53n))).toBe(2n ** 53n);
    expect(Object.is(neg(0), -0)).toBe(false);
  });

  it("orders and compares numbers and bigints together", () => {
    const values = [MAX, 1, MIN, null, -SAFE, 2n ** 53n, -(2n ** 53n), 0];
    expect(values.sort(compareValues(BIGINT))).toEqual([null, MIN, -(2n ** 53n), -SAFE, 0, 1, 2n ** 53n, MAX]);
  });

  it("casts exactly: to and from STRING, DECIMAL, DOUBLE and INTEGER", () => {
    expect(castFunction(STRING, BIGINT)!("9223372036854775807")).toBe(MAX);
    expect(castFunction(STRING, BIGINT)!("-9223372036854775808")).toBe(MIN);
    expect(() => castFunction(STRING, BIGINT)!("9223372036854775808")).toThrow(SqlRuntimeError);
    expect(castFunction(BIGINT, STRING)!(MIN)).toBe("-9223372036854775808");
    expect(castFunction(BIGINT, decimal(19, 0))!(MAX)).toBe(MAX);
    expect(castFunction(decimal(20, 1), BIGINT)!(MAX * 10n + 9n)).toBe(MAX);
    expect(castFunction(BIGINT, DOUBLE)!(MAX)).toBe(2 ** 63);
    expect(castFunction(DOUBLE, BIGINT)!(1e18)).toBe(10n ** 18n);
    expect(castFunction(DOUBLE, BIGINT)!(1e300)).toBe(MAX);
    expect(castFunction(DOUBLE, BIGINT)!(-1e300)).toBe(MIN);
    expect(castFunction(BIGINT, INTEGER)!(2n ** 62n + 5n)).toBe(5);
    expect(castFunction(BIGINT, INTEGER)!(2147483648)).toBe(-2147483648);
  });
});
