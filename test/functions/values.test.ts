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
  parseDecimal,
  rescale,
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
