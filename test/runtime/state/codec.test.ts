import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../../../runtime/state/codec.ts";
import { timeWindows, windowStarts, groupId } from "../../../runtime/processors/aggregate.ts";
import { encodeKey } from "../../../runtime/state/keycodec.ts";

describe("state value codec", () => {
  it("round-trips arrays of numbers exactly (as doubles), and everything else", () => {
    for (const v of [
      [1, 2.5, -3],
      [0, -0, NaN, Infinity, -Infinity, 2 ** 60],
      [1.7e308],
      { a: 1 },
      [1, "x"],
      [],
      5,
      "s",
      null,
      [10n],
      new Map([[1, 2]]),
    ]) {
      const back = decodeValue(encodeValue(v));
      expect(back).toEqual(v);
      if (Array.isArray(v)) v.forEach((x, i) => expect(Object.is((back as unknown[])[i], x)).toBe(true));
    }
    expect(encodeValue([1, 2])[0]).toBe(0x44);
  });
});

describe("aggregate helpers", () => {
  it("windowStarts gives the starts of timeWindows", () => {
    const cases = [
      { type: "TUMBLING" as const, sizeMs: 60_000 },
      { type: "HOPPING" as const, sizeMs: 60_000, advanceMs: 15_000 },
      { type: "HOPPING" as const, sizeMs: 10, advanceMs: 3 },
      { type: "HOPPING" as const, sizeMs: 5, advanceMs: 7 },
    ];
    for (const w of cases) {
      for (const ts of [0, 1, 2, 9, 14_999, 15_000, 59_999, 60_000, 1_700_000_123_456]) {
        const out: number[] = [];
        windowStarts(ts, w, out);
        expect(out, `${JSON.stringify(w)} @${ts}`).toEqual(timeWindows(ts, w).map((x) => x.start));
      }
    }
  });

  it("groupId tells keys apart (as Map keys) exactly as their binary encoding does", () => {
    const keys: unknown[][] = [
      ["a"],
      ["a", "b"],
      ["ab"],
      ["a:b"],
      [1],
      ["1"],
      [1, 2],
      [12],
      [0],
      [-0],
      [true],
      [false],
      [1.5],
      [10n],
      [[1, 2]],
      [{ A: 1 }],
      ["", ""],
      [""],
    ];
    for (const a of keys)
      for (const b of keys)
        expect(new Map([[groupId(a), 1]]).has(groupId(b)), `${String(a)} vs ${String(b)}`).toBe(
          encodeKey(a).equals(encodeKey(b)),
        );
  });
});
