import { serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { decodeInternal, encodeInternal, type InternalValue } from "../../../runtime/serde/internal.ts";

describe("internal topic codec", () => {
  const cases: [string, InternalValue][] = [
    ["a stream row", { v: ["k1", 1.5, 3, null, true, false] }],
    ["a table update", { v: ["r7", 250.25], o: ["r3", 12] }],
    ["a new table row", { v: ["r7", 250.25], o: null }],
    ["a deletion", { v: null, o: ["r3", 12] }],
    ["a move away", { v: null, o: ["r3", 12], m: true }],
    ["a windowed row", { v: ["k", 2], w: { start: 1_700_000_000_000, end: 1_700_000_060_000 } }],
    ["an empty row", { v: [] }],
    [
      "values beyond JSON",
      {
        v: [
          -0,
          NaN,
          Infinity,
          9_007_199_254_740_993n,
          123456789012345678901234567890n,
          new Map([["a", 1]]),
          { F1: "x", F2: [1, 2] },
          [null, "y"],
          Buffer.from([0, 1, 255]),
          undefined,
        ],
      },
    ],
    ["long and non-ASCII strings", { v: ["é".repeat(100), "x".repeat(200), "日本語", "🎉".repeat(40), ""] }],
    ["a row longer than 127 values", { v: Array.from({ length: 300 }, (_, i) => (i % 2 ? `s${i}` : i)) }],
  ];
  it.each(cases)("round-trips %s", (_name, value) => {
    const back = decodeInternal(encodeInternal(value));
    expect(back).toStrictEqual(value);
    if (value.v) expect(Object.is(back.v![0], value.v[0])).toBe(true);
  });

  it("reads records written with v8.serialize by earlier releases", () => {
    const old: InternalValue = { v: ["r1", 5], o: ["r2", 4], w: { start: 0, end: 60_000 }, m: true };
    expect(decodeInternal(serialize(old))).toStrictEqual(old);
  });

  it("never writes V8's version byte first", () => {
    expect(encodeInternal({ v: ["a"] })[0]).not.toBe(0xff);
  });

  it("rejects a truncated record with an error", () => {
    const b = encodeInternal({ v: ["abcdef", 1] });
    expect(() => decodeInternal(b.subarray(0, b.length - 3))).toThrow(/corrupt internal record/);
  });
});
