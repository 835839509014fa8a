/**
 * Text conversions with Java's semantics, which ksqlDB's serdes inherit: `Integer.parseInt`,
 * `Long.parseLong`, `Double.parseDouble`, `Double.toString`, and base64.
 */
import type { SqlType } from "../../src/types/sqltype.ts";
import { LONG_MAX, LONG_MIN, type Long, normalizeLong } from "../../src/types/values.ts";
import { OutOfRangeError } from "./types.ts";

const INTEGER_TEXT = /^[+-]?\d+$/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/**
 * A number that does not fit its column's type (a JSON `99999999999999999999` for a BIGINT, `3000000000` for
 * an INTEGER): the record is dropped with the reason `out-of-range` instead of being stored wrapped or rounded.
 */
export function outOfRange(value: string, type: SqlType): OutOfRangeError {
  return new OutOfRangeError(`out-of-range: ${value} does not fit ${type.kind}`);
}

/** What {@link parseJavaInt} and {@link parseJavaLong} return for an integer beyond the type's range. */
export const OUT_OF_RANGE: unique symbol = Symbol("out-of-range");

/** `Integer.parseInt`: undefined when the text is not an integer, `OUT_OF_RANGE` when it is one beyond 32 bits. */
export function parseJavaInt(s: string): number | undefined | typeof OUT_OF_RANGE {
  if (!INTEGER_TEXT.test(s)) return undefined;
  const n = Number(s);
  return n >= INT_MIN && n <= INT_MAX ? n : OUT_OF_RANGE;
}

/**
 * `Long.parseLong`, as a BIGINT value (a number while safe, else a bigint: exact over the 64-bit range):
 * undefined when the text is not an integer, `OUT_OF_RANGE` when it is one beyond the 64-bit range.
 */
export function parseJavaLong(s: string): Long | undefined | typeof OUT_OF_RANGE {
  if (!INTEGER_TEXT.test(s)) return undefined;
  if (s.length > 15) {
    const big = BigInt(s);
    if (big < LONG_MIN || big > LONG_MAX) return OUT_OF_RANGE;
    return normalizeLong(big);
  }
  return Number(s);
}

const DOUBLE_TEXT = /^[+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?)$/;

/** `Double.parseDouble` (without hexadecimal floats): trims, accepts `NaN`, `Infinity` and a d/f suffix. */
export function parseJavaDouble(text: string): number | undefined {
  // Java trims every char <= ' ' on both ends.
  const s = text.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "");
  if (!DOUBLE_TEXT.test(s)) return undefined;
  const last = s.charCodeAt(s.length - 1);
  // 'd', 'D', 'f', 'F' suffixes
  const body = last === 100 || last === 68 || last === 102 || last === 70 ? s.slice(0, -1) : s;
  return Number(body);
}

/** `Double.toString`, shared with CAST and the functions (one implementation). */
export { javaDoubleToString } from "../../src/types/values.ts";

const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Strict base64 (padding optional): undefined when the text is not base64. */
export function decodeBase64(s: string): Buffer | undefined {
  return BASE64_TEXT.test(s) ? Buffer.from(s, "base64") : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString(
    "base64",
  );
}
