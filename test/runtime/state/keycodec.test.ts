import { describe, expect, it } from "vitest";
import { decodeKey, encodeKey, prefixEnd } from "../../../runtime/state/keycodec.ts";

function cmpSql(a: unknown, b: unknown): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return Buffer.compare(Buffer.from(a), Buffer.from(b));
  throw new Error("unexpected");
}

// Deterministic pseudo-random values so a failure reproduces.
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe("order-preserving key encoding", () => {
  it("orders numbers like SQL, including negatives, fractions and infinities", () => {
    const r = rng(7);
    const values: unknown[] = [
      null,
      0,
      -0,
      1,
      -1,
      0.5,
      -0.5,
      2 ** 53,
      -(2 ** 53),
      Infinity,
      -Infinity,
      1e-300,
      -1e-300,
    ];
    for (let i = 0; i < 500; i++) values.push((r() - 0.5) * 10 ** Math.floor(r() * 20));
    for (const a of values)
      for (const b of values.slice(0, 40)) {
        expect(Math.sign(Buffer.compare(encodeKey([a]), encodeKey([b])))).toBe(Math.sign(cmpSql(a, b)));
      }
  });

  it("orders decimals (bigint unscaled) and strings, and tuples column by column", () => {
    const r = rng(3);
    const decimals: bigint[] = [0n, 1n, -1n, 255n, 256n, -255n, -256n, 10n ** 30n, -(10n ** 30n)];
    for (let i = 0; i < 200; i++) decimals.push(BigInt(Math.floor((r() - 0.5) * 1e15)) * BigInt(Math.floor(r() * 1e6)));
    const strings = ["", "a", "a\u0000", "a\u0000b", "ab", "b", "é", "\u0000", "z".repeat(50)];
    for (const a of decimals)
      for (const b of decimals.slice(0, 30)) {
        expect(Math.sign(Buffer.compare(encodeKey([a]), encodeKey([b])))).toBe(Math.sign(cmpSql(a, b)));
      }
    for (const a of strings)
      for (const b of strings) {
        expect(Math.sign(Buffer.compare(encodeKey([a, 1]), encodeKey([b, 0])))).toBe(Math.sign(cmpSql(a, b) || 1));
      }
  });

  it("round-trips every kind of value", () => {
    const tuple = [
      null,
      true,
      false,
      42,
      -3.5,
      12345678901234567890n,
      -5n,
      "héllo\u0000x",
      Buffer.from([0, 1, 255]),
      { A: 1 },
    ];
    const back = decodeKey(encodeKey(tuple));
    expect(back.slice(0, 8)).toEqual(tuple.slice(0, 8));
    expect(Buffer.from(back[8] as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
    expect(back[9]).toEqual({ A: 1 });
  });

  it("bounds a prefix scan", () => {
    const p = encodeKey(["user-1"]);
    const inside = Buffer.concat([p, Buffer.from([0xff, 0xff])]);
    expect(Buffer.compare(inside, prefixEnd(p))).toBeLessThan(0);
    expect(Buffer.compare(encodeKey(["user-2"]), prefixEnd(p))).toBeGreaterThanOrEqual(0);
  });

  it("orders a BIGINT column's numbers (safe integers) and bigints (beyond ±2^53) together, and decodes them", () => {
    const MAX = 2n ** 63n - 1n;
    const MIN = -(2n ** 63n);
    const S = Number.MAX_SAFE_INTEGER;
    const values: unknown[] = [null, MIN, MIN + 1n, -(2n ** 60n), -(2n ** 53n) - 1n, -(2n ** 53n), -S, -1, 0, 1, S];
    values.push(2n ** 53n, 2n ** 53n + 1n, 2n ** 60n, MAX - 1n, MAX);
    const r = rng(11);
    for (let i = 0; i < 200; i++) {
      const big = BigInt(Math.floor((r() - 0.5) * 2 ** 52)) * BigInt(Math.floor(r() * 2 ** 11) + 1);
      values.push(big >= BigInt(-S) && big <= BigInt(S) ? Number(big) : big);
    }
    const cmp = (a: unknown, b: unknown) =>
      a === null
        ? b === null
          ? 0
          : -1
        : b === null
          ? 1
          : (a as bigint) < (b as bigint)
            ? -1
            : (a as bigint) > (b as bigint)
              ? 1
              : 0;
    for (const a of values) {
      expect(decodeKey(encodeKey([a, "x"]))).toEqual([a, "x"]);
      for (const b of values.slice(0, 20)) {
        expect(Math.sign(Buffer.compare(encodeKey([a]), encodeKey([b])))).toBe(Math.sign(cmp(a, b)));
      }
    }
    // A DECIMAL column (all bigints) keeps its order across the two encodings of negatives.
    const decimals = [-(10n ** 30n), -(2n ** 53n) - 1n, -(2n ** 53n), -(2n ** 53n) + 1n, -5n, 0n, 5n, 10n ** 30n];
    for (let i = 1; i < decimals.length; i++) {
      expect(Buffer.compare(encodeKey([decimals[i - 1]]), encodeKey([decimals[i]]))).toBe(-1);
      expect(decodeKey(encodeKey([decimals[i]]))).toEqual([decimals[i]]);
    }
    // NaN is written canonical, so no double's bytes collide with a negative bigint's.
    const negativeNaN = new Float64Array(new BigUint64Array([0xffff_ffff_ffff_ffffn]).buffer)[0]!;
    expect(decodeKey(encodeKey([negativeNaN]))).toEqual([NaN]);
  });
});
