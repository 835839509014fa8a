/**
 * Text conversions with Java's semantics, which ksqlDB's serdes inherit: `Integer.parseInt`,
 * `Long.parseLong`, `Double.parseDouble`, `Double.toString`, and base64.
 */

const INTEGER_TEXT = /^[+-]?\d+$/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** `Integer.parseInt`: undefined when the text is not a 32-bit integer. */
export function parseJavaInt(s: string): number | undefined {
  if (!INTEGER_TEXT.test(s)) return undefined;
  const n = Number(s);
  return n >= INT_MIN && n <= INT_MAX ? n : undefined;
}

/** `Long.parseLong`, as a JS number (exact within ±2^53): undefined when not a 64-bit integer. */
export function parseJavaLong(s: string): number | undefined {
  if (!INTEGER_TEXT.test(s)) return undefined;
  if (s.length > 15) {
    const big = BigInt(s);
    if (big < LONG_MIN || big > LONG_MAX) return undefined;
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
