/**
 * Order-preserving binary encoding of key tuples, so a LevelDB store keeps keys in SQL order and a key
 * lookup or a key range is a seek, never a scan.
 *
 * For any two tuples `a`, `b` of the same column types, `compare(encode(a), encode(b))` (bytewise) has
 * the sign of the SQL comparison of `a` and `b` column by column, NULL first. Each value starts with a tag
 * byte, so NULL (0x01) sorts before every value.
 *
 * A BIGINT column mixes numbers (safe integers) and bigints (beyond ±2^53, see `sqltype.ts`): positive bigints
 * sort after every number by their tag; negative ones are written in the number tag's unused space below
 * −Infinity, so they sort before every number (NaN is written canonical, so no double's bytes start with
 * 0x00 0x00). A DECIMAL column (all bigints) keeps its order across both forms.
 *
 * | value                       | bytes                                                              |
 * |-----------------------------|--------------------------------------------------------------------|
 * | NULL                        | 0x01                                                               |
 * | false / true                | 0x02 0x00 / 0x02 0x01                                              |
 * | number (INT, BIGINT, DOUBLE, DATE, TIME, TIMESTAMP) | 0x03 + 8 bytes: IEEE 754 big-endian, sign bit flipped for positives, all bits flipped for negatives |
 * | DECIMAL (bigint unscaled)   | 0x04 + sign byte + length byte + magnitude (bit-flipped when negative); one scale per column, so unscaled order is value order |
 * | bigint ≤ −2^53 (BIGINT, DECIMAL) | 0x03 0x00 0x00 + (0xFF − length) + bit-flipped magnitude: below every double (−Infinity is 0x03 0x00 0x0F…) |
 * | STRING, BYTES               | 0x05 + bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00     |
 * | anything else (ARRAY, MAP, STRUCT) | 0x06 + escaped `v8.serialize` bytes (equality only, no order) |
 */
import { deserialize, serialize } from "node:v8";

const NULL_TAG = 0x01;
const BOOL_TAG = 0x02;
const NUMBER_TAG = 0x03;
const DECIMAL_TAG = 0x04;
const BYTES_TAG = 0x05;
const OTHER_TAG = 0x06;
const STRING_MARK = 0x00;
/** Bigints up to this one are written in the number tag's space (see the table above). */
const BELOW_SAFE = -(2n ** 53n);
const BINARY_MARK = 0x01;

const scratch = new DataView(new ArrayBuffer(8));
const f64 = new Float64Array(1);
const f64bytes = new Uint8Array(f64.buffer);
/** Byte order of the platform: IEEE bytes must be written most significant first. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class Writer {
  buf: Buffer;
  len = 0;
  constructor(size = 64) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  escaped(bytes: Uint8Array): void {
    this.ensure(bytes.length * 2 + 2);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      this.buf[this.len++] = b;
      if (b === 0) this.buf[this.len++] = 0xff;
    }
    this.buf[this.len++] = 0;
    this.buf[this.len++] = 0;
  }
  /** A string's UTF-8 bytes, escaped, without an intermediate Buffer. */
  escapedString(s: string): void {
    const max = s.length * 3;
    this.ensure(max * 2 + 2);
    const start = this.len;
    const n = this.buf.write(s, start, "utf8");
    // NUL characters are rare: only then do the bytes need escaping (0x00 → 0x00 0xFF), shifted in place.
    if (s.indexOf("\u0000") >= 0) {
      const copy = Buffer.from(this.buf.subarray(start, start + n));
      this.len = start;
      this.escaped(copy);
      return;
    }
    this.len = start + n;
    this.buf[this.len++] = 0;
    this.buf[this.len++] = 0;
  }
  result(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    return out;
  }
}

/** One writer reused by every call (encoding is synchronous), so a key costs one small allocation. */
const shared = new Writer(256);

function writeValue(w: Writer, v: unknown): void {
  if (v === null || v === undefined) {
    w.byte(NULL_TAG);
  } else if (typeof v === "boolean") {
    w.byte(BOOL_TAG);
    w.byte(v ? 1 : 0);
  } else if (typeof v === "number") {
    w.ensure(9);
    w.buf[w.len++] = NUMBER_TAG;
    // -0 and 0 are equal in SQL: encode them alike; NaN canonical (a negative NaN would start 0x00 0x00).
    f64[0] = v === 0 ? 0 : v === v ? v : NaN;
    const negative = (f64bytes[LITTLE_ENDIAN ? 7 : 0]! & 0x80) !== 0;
    for (let i = 0; i < 8; i++) {
      const b = f64bytes[LITTLE_ENDIAN ? 7 - i : i]!;
      w.buf[w.len++] = negative ? ~b & 0xff : i === 0 ? b | 0x80 : b;
    }
  } else if (typeof v === "bigint" && v <= BELOW_SAFE) {
    const hex = (-v).toString(16);
    const mag = Buffer.from(hex.length % 2 === 1 ? "0" + hex : hex, "hex");
    w.ensure(4 + mag.length);
    w.buf[w.len++] = NUMBER_TAG;
    w.buf[w.len++] = 0x00;
    w.buf[w.len++] = 0x00;
    w.buf[w.len++] = 0xff - mag.length;
    for (const b of mag) w.buf[w.len++] = ~b & 0xff;
  } else if (typeof v === "bigint") {
    w.byte(DECIMAL_TAG);
    const negative = v < 0n;
    let hex = (negative ? -v : v).toString(16);
    if (hex.length % 2 === 1) hex = "0" + hex;
    const mag = Buffer.from(hex, "hex");
    // Longer magnitudes are larger; a negative value's bytes are flipped so larger magnitudes sort first.
    w.byte(negative ? 0x00 : v === 0n ? 0x01 : 0x02);
    w.byte(negative ? 0xff - mag.length : mag.length);
    w.ensure(mag.length);
    for (const b of mag) w.buf[w.len++] = negative ? ~b & 0xff : b;
  } else if (typeof v === "string") {
    w.byte(BYTES_TAG);
    w.byte(STRING_MARK);
    w.escapedString(v);
  } else if (v instanceof Uint8Array) {
    w.byte(BYTES_TAG);
    w.byte(BINARY_MARK);
    w.escaped(v);
  } else {
    w.byte(OTHER_TAG);
    w.escaped(serialize(v));
  }
}

/** Encodes a key tuple (the key columns' values in order). */
export function encodeKey(values: readonly unknown[]): Buffer {
  const w = shared;
  w.len = 0;
  for (let i = 0; i < values.length; i++) writeValue(w, values[i]);
  return w.result();
}

/** Encodes `prefix` followed by more values (e.g. a group key and a window start) without copying twice. */
export function encodeKeyWith(values: readonly unknown[], ...more: unknown[]): Buffer {
  const w = shared;
  w.len = 0;
  for (let i = 0; i < values.length; i++) writeValue(w, values[i]);
  for (let i = 0; i < more.length; i++) writeValue(w, more[i]);
  return w.result();
}

/** Decodes what {@link encodeKey} wrote. */
export function decodeKey(buf: Uint8Array): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  const readEscaped = (): Buffer => {
    const bytes: number[] = [];
    for (;;) {
      const b = buf[i++]!;
      if (b === 0) {
        const next = buf[i++]!;
        if (next === 0) break;
        bytes.push(0); // 0x00 0xFF
      } else bytes.push(b);
    }
    return Buffer.from(bytes);
  };
  while (i < buf.length) {
    const tag = buf[i++]!;
    switch (tag) {
      case NULL_TAG:
        out.push(null);
        break;
      case BOOL_TAG:
        out.push(buf[i++] === 1);
        break;
      case NUMBER_TAG: {
        if (buf[i] === 0x00 && buf[i + 1] === 0x00) {
          // a bigint ≤ −2^53
          const len = 0xff - buf[i + 2]!;
          i += 3;
          let hex = "";
          for (let k = 0; k < len; k++) hex += (~buf[i + k]! & 0xff).toString(16).padStart(2, "0");
          i += len;
          out.push(-BigInt("0x" + hex));
          break;
        }
        const negative = (buf[i]! & 0x80) === 0;
        for (let k = 0; k < 8; k++) {
          const b = buf[i + k]!;
          scratch.setUint8(k, negative ? ~b & 0xff : k === 0 ? b & 0x7f : b);
        }
        i += 8;
        out.push(scratch.getFloat64(0));
        break;
      }
      case DECIMAL_TAG: {
        const sign = buf[i++]!;
        const negative = sign === 0x00;
        const len = negative ? 0xff - buf[i++]! : buf[i++]!;
        let hex = "";
        for (let k = 0; k < len; k++) {
          const b = negative ? ~buf[i + k]! & 0xff : buf[i + k]!;
          hex += b.toString(16).padStart(2, "0");
        }
        i += len;
        const mag = len === 0 ? 0n : BigInt("0x" + hex);
        out.push(negative ? -mag : mag);
        break;
      }
      case BYTES_TAG: {
        const mark = buf[i++]!;
        const bytes = readEscaped();
        out.push(mark === STRING_MARK ? bytes.toString("utf8") : bytes);
        break;
      }
      case OTHER_TAG:
        out.push(deserialize(readEscaped()));
        break;
      default:
        throw new Error(`corrupt key: unknown tag ${tag} at byte ${i - 1}`);
    }
  }
  return out;
}

/** The smallest key greater than every key that starts with `prefix` (exclusive upper bound of a prefix scan). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}
