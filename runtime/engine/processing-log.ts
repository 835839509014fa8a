/**
 * The processing log: every record a query could not decode or evaluate, and every record it dropped (late,
 * NULL key, ...), with its topic, partition, offset and reason. The engine collects the entries its queries
 * report, keeps the latest as samples in memory, and appends them to the processing log topic after each drain.
 *
 * It has ksqlDB's shape: the stream `KSQL_PROCESSING_LOG` with ksqlDB's columns (`LOGGER`, `LEVEL`, `TIME`, and
 * `MESSAGE`, a struct with the message `TYPE` and one struct per kind of error: `DESERIALIZATIONERROR`,
 * `RECORDPROCESSINGERROR`, `PRODUCTIONERROR`, `SERIALIZATIONERROR`, `KAFKASTREAMSTHREADERROR`), so queries and
 * tools written for ksqlDB's processing log run unchanged; then esql's own columns, which say where the record is
 * and why it was not folded: `QUERY_ID`, `TOPIC`, `PARTITION`, `OFFSET`, `OPERATION`, `REASON` and `MORE` (a
 * flood's summary entry stands for `MORE` records).
 *
 * Its topic is named as ksqlDB names it, `<service id>ksql_processing_log` (esql's service id is `esql_`).
 * Entries written by earlier releases (topic `esql_processing_log`, esql's flat columns) are converted into it
 * once, when an engine opens, and the old topic is deleted ({@link migrateProcessingLog}).
 */
import type { EventLog } from "../log/types.ts";
import { isErrorReason, type DropReason, type ProcessingError } from "../processors/types.ts";
import { describeDrops, summarizeDrops, type DropSummary } from "../query/drops.ts";
import type { PersistentQuery } from "../query/query.ts";

/** ksqlDB's default name for the topic: `<ksql.service.id>ksql_processing_log`. */
export const PROCESSING_LOG_TOPIC = "esql_ksql_processing_log";
/** Where releases before the ksqlDB schema wrote the processing log. */
const OLD_PROCESSING_LOG_TOPIC = "esql_processing_log";
export const PROCESSING_LOG_STREAM = "KSQL_PROCESSING_LOG";
/** How many processing errors and dropped records an engine keeps in memory as samples (the log has them all). */
export const PROCESSING_ERROR_SAMPLES = 100;

/** ksqlDB's `MESSAGE->TYPE` values. */
export const MESSAGE_TYPE = {
  deserializationError: 0,
  recordProcessingError: 1,
  productionError: 2,
  serializationError: 3,
  kafkaStreamsThreadError: 4,
} as const;

/** The statement that defines {@link PROCESSING_LOG_STREAM} over the topic (on every open, never recorded): ksqlDB's columns, then esql's. */
export const PROCESSING_LOG_DDL =
  `CREATE STREAM ${PROCESSING_LOG_STREAM} (` +
  "LOGGER STRING, LEVEL STRING, `TIME` BIGINT, MESSAGE STRUCT<" +
  "`TYPE` INTEGER, " +
  "DESERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORDB64 STRING, CAUSE ARRAY<STRING>, `topic` STRING>, " +
  "RECORDPROCESSINGERROR STRUCT<ERRORMESSAGE STRING, RECORD STRING, CAUSE ARRAY<STRING>>, " +
  "PRODUCTIONERROR STRUCT<ERRORMESSAGE STRING>, " +
  "SERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORD STRING, CAUSE ARRAY<STRING>, `topic` STRING>, " +
  "KAFKASTREAMSTHREADERROR STRUCT<ERRORMESSAGE STRING, THREADNAME STRING, CAUSE ARRAY<STRING>>>, " +
  "QUERY_ID STRING, TOPIC STRING, `PARTITION` INT, `OFFSET` BIGINT, OPERATION STRING, REASON STRING, MORE INT" +
  `) WITH (KAFKA_TOPIC = '${PROCESSING_LOG_TOPIC}', VALUE_FORMAT = 'JSON');`;

/** What an engine's queries reported since it opened, and what is still to be appended to the topic. */
export class ProcessingLog {
  /** The latest errors (drops for an error reason included), at most {@link PROCESSING_ERROR_SAMPLES}. */
  readonly errors: ProcessingError[] = [];
  /** How many records could not be decoded or evaluated (a flood summary counts for its records). */
  errorCount = 0;
  /** The first dropped records, at most {@link PROCESSING_ERROR_SAMPLES}. */
  readonly dropped: ProcessingError[] = [];
  private pending: ProcessingError[] = [];

  record(e: ProcessingError): void {
    if (e.reason === undefined || isErrorReason(e.reason)) {
      this.errorCount += e.more ?? 1;
      this.errors.push(e);
      if (this.errors.length > PROCESSING_ERROR_SAMPLES) this.errors.shift();
    }
    if (e.reason !== undefined && this.dropped.length < PROCESSING_ERROR_SAMPLES) this.dropped.push(e);
    this.pending.push(e);
  }

  /** Appends the entries recorded since the last flush to the processing log topic. */
  async flush(log: EventLog): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const now = Date.now();
    await log.append(
      PROCESSING_LOG_TOPIC,
      batch.map((e) => ({ key: null, value: Buffer.from(JSON.stringify(processingLogEntry(e, now))) })),
    );
  }
}

/**
 * The records a query dropped (late, NULL key, undecodable, ...), by reason and by operator, as counted by its
 * tasks on this instance. The counts live in the tasks' stores: they survive restarts.
 */
export function dropsOf(q: PersistentQuery | undefined): DropSummary {
  return summarizeDrops(q ? q.tasks.map((t) => t.metrics) : []);
}

/** Records read from a query's inputs (its stages that read streams or tables, not its internal topics). */
export function recordsInOf(q: PersistentQuery | undefined): number {
  let n = 0;
  for (const t of q?.tasks ?? []) if (t.stage.inputs.some((i) => i.kind === "source")) n += t.metrics.recordsIn;
  return n;
}

/** One line on what a query read and dropped: "12 records in, 1 dropped (1 late)". */
export function processingSummaryOf(q: PersistentQuery | undefined): string {
  const n = recordsInOf(q);
  const dropped = describeDrops(dropsOf(q));
  return `${n} record${n === 1 ? "" : "s"} in${dropped ? `, ${dropped}` : ", none dropped"}`;
}

/**
 * One entry as its JSON value. A record that could not be deserialized is a `DESERIALIZATIONERROR` (its
 * `TARGET` the key or the value), one the sink could not serialize a `SERIALIZATIONERROR`, anything else a
 * `RECORDPROCESSINGERROR`. `LEVEL` is `ERROR` for errors and `WARN` for records dropped as the query's semantics
 * want (late, NULL key or value). ksqlDB's `RECORDB64`/`RECORD` (the record itself) are NULL: `TOPIC`,
 * `PARTITION` and `OFFSET` say where it is.
 */
export function processingLogEntry(e: ProcessingError, time: number): Record<string, unknown> {
  const cause: string[] = [];
  const target = /\bkey\b/.test(e.where) ? "key" : "value";
  const message =
    e.reason === "undecodable" || e.reason === "out-of-range"
      ? {
          TYPE: MESSAGE_TYPE.deserializationError,
          DESERIALIZATIONERROR: {
            TARGET: target,
            ERRORMESSAGE: e.message,
            RECORDB64: null,
            CAUSE: cause,
            topic: e.topic,
          },
        }
      : e.where === "serialize"
        ? {
            TYPE: MESSAGE_TYPE.serializationError,
            SERIALIZATIONERROR: {
              TARGET: "value",
              ERRORMESSAGE: e.message,
              RECORD: null,
              CAUSE: cause,
              topic: e.topic,
            },
          }
        : {
            TYPE: MESSAGE_TYPE.recordProcessingError,
            RECORDPROCESSINGERROR: { ERRORMESSAGE: e.message, RECORD: null, CAUSE: cause },
          };
  return {
    LOGGER: `processing.${e.queryId}.${e.where}`,
    LEVEL: e.reason === undefined || isErrorReason(e.reason) ? "ERROR" : "WARN",
    TIME: time,
    MESSAGE: message,
    QUERY_ID: e.queryId,
    TOPIC: e.topic,
    PARTITION: e.partition,
    OFFSET: e.offset,
    OPERATION: e.where,
    ...(e.reason ? { REASON: e.reason } : {}),
    ...(e.more ? { MORE: e.more } : {}),
  };
}

/** A field of an old entry as text ("" when absent or not text). */
const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/**
 * Converts the entries of the processing log's old topic (esql's flat columns) into the current topic, then
 * deletes the old topic. Runs when an engine opens; a topic that is not there (a new data folder, or converted
 * already) costs one listing. The old entries keep their timestamps (`TIME`).
 */
export async function migrateProcessingLog(log: EventLog): Promise<number> {
  if (!(await log.listTopics()).includes(OLD_PROCESSING_LOG_TOPIC)) return 0;
  let moved = 0;
  const end = await log.endOffset(OLD_PROCESSING_LOG_TOPIC, 0);
  for (let at = await log.beginningOffset(OLD_PROCESSING_LOG_TOPIC, 0); at < end;) {
    const batch = await log.read(OLD_PROCESSING_LOG_TOPIC, 0, at, 1000);
    if (batch.length === 0) break;
    const converted = batch.flatMap((r) => {
      let old: Record<string, unknown>;
      try {
        old = r.value ? (JSON.parse(r.value.toString("utf8")) as Record<string, unknown>) : {};
      } catch {
        return [];
      }
      const entry = processingLogEntry(
        {
          queryId: text(old.QUERY_ID),
          topic: text(old.TOPIC),
          partition: Number(old.PARTITION ?? -1),
          offset: Number(old.OFFSET ?? -1),
          where: text(old.OPERATION),
          message: text(old.MESSAGE),
          ...(typeof old.REASON === "string" ? { reason: old.REASON as DropReason } : {}),
          ...(typeof old.MORE === "number" ? { more: old.MORE } : {}),
        },
        r.timestamp,
      );
      return [{ key: null, value: Buffer.from(JSON.stringify(entry)), timestamp: r.timestamp }];
    });
    if (converted.length > 0) await log.append(PROCESSING_LOG_TOPIC, converted);
    moved += converted.length;
    at = batch[batch.length - 1]!.offset + 1;
  }
  await log.deleteTopic(OLD_PROCESSING_LOG_TOPIC);
  return moved;
}
