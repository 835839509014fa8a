/**
 * The value codec of internal (re-keying) topics: a row, the row it replaces (table input), its window and
 * whether it is a retraction for a key that moved. Written once per record by a stage and read once by the
 * next, so it is on the hot path of every repartitioned query (a table regrouped by another column writes
 * two records per update).
 *
 * Layout (format 1): the tag byte `INTERNAL_TAG`, a flags byte, the window (two float64 LE) when present,
 * then each present row as a varint count and its values. A value is a type byte and its bytes: numbers as
 * float64 LE (exact for every double, -0 and NaN included), strings as a varint length and UTF-8, booleans,
 * NULL and undefined in the type byte alone; anything else (bigint DECIMALs and BIGINTs beyond 2^53, MAP,
 * STRUCT, ARRAY, BYTES) as its own `v8.serialize` body behind a varint length, so it keeps the exact form
 * the runtime uses. Records written before this codec are a whole `v8.serialize` of the value object, which
 * starts with V8's version byte 0xFF: `decodeInternal` still reads them (a topic written by an older
 * release, replayed after an upgrade).
 */
import { deserialize, serialize } from "node:v8";

/** What travels in an internal topic's value. */
export interface InternalValue {
  /** Row values (null for a pure retraction). */
  readonly v: unknown[] | null;
  /** The row this one replaces for its key, when the input is a table (null = none). */
  readonly o?: unknown[] | null;
  readonly w?: { start: number; end: number } | undefined;
  /** A retraction sent because the row's new key lives elsewhere (the row was not deleted). */
  readonly m?: boolean;
}

const INTERNAL_TAG = 0x01; // never V8's version byte 0xFF
const HAS_V = 1;
const HAS_O = 2; // `o` present (null or a row)
const O_ROW = 4; // `o` is a row
const HAS_W = 8;
const MOVED = 16;

const T_NULL = 0;
const T_UNDEFINED = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_NUMBER = 4;
const T_STRING = 5;
const T_V8 = 6;

let scratch = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function reserve(n: number): void {
  if (pos + n <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + n));
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
}

function writeVarint(n: number): void {
  reserve(5);
  while (n > 0x7f) {
    scratch[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  scratch[pos++] = n;
}

function writeRow(row: readonly unknown[]): void {
  writeVarint(row.length);
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    switch (typeof x) {
      case "number":
        reserve(9);
        scratch[pos] = T_NUMBER;
        scratch.writeDoubleLE(x, pos + 1);
        pos += 9;
        break;
      case "string": {
        reserve(1);
        scratch[pos++] = T_STRING;
        if (x.length < 128) {
          // At most 3 bytes per UTF-16 unit; one length byte while the byte length stays below 128.
          reserve(1 + 3 * x.length);
          const n = scratch.write(x, pos + 1, "utf8");
          if (n < 128) {
            scratch[pos] = n;
            pos += 1 + n;
            break;
          }
        }
        const n = Buffer.byteLength(x, "utf8");
        writeVarint(n);
        reserve(n);
        pos += scratch.write(x, pos, n, "utf8");
        break;
      }
      case "boolean":
        reserve(1);
        scratch[pos++] = x ? T_TRUE : T_FALSE;
        break;
      case "undefined":
        reserve(1);
        scratch[pos++] = T_UNDEFINED;
        break;
      default:
        if (x === null) {
          reserve(1);
          scratch[pos++] = T_NULL;
        } else {
          const body = serialize(x);
          reserve(1);
          scratch[pos++] = T_V8;
          writeVarint(body.length);
          reserve(body.length);
          body.copy(scratch, pos);
          pos += body.length;
        }
    }
  }
}

export function encodeInternal(value: InternalValue): Buffer {
  pos = 0;
  reserve(18);
  let flags = 0;
  if (value.v !== null) flags |= HAS_V;
  if (value.o !== undefined) flags |= value.o === null ? HAS_O : HAS_O | O_ROW;
  if (value.w !== undefined) flags |= HAS_W;
  if (value.m) flags |= MOVED;
  scratch[pos++] = INTERNAL_TAG;
  scratch[pos++] = flags;
  if (value.w !== undefined) {
    scratch.writeDoubleLE(value.w.start, pos);
    scratch.writeDoubleLE(value.w.end, pos + 8);
    pos += 16;
  }
  if (value.v !== null) writeRow(value.v);
  if (value.o) writeRow(value.o);
  const out = Buffer.allocUnsafe(pos);
  scratch.copy(out, 0, 0, pos);
  return out;
}

/** A reader over one record's bytes. */
class Reader {
  at: number;
  constructor(
    readonly b: Buffer,
    at: number,
  ) {
    this.at = at;
  }

  varint(): number {
    let n = 0;
    let shift = 0;
    for (;;) {
      if (this.at >= this.b.length) throw new Error("corrupt internal record: truncated");
      const byte = this.b[this.at++]!;
      n += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return n;
      shift += 7;
    }
  }

  bytes(n: number): number {
    const start = this.at;
    if (start + n > this.b.length) throw new Error("corrupt internal record: truncated");
    this.at += n;
    return start;
  }

  row(): unknown[] {
    const n = this.varint();
    if (n > this.b.length) throw new Error("corrupt internal record: row length");
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const t = this.b[this.bytes(1)];
      switch (t) {
        case T_NUMBER:
          out[i] = this.b.readDoubleLE(this.bytes(8));
          break;
        case T_STRING: {
          const len = this.varint();
          const at = this.bytes(len);
          out[i] = this.b.toString("utf8", at, at + len);
          break;
        }
        case T_NULL:
          out[i] = null;
          break;
        case T_UNDEFINED:
          out[i] = undefined;
          break;
        case T_FALSE:
          out[i] = false;
          break;
        case T_TRUE:
          out[i] = true;
          break;
        case T_V8: {
          const len = this.varint();
          const at = this.bytes(len);
          out[i] = deserialize(this.b.subarray(at, at + len));
          break;
        }
        default:
          throw new Error(`corrupt internal record: value type ${t}`);
      }
    }
    return out;
  }
}

/** Reads a record written by `encodeInternal`, or by the `v8.serialize` of earlier releases. */
export function decodeInternal(b: Buffer): InternalValue {
  if (b[0] !== INTERNAL_TAG) return deserialize(b) as InternalValue;
  const r = new Reader(b, 2);
  const flags = b[1]!;
  let w: { start: number; end: number } | undefined;
  if (flags & HAS_W) {
    const at = r.bytes(16);
    w = { start: b.readDoubleLE(at), end: b.readDoubleLE(at + 8) };
  }
  const v = flags & HAS_V ? r.row() : null;
  const o = flags & O_ROW ? r.row() : flags & HAS_O ? null : undefined;
  const out: { v: unknown[] | null; o?: unknown[] | null; w?: { start: number; end: number }; m?: true } = { v };
  if (o !== undefined) out.o = o;
  if (w) out.w = w;
  if (flags & MOVED) out.m = true;
  return out;
}
