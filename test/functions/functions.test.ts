import { describe, expect, it } from "vitest";
import {
  BIGINT,
  DOUBLE,
  INTEGER,
  STRING,
  BOOLEAN,
  TIMESTAMP,
  NULL_TYPE,
  array,
  decimal,
  map,
} from "../../src/types/sqltype.ts";
import { functions } from "../../src/functions/registry.ts";
import { call, fold, resolveAggregate, resolveScalar, v } from "./helpers.ts";

describe("resolution", () => {
  it("lists alternatives when nothing matches", () => {
    const f = functions.get("SUBSTRING")!;
    const r = f.resolve([v(STRING), v(BOOLEAN)]);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain("does not accept parameters (STRING, BOOLEAN)");
      expect(r.message).toContain("SUBSTRING(STRING str, INTEGER pos)");
    }
  });
  it("widens and accepts NULL", () => {
    expect(resolveScalar("EXP", [v(INTEGER)]).argTypes).toEqual([DOUBLE]);
    expect(call("SUBSTRING", [v(STRING), v(NULL_TYPE)], ["abc", null])).toBeNull();
  });
  it("GREATEST rejects mixed integer types as ksqlDB does", () => {
    const r = functions.get("GREATEST")!.resolve([v(INTEGER), v(BIGINT)]);
    expect(r.ok).toBe(false);
    expect(call("GREATEST", [v(STRING), v(STRING), v(NULL_TYPE)], ["a", "b", null])).toBe("b");
  });
  it("types lambdas", () => {
    const r = resolveScalar("TRANSFORM", [v(array(INTEGER)), { kind: "lambda", arity: 1, typeBody: () => STRING }]);
    expect(r.returnType).toEqual(array(STRING));
    expect(r.lambdaParams?.get(1)).toEqual([INTEGER]);
  });
});

describe("string", () => {
  it("substring", () => {
    expect(call("SUBSTRING", [v(STRING), v(INTEGER), v(INTEGER)], ["some string", 6, 3])).toBe("str");
    expect(call("SUBSTRING", [v(STRING), v(INTEGER), v(INTEGER)], ["some", 0, 2])).toBe("so");
  });
  it("instr", () => {
    expect(call("INSTR", [v(STRING), v(STRING), v(INTEGER)], ["hello world", "or", 4])).toBe(8);
    expect(call("CONCAT_WS", [v(STRING), v(STRING), v(STRING), v(NULL_TYPE)], ["SEP", "foo", "bar", null])).toBe(
      "fooSEPbar",
    );
  });
});

describe("math", () => {
  it("round", () => {
    expect(call("ROUND", [v(DOUBLE)], [-1.5])).toBe(-1);
    expect(call("ROUND", [v(DOUBLE), v(INTEGER)], [12345.678, -1])).toBe(12350);
    expect(call("ROUND", [v(DOUBLE), v(INTEGER)], [1.234567, 2])).toBe(1.23);
    expect(call("TRUNC", [v(DOUBLE), v(INTEGER)], [-12345.678, 2])).toBe(-12345.67);
    expect(resolveScalar("ROUND", [v(decimal(33, 16))]).returnType).toEqual(decimal(17, 0));
  });
  it("GEO_DISTANCE computes in ksqlDB's order (same doubles) and takes its unit names", () => {
    const args = [v(DOUBLE), v(DOUBLE), v(DOUBLE), v(DOUBLE), v(STRING)];
    expect(call("GEO_DISTANCE", args, [37.4439, -122.1663, 51, 0, null])).toBe(8682.459061368269);
    expect(call("GEO_DISTANCE", args, [37.4439, -122.1663, 51, 0, " Kilometres "])).toBe(8682.459061368269);
    const miles = call("GEO_DISTANCE", args, [37.4439, -122.1663, 51, 0, "mile"]) as number;
    expect(miles).toBeCloseTo((8682.459061368269 * 3959) / 6371, 6);
    expect(() => call("GEO_DISTANCE", args, [0, 0, 1, 1, "parsec"])).toThrow(/unknown unit/);
  });
});

describe("collections", () => {
  it("sorts and joins", () => {
    expect(call("ARRAY_SORT", [v(array(INTEGER))], [[3, null, 1]])).toEqual([1, 3, null]);
    expect(call("ARRAY_JOIN", [v(array(INTEGER)), v(STRING)], [[1, 2], "|"])).toBe("1|2");
    expect(call("MAP_KEYS", [v(map(STRING, INTEGER))], [new Map([["a", 1]])])).toEqual(["a"]);
  });
});

describe("datetime", () => {
  it("formats and parses Java patterns", () => {
    expect(call("FORMAT_TIMESTAMP", [v(TIMESTAMP), v(STRING)], [0, "yyyy-MM-dd'T'HH:mm:ss.SSS"])).toBe(
      "1970-01-01T00:00:00.000",
    );
    expect(
      call("FORMAT_TIMESTAMP", [v(TIMESTAMP), v(STRING), v(STRING)], [0, "yyyy-MM-dd HH:mm X", "America/New_York"]),
    ).toBe("1969-12-31 19:00 -05");
    expect(call("PARSE_TIMESTAMP", [v(STRING), v(STRING)], ["2021-03-04 05:06:07", "yyyy-MM-dd HH:mm:ss"])).toBe(
      Date.UTC(2021, 2, 4, 5, 6, 7),
    );
    expect(call("PARSE_DATE", [v(STRING), v(STRING)], ["2022-02-02", "yyyy-MM-dd"])).toBe(19025);
  });
});

describe("aggregates", () => {
  it("fold BIGINT exactly over the 64-bit range (SUM wraps like Java's long, as ksqlDB's)", () => {
    const MAX = 2n ** 63n - 1n;
    const MIN = -(2n ** 63n);
    const above = 2n ** 53n + 1n;
    const rows = [[above], [null], [-1], [MAX], [MIN], [7]];
    expect(fold("SUM", [v(BIGINT)], [[above], [above], [-1]])).toBe(2n * above - 1n);
    expect(fold("SUM", [v(BIGINT)], [[MAX], [1]])).toBe(MIN);
    expect(fold("SUM", [v(BIGINT)], [[MAX], [-MAX]])).toBe(0);
    expect(fold("MIN", [v(BIGINT)], rows)).toBe(MIN);
    expect(fold("MAX", [v(BIGINT)], rows)).toBe(MAX);
    expect(fold("TOPK", [v(BIGINT), v(INTEGER, 3)], rows)).toEqual([MAX, above, 7]);
    expect(fold("TOPKDISTINCT", [v(BIGINT), v(INTEGER, 2)], [[MAX], [MAX], [1]])).toEqual([MAX, 1]);
    expect(fold("COLLECT_SET", [v(BIGINT)], [[MAX], [MAX], [above], [above]])).toEqual([MAX, above]);
    expect(fold("COLLECT_LIST", [v(BIGINT)], [[MAX], [1]])).toEqual([MAX, 1]);
    expect(fold("COUNT_DISTINCT", [v(BIGINT)], [[MAX], [MAX], [MIN]])).toBe(2);
    expect(fold("AVG", [v(BIGINT)], [[MAX], [-1]])).toBe(2 ** 62);
    const sum = resolveAggregate("SUM", [v(BIGINT)]).accumulator;
    expect(sum.retract!(sum.add(sum.init(), [MAX]), [1])).toBe(MAX - 1n);
    expect(sum.merge!(MAX, 1)).toBe(MIN);
  });
  it("BIGINT scalars: ABS, SIGN, ROUND beyond 2^53", () => {
    const MIN = -(2n ** 63n);
    expect(call("ABS", [v(BIGINT)], [-(2n ** 60n)])).toBe(2n ** 60n);
    expect(call("ABS", [v(BIGINT)], [MIN])).toBe(MIN);
    expect(call("SIGN", [v(BIGINT)], [MIN])).toBe(-1);
    expect(call("ROUND", [v(DOUBLE)], [1e18])).toBe(10n ** 18n);
  });
  it("count, sum, topk, latest", () => {
    expect(fold("COUNT", [], [[], []])).toBe(2);
    expect(fold("SUM", [v(INTEGER)], [[1], [null], [2]])).toBe(3);
    expect(fold("TOPK", [v(INTEGER), v(INTEGER, 2)], [[1], [5], [3]])).toEqual([5, 3]);
    expect(fold("LATEST_BY_OFFSET", [v(STRING)], [["a"], [null]])).toBe("a");
    expect(fold("LATEST_BY_OFFSET", [v(STRING), v(BOOLEAN, false)], [["a"], [null]])).toBeNull();
    expect(fold("EARLIEST_BY_OFFSET", [v(STRING), v(INTEGER, 2)], [["a"], ["b"], ["c"]])).toEqual(["a", "b"]);
    expect(fold("COLLECT_SET", [v(INTEGER)], [[1], [1], [2]])).toEqual([1, 2]);
  });
  it("STDDEV and CORRELATION give ksqlDB's doubles (its formulas, operation for operation)", () => {
    const xs = [10, 12, 13, 14, 16];
    const prefix = (n: number) => xs.slice(0, n).map((x) => [x]);
    expect(fold("STDDEV_SAMPLE", [v(DOUBLE)], prefix(3))).toBe(1.5275252316519465);
    expect(fold("STDDEV_SAMPLE", [v(DOUBLE)], prefix(4))).toBe(1.707825127659933);
    expect(fold("STDDEV_SAMPLE", [v(DOUBLE)], prefix(1))).toBe(0);
    const sd = resolveAggregate("STDDEV_SAMPLE", [v(DOUBLE)]).accumulator;
    const all = xs.reduce((s, x) => sd.add(s, [x]), sd.init());
    expect(sd.result(sd.retract!(all, [16]))).toBeCloseTo(1.707825127659933, 12);
    const left = [10, 12].reduce((s, x) => sd.add(s, [x]), sd.init());
    const right = [13, 14, 16].reduce((s, x) => sd.add(s, [x]), sd.init());
    expect(sd.result(sd.merge!(left, right))).toBeCloseTo(sd.result(all) as number, 12);
    // A state the earlier accumulator wrote (count, mean, M2) reads on.
    expect(sd.result(sd.add({ n: 2, mean: 11, m2: 2 }, [13]))).toBe(1.5275252316519465);
    const pairs = [
      [1.5, 8],
      [-1, -2],
      [-4.5, -1],
      [null, -6],
    ];
    expect(fold("CORRELATION", [v(DOUBLE), v(DOUBLE)], pairs)).toBe(0.7580764521133173);
  });
  it("requires literals for init args", () => {
    const r = functions.get("TOPK")!.resolve([v(INTEGER), v(INTEGER)]);
    expect(r.ok).toBe(false);
  });
});

describe("regressions found against qtt", () => {
  it("cube_explode order and NULL dedup", () => {
    const r = functions.get("CUBE_EXPLODE")!;
    if (r.kind !== "table") throw new Error("kind");
    const res = r.resolve([v(array(STRING))]);
    if (!res.ok) throw new Error(res.message);
    expect(res.value.impl(["a", "b"])).toEqual([
      [null, null],
      [null, "b"],
      ["a", null],
      ["a", "b"],
    ]);
    expect(res.value.impl(["a", null])).toEqual([
      [null, null],
      ["a", null],
    ]);
  });
  it("parses zone abbreviations with daylight saving", () => {
    expect(
      call("PARSE_TIMESTAMP", [v(STRING), v(STRING)], ["2018-05-11T21:58:33 PST", "yyyy-MM-dd'T'HH:mm:ss zzz"]),
    ).toBe(1526101113000);
  });
  it("prints zone abbreviations as Java does, beyond North America's", () => {
    const fmt = (zone: string) =>
      call("TIMESTAMPTOSTRING", [v(BIGINT), v(STRING), v(STRING)], [1526075913000, "HH:mm zzz", zone]);
    expect(fmt("Europe/London")).toBe("22:58 BST");
    expect(fmt("America/Los_Angeles")).toBe("14:58 PDT");
    expect(fmt("Europe/Paris")).toBe("23:58 CEST");
    expect(fmt("Asia/Kolkata")).toBe("03:28 IST");
    expect(fmt("UTC")).toBe("21:58 UTC");
  });
  it("hex forms and string literals as temporal arguments", () => {
    expect(call("ENCODE", [v(STRING), v(STRING), v(STRING)], ["0x578616d706C6521", "hex", "utf8"])).toBe(
      "\u0005xample!",
    );
    // FROM_BYTES writes hex in upper case, ENCODE in lower case (as ksqlDB does).
    const bytes = { kind: "BYTES" } as const;
    expect(call("FROM_BYTES", [v(bytes), v(STRING)], [Buffer.from([0x1a, 0xb2]), "hex"])).toBe("1AB2");
    expect(call("ENCODE", [v(STRING), v(STRING), v(STRING)], ["\u001a", "utf8", "hex"])).toBe("1a");
    const g = resolveScalar("GREATEST", [v({ kind: "DATE" }), v(STRING, "2021-01-01")]);
    expect(g.argTypes).toEqual([{ kind: "DATE" }, { kind: "DATE" }]);
  });
});
