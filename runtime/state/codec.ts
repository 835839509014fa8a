/**
 * The value codec of state stores. Most states are small arrays and objects of numbers and strings
 * (`[timestamp, count, sum]`); those are written as JSON, which is several times faster than
 * `v8.serialize` (that creates a serializer per call). Anything JSON cannot carry exactly (bigint DECIMALs,
 * Maps, Sets, byte arrays, -0, NaN, Infinity, undefined) goes through `v8.serialize`. Arrays of numbers
 * only (`[timestamp, count, sum]`: the commonest aggregate state) are written as IEEE 754 doubles, which
 * is exact for every number and cheaper still. The first byte says which.
 */
import { deserialize, serialize } from "node:v8";

const JSON_TAG = 0x4a; // 'J'
const V8_TAG = 0x56; // 'V'
const DOUBLES_TAG = 0x44; // 'D': little-endian float64 values of an array of numbers

/** True when `JSON.parse(JSON.stringify(v))` gives back an equal value. */
function jsonSafe(v: unknown, depth = 0): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (depth > 32) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!jsonSafe(v[i], depth + 1)) return false;
        return true;
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false;
      for (const k in v as Record<string, unknown>)
        if (!jsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** True for a non-empty array whose elements are all numbers. */
function numberArray(v: unknown): v is number[] {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "number") return false;
  return true;
}

export function encodeValue(v: unknown): Buffer {
  if (numberArray(v)) {
    const b = Buffer.allocUnsafe(1 + 8 * v.length);
    b[0] = DOUBLES_TAG;
    for (let i = 0; i < v.length; i++) b.writeDoubleLE(v[i]!, 1 + 8 * i);
    return b;
  }
  if (jsonSafe(v)) {
    const s = JSON.stringify(v);
    const b = Buffer.allocUnsafe(1 + Buffer.byteLength(s));
    b[0] = JSON_TAG;
    b.write(s, 1, "utf8");
    return b;
  }
  const body = serialize(v);
  const b = Buffer.allocUnsafe(1 + body.length);
  b[0] = V8_TAG;
  body.copy(b, 1);
  return b;
}

export function decodeValue(b: Buffer): unknown {
  if (b[0] === DOUBLES_TAG) {
    const n = (b.length - 1) >> 3;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(1 + 8 * i);
    return out;
  }
  if (b[0] === JSON_TAG) return JSON.parse(b.toString("utf8", 1));
  if (b[0] === V8_TAG) return deserialize(b.subarray(1));
  throw new Error(`corrupt state value: unknown tag ${b[0]}`);
}
