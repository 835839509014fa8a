/**
 * Serdes for a catalog source's key and value, and the windowed key layout.
 *
 * Windowed keys use Kafka Streams' binary layouts, so windowed tables written by esql can be read by
 * Kafka Streams and ksqlDB and the other way round:
 * - time windows (TUMBLING, HOPPING): `<key bytes><window start: int64 BE>`; the end is start + size;
 * - session windows: `<key bytes><window end: int64 BE><window start: int64 BE>`.
 */
import type { CatalogColumn, FormatSpec, SourceWindow } from "../../src/plan/source.ts";
import { createSerde, type Serde, type SerdeColumn, type SerdeFormat } from "./index.ts";

export interface SourceSerdes {
  readonly keyColumns: readonly SerdeColumn[];
  /** Value columns (not key, not header), in declaration order. */
  readonly valueColumns: readonly SerdeColumn[];
  readonly key: Serde;
  readonly value: Serde;
}

export function serdeOptions(spec: FormatSpec, isKey: boolean) {
  const wrap = spec.properties.wrapSingleValue;
  return {
    isKey,
    ...(wrap === undefined ? {} : { wrapSingleValue: wrap === "true" }),
    ...(spec.properties.delimiter === undefined ? {} : { delimiter: spec.properties.delimiter }),
  };
}

export function sourceSerdes(
  s: {
    readonly columns: readonly CatalogColumn[];
    readonly keyFormat: FormatSpec;
    readonly valueFormat: FormatSpec;
  },
  /** Reading: the value columns to decode (the others come out NULL; see `SerdeOptions.decode`). Default: all. */
  decode?: readonly string[],
): SourceSerdes {
  const keyColumns = s.columns.filter((c) => c.namespace === "KEY").map(({ name, type }) => ({ name, type }));
  const valueColumns = s.columns.filter((c) => c.namespace === "VALUE").map(({ name, type }) => ({ name, type }));
  return {
    keyColumns,
    valueColumns,
    key: createSerde(s.keyFormat.format as SerdeFormat, keyColumns, serdeOptions(s.keyFormat, true)),
    value: createSerde(s.valueFormat.format as SerdeFormat, valueColumns, {
      ...serdeOptions(s.valueFormat, false),
      ...(decode ? { decode: valueColumns.map((c) => decode.includes(c.name)) } : {}),
    }),
  };
}

export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** Splits a windowed key into the inner key bytes and the window. Throws on a key too short to hold one. */
export function splitWindowedKey(bytes: Buffer, window: SourceWindow): { key: Buffer; window: WindowBounds } {
  if (window.type === "SESSION") {
    if (bytes.length < 16) throw new Error(`a session-windowed key needs 16 bytes of window, got ${bytes.length}`);
    const n = bytes.length - 16;
    const end = Number(bytes.readBigInt64BE(n));
    const start = Number(bytes.readBigInt64BE(n + 8));
    return { key: bytes.subarray(0, n), window: { start, end } };
  }
  if (bytes.length < 8) throw new Error(`a time-windowed key needs 8 bytes of window, got ${bytes.length}`);
  const n = bytes.length - 8;
  const start = Number(bytes.readBigInt64BE(n));
  return { key: bytes.subarray(0, n), window: { start, end: start + (window.sizeMs ?? 0) } };
}

/** The inverse of {@link splitWindowedKey}. */
export function joinWindowedKey(key: Buffer | null, window: WindowBounds, type: SourceWindow["type"]): Buffer {
  const n = key === null ? 0 : key.length;
  // One allocation: the key's bytes, then the bounds as 8-byte big-endian integers.
  const out = Buffer.allocUnsafe(n + (type === "SESSION" ? 16 : 8));
  if (key !== null) key.copy(out, 0);
  if (type === "SESSION") {
    writeInt64BE(out, window.end, n);
    writeInt64BE(out, window.start, n + 8);
  } else {
    writeInt64BE(out, window.start, n);
  }
  return out;
}

/** Writes an integer-valued number as a signed 64-bit big-endian integer, without a bigint when it fits. */
function writeInt64BE(buf: Buffer, v: number, offset: number): void {
  if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
    buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), offset);
    buf.writeUInt32BE(v >>> 0, offset + 4);
  } else buf.writeBigInt64BE(BigInt(v), offset);
}
