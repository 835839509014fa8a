/**
 * Records as test files and `esql run --input` files write them, and their way in and out of a topic.
 *
 * An input record is `{key, value, timestamp?, headers?}` as in ksqlDB's test cases: the key and value
 * are in the test representation of the reading source's formats (JSON: the document; DELIMITED: the
 * CSV text; KAFKA: the primitive), so the same record can be written to topics of any format.
 */
import type { Catalog } from "../../src/compile.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import type { Engine } from "../engine/engine.ts";
import type { EventLog, LogRecord, ProduceRecord } from "../log/types.ts";
import { joinWindowedKey, serdeOptions, sourceSerdes, splitWindowedKey } from "../serde/formats.ts";
import { fromTestValue, toTestValue, type SerdeFormat } from "../serde/index.ts";

export interface InputRecord {
  readonly key?: unknown;
  readonly value: unknown;
  /** Milliseconds since the epoch; absent: 0, as in ksqlDB's test files. */
  readonly timestamp?: number;
  /** Header values are base64 text (`null` for a header without a value). */
  readonly headers?: readonly { readonly KEY: string; readonly VALUE: string | null }[];
  /** For windowed sources: the window the key belongs to. */
  readonly window?: { readonly start: number; readonly end: number; readonly type?: string };
}

/** The source that reads a topic (the first one defined on it). */
export function sourceForTopic(catalog: Catalog, topic: string): CatalogSource | undefined {
  for (const s of catalog.sources.values()) if (s.topic === topic) return s;
  return undefined;
}

/** The bytes of an input record, encoded with the key and value formats of `source`. Throws a `SerdeError` on a bad value. */
export function encodeRecord(source: CatalogSource, r: InputRecord): ProduceRecord {
  const serdes = sourceSerdes(source);
  const keyFormat = source.keyFormat.format as SerdeFormat;
  let key = fromTestValue(keyFormat, serdes.keyColumns, serdeOptions(source.keyFormat, true), r.key ?? null);
  if (r.window && source.window) key = joinWindowedKey(key, r.window, source.window.type);
  const value = fromTestValue(
    source.valueFormat.format as SerdeFormat,
    serdes.valueColumns,
    serdeOptions(source.valueFormat, false),
    r.value,
  );
  return {
    key,
    value,
    timestamp: r.timestamp ?? 0,
    ...(r.headers
      ? {
          headers: r.headers.map((h) => ({
            key: h.KEY,
            value: h.VALUE === null ? null : Buffer.from(h.VALUE, "base64"),
          })),
        }
      : {}),
  };
}

/**
 * Appends records to a topic (creating it with one partition when no statement did), encoded for the
 * source that reads it, then runs every query until caught up.
 * Throws when no source reads the topic.
 */
export async function produceAndDrain(engine: Engine, topic: string, records: readonly InputRecord[]): Promise<void> {
  const source = sourceForTopic(engine.catalog, topic);
  if (!source) throw new Error(`no source reads the input topic ${topic}`);
  const batch = records.map((r) => encodeRecord(source, r));
  if (!(await engine.log.describeTopic(topic))) await engine.log.createTopic(topic, { partitions: 1 });
  for (let i = 0; i < batch.length; i += 5000) await engine.log.append(topic, batch.slice(i, i + 5000));
  await engine.drain();
}

/** Every record of a topic, partition by partition, in offset order. */
export async function readAll(log: EventLog, topic: string): Promise<LogRecord[]> {
  const d = await log.describeTopic(topic);
  if (!d) return [];
  const out: LogRecord[] = [];
  for (let p = 0; p < d.partitions; p++) {
    let offset = await log.beginningOffset(topic, p);
    for (;;) {
      const batch = await log.read(topic, p, offset, 1000);
      if (batch.length === 0) break;
      out.push(...batch);
      offset = batch[batch.length - 1]!.offset + 1;
    }
  }
  return out;
}

/** A record read back in the test representation. */
export interface ActualRecord {
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
  readonly partition: number;
  readonly window?: { start: number; end: number; type: string };
}

/** Decodes a record with the formats of `source` (without a source: the key and value as UTF-8 text). */
export function decodeRecord(source: CatalogSource | undefined, r: LogRecord): ActualRecord {
  if (!source)
    return {
      key: r.key?.toString("utf8") ?? null,
      value: r.value?.toString("utf8") ?? null,
      timestamp: r.timestamp,
      partition: r.partition,
    };
  const serdes = sourceSerdes(source);
  let keyBytes = r.key;
  let window: ActualRecord["window"];
  if (source.window && keyBytes) {
    const split = splitWindowedKey(keyBytes, source.window);
    keyBytes = split.key;
    window = { ...split.window, type: source.window.type.toLowerCase() === "session" ? "session" : "time" };
  }
  const key = toTestValue(
    source.keyFormat.format as SerdeFormat,
    serdes.keyColumns,
    serdeOptions(source.keyFormat, true),
    keyBytes,
  );
  const value = toTestValue(
    source.valueFormat.format as SerdeFormat,
    serdes.valueColumns,
    serdeOptions(source.valueFormat, false),
    r.value,
  );
  return { key, value, timestamp: r.timestamp, partition: r.partition, ...(window ? { window } : {}) };
}

/**
 * Reads one input line of `esql run --input` / a JSONL file referenced by a test: a JSON object with
 * `value` and optionally `key`, `timestamp` (ms or ISO-8601 text) and `headers`. Returns a message for a
 * malformed line instead of throwing.
 */
export function parseInputRecord(doc: unknown): InputRecord | string {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return `expected an object {"key", "value", "timestamp"}, found ${JSON.stringify(doc)}`;
  const o = doc as Record<string, unknown>;
  const unknownKeys = Object.keys(o).filter((k) => !["key", "value", "timestamp", "headers", "window"].includes(k));
  if (unknownKeys.length > 0)
    return `unknown field ${unknownKeys.map((k) => `"${k}"`).join(", ")} (a record has key, value, timestamp, headers)`;
  if (!("value" in o)) return `a record needs a "value" (null for a tombstone)`;
  let timestamp: number | undefined;
  if (o.timestamp !== undefined && o.timestamp !== null) {
    const t = parseTime(o.timestamp);
    if (t === undefined)
      return `"timestamp" must be milliseconds since the epoch or ISO-8601 text, found ${JSON.stringify(o.timestamp)}`;
    timestamp = t;
  }
  return {
    key: o.key ?? null,
    value: o.value,
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(Array.isArray(o.headers) ? { headers: o.headers as InputRecord["headers"] } : {}),
    ...(o.window ? { window: o.window as InputRecord["window"] } : {}),
  };
}

/** Milliseconds since the epoch from a number, a `Date` or ISO-8601 text (`2024-03-01T09:00:00Z`; no zone: UTC); `undefined` otherwise. */
export function parseTime(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "string" && /^\d{4}-\d\d-\d\d/.test(v)) {
    // A date-time without a zone is UTC here (Date.parse would read it as local time).
    const zoned = !v.includes("T") || /(Z|[+-]\d\d:?\d\d)$/i.test(v) ? v : `${v}Z`;
    const t = Date.parse(zoned);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
