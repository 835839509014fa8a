/**
 * The processor model. A query runs as stages (sub-topologies): each stage reads one input topic (or two
 * for joins), pushes batches of {@link Row}s through a chain of processors, and writes what comes out to a
 * topic (an internal repartition topic or the query's sink). One {@link Processor} per physical operator,
 * with a narrow lifecycle: `init` once per task, `process` per batch, `close` at the end.
 *
 * Rows are arrays of column values in the order of the edge's schema (names known at plan time), never
 * objects keyed by name. Expressions are compiled against those names once, in `init`.
 */
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { ExecutionSettings } from "../../src/plan/topology.ts";
import type { PartitionStore } from "../state/store.ts";

export interface Window {
  /** Inclusive, ms. */
  readonly start: number;
  /** Exclusive for time windows; for session windows the last event's time (inclusive). */
  readonly end: number;
}

export interface Row {
  /** Column values in the order of the edge's schema. */
  values: unknown[];
  /** Event time (ms since the epoch): what the next stage's stream time and windows use. */
  ts: number;
  /** Where the record that produced this row came from (pseudo columns, processing log, dedup). */
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Set on rows of a windowed table. */
  window?: Window;
  /**
   * Table semantics. `tombstone`: the key (key columns of `values`) was deleted. `old`: the row's previous
   * values for this key when known (`null`: there was none), so aggregations over a table can retract it.
   */
  tombstone?: boolean;
  old?: unknown[] | null;
  /**
   * The record had no key (null key bytes) and the row still carries it (no re-keying since): its key
   * columns read NULL, and a sink writes the record without a key, as ksqlDB passes a null key through.
   */
  nullKey?: true;
  headers?: readonly { readonly key: string; readonly value: Buffer | null }[];
  /** Which input of a two-input stage (join) the row came from: 0 left, 1 right. */
  side?: 0 | 1;
  /** A retraction caused by the row's key moving to another partition (not a deletion). */
  movedAway?: boolean;
  /**
   * For a row read from an internal (re-keying) topic: the partition and offset of the record it came from
   * in the previous stage's input, so a drop can name it.
   */
  origin?: { readonly partition: number; readonly offset: number };
}

/**
 * Why a query did not fold a record. A small fixed set, so counters stay few and dashboards stable:
 * - `late`: its window had closed (stream time beyond the window end plus grace), or a join's window did;
 * - `null-key`: a key is needed and it is NULL (a table record without key, a GROUP BY or join key that is NULL);
 * - `null-value`: a stream record without value reached an operator that folds values (aggregation);
 * - `undecodable`: its key or value could not be deserialized;
 * - `out-of-range`: a value does not fit its column type (e.g. a BIGINT beyond 64 bits);
 * - `error`: an evaluation failed in a way that drops the row (table function, timestamp, serialization).
 */
export type DropReason = "late" | "null-key" | "null-value" | "undecodable" | "out-of-range" | "error";

export const DROP_REASONS: readonly DropReason[] = [
  "late",
  "null-key",
  "null-value",
  "undecodable",
  "out-of-range",
  "error",
];

/** Reasons that are failures (counted as processing errors too); the others are the query's semantics. */
export function isErrorReason(reason: DropReason): boolean {
  return reason === "undecodable" || reason === "out-of-range" || reason === "error";
}

/**
 * An entry of the processing log: a record that could not be decoded or evaluated, or that a query dropped
 * (`reason` set). The query goes on.
 */
export interface ProcessingError {
  readonly queryId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly message: string;
  /** The operation that failed, e.g. `deserialize value`, `CAST`, `SUBSTRING`, or the operator that dropped. */
  readonly where: string;
  /** Set when the record was dropped (not folded); absent for an error the row survived (a NULL value). */
  readonly reason?: DropReason;
  /**
   * For a summary entry of a flood: how many further records of the same batch, operator and reason were
   * dropped without an entry of their own (`offset` is the first of them).
   */
  readonly more?: number;
}

/** Where a record came from (a {@link Row} is one). */
export interface RecordRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface ProcessorContext {
  readonly queryId: string;
  /** The input partition this task owns. */
  readonly partition: number;
  readonly store: PartitionStore;
  readonly functions: FunctionRegistry;
  /** Reports an error for the row currently being processed (see {@link currentRow}). */
  readonly reportError: (error: unknown, where: string) => void;
  /**
   * Drops the row being processed ({@link currentRow}, or `at`): counted per operator and reason in
   * {@link TaskMetrics.dropped} (persisted with the task's offsets, so counts survive restarts), and written
   * to the processing log with topic, partition, offset and reason (the first few per batch, operator and
   * reason one by one, the rest as one summary entry). Error reasons also count in `errors`. The caller
   * then skips the row. `operator` names the processor family (`source`, `aggregate`, `join`, ...);
   * `operation` the step that failed when it is more precise (default: `operator`). `error` may be a
   * function giving the message: it is called only when the entry is written (a flood costs no text).
   */
  readonly drop: (
    operator: string,
    reason: DropReason,
    error: unknown,
    options?: { readonly operation?: string; readonly at?: RecordRef },
  ) => void;
  /** The row being processed, so expression errors can name the record. Set by processors. */
  currentRow: RecordRef | undefined;
  /** Per-task counters exposed as metrics and in DESCRIBE EXTENDED. */
  readonly metrics: TaskMetrics;
  /** The highest timestamp seen by this task (Kafka Streams' stream time), -1 before any record. */
  streamTime: number;
  /** How the query runs (its plan's execution settings: record cache, guarantee, offset reset). */
  readonly execution: ExecutionSettings;
}

export interface TaskMetrics {
  /** Input records (offsets) this task's commits consumed, since its store was created. */
  recordsIn: number;
  recordsOut: number;
  errors: number;
  /**
   * Records dropped (see {@link ProcessorContext.drop}), by `operator/reason`, since the task's store was
   * created (restored from the store when the task starts).
   */
  readonly dropped: Map<string, number>;
}

export interface Processor {
  /** Compiles expressions and opens what it needs. Called once per task before the first batch. */
  init(ctx: ProcessorContext): void;
  /**
   * Processes one batch and returns the rows for the next processor, in order. Stateful processors
   * prefetch the keys of the whole batch first (one `getMany`), then work synchronously.
   */
  process(rows: Row[]): Row[] | Promise<Row[]>;
  /** Rows to emit when stream time moves without new input for this processor (EMIT FINAL). */
  punctuate?(): Row[] | Promise<Row[]>;
}
