/**
 * The processing log: every record a query could not decode or evaluate, and every record it dropped (late,
 * NULL key, ...), with its topic, partition, offset and reason. The engine collects the entries its queries
 * report, keeps the latest as samples in memory, and appends them to the topic `esql_processing_log` after each
 * drain; the stream `KSQL_PROCESSING_LOG` (ksqlDB's name) reads that topic like any other events.
 */
import type { EventLog } from "../log/types.ts";
import { isErrorReason, type ProcessingError } from "../processors/types.ts";
import { describeDrops, summarizeDrops, type DropSummary } from "../query/drops.ts";
import type { PersistentQuery } from "../query/query.ts";

export const PROCESSING_LOG_TOPIC = "esql_processing_log";
export const PROCESSING_LOG_STREAM = "KSQL_PROCESSING_LOG";
/** How many processing errors and dropped records an engine keeps in memory as samples (the log has them all). */
export const PROCESSING_ERROR_SAMPLES = 100;

/** The statement that defines {@link PROCESSING_LOG_STREAM} over the topic (on every open, never recorded). */
export const PROCESSING_LOG_DDL =
  `CREATE STREAM ${PROCESSING_LOG_STREAM} (QUERY_ID STRING, TOPIC STRING, \`PARTITION\` INT, \`OFFSET\` BIGINT, OPERATION STRING, MESSAGE STRING, REASON STRING, MORE INT) ` +
  `WITH (KAFKA_TOPIC = '${PROCESSING_LOG_TOPIC}', VALUE_FORMAT = 'JSON');`;

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
    await log.append(
      PROCESSING_LOG_TOPIC,
      batch.map((e) => ({
        key: null,
        value: Buffer.from(
          JSON.stringify({
            QUERY_ID: e.queryId,
            TOPIC: e.topic,
            PARTITION: e.partition,
            OFFSET: e.offset,
            OPERATION: e.where,
            MESSAGE: e.message,
            ...(e.reason ? { REASON: e.reason } : {}),
            ...(e.more ? { MORE: e.more } : {}),
          }),
        ),
      })),
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
