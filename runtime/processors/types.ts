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
  headers?: readonly { readonly key: string; readonly value: Buffer | null }[];
  /** Which input of a two-input stage (join) the row came from: 0 left, 1 right. */
  side?: 0 | 1;
  /** A retraction caused by the row's key moving to another partition (not a deletion). */
  movedAway?: boolean;
}

/** A record that could not be decoded or evaluated: written to the processing log; the query goes on. */
export interface ProcessingError {
  readonly queryId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly message: string;
  /** The operation that failed, e.g. `deserialize value`, `CAST`, `SUBSTRING`. */
  readonly where: string;
}

export interface ProcessorContext {
  readonly queryId: string;
  /** The input partition this task owns. */
  readonly partition: number;
  readonly store: PartitionStore;
  readonly functions: FunctionRegistry;
  /** Reports an error for the row currently being processed (see {@link currentRow}). */
  readonly reportError: (error: unknown, where: string) => void;
  /** The row being processed, so expression errors can name the record. Set by processors. */
  currentRow: { topic: string; partition: number; offset: number } | undefined;
  /** Per-task counters exposed as metrics and in DESCRIBE EXTENDED. */
  readonly metrics: TaskMetrics;
  /** The highest timestamp seen by this task (Kafka Streams' stream time), -1 before any record. */
  streamTime: number;
  /** Query properties (`auto.offset.reset`, `ksql.*` settings). */
  readonly properties: Readonly<Record<string, string>>;
}

export interface TaskMetrics {
  recordsIn: number;
  recordsOut: number;
  errors: number;
  /** Records dropped because their window had closed (later than the grace period). */
  lateDropped: number;
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
