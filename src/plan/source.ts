/**
 * Sources as plans carry them: a stream's or table's columns, topic, formats, event-time column and window.
 * Part of the plan IR (plain JSON): the compiler's catalog holds these, and the runtime decodes and encodes
 * records with them.
 */
import type { SqlType } from "../types/sqltype.ts";

export type Namespace = "KEY" | "VALUE" | "HEADER";

export interface CatalogColumn {
  readonly name: string;
  readonly type: SqlType;
  readonly namespace: Namespace;
  /** For `HEADER('k')` columns: the header key. Absent for `HEADERS` (all headers) and non-header columns. */
  readonly headerKey?: string;
}

export type FormatName = "KAFKA" | "JSON" | "DELIMITED" | "NONE" | "AVRO" | "PROTOBUF" | "JSON_SR" | "PROTOBUF_NOSR";

export interface FormatSpec {
  readonly format: FormatName;
  /** Format properties, e.g. `{delimiter: ","}`, `{wrapSingleValue: "false"}`. Values are strings. */
  readonly properties: Readonly<Record<string, string>>;
}

export type WindowType = "TUMBLING" | "HOPPING" | "SESSION";

export interface SourceWindow {
  readonly type: WindowType;
  /** Window size in ms (TUMBLING/HOPPING). */
  readonly sizeMs?: number;
}

export interface TimestampSpec {
  readonly column: string;
  readonly format?: string;
}

export interface CatalogSource {
  readonly name: string;
  readonly sourceType: "STREAM" | "TABLE";
  /** All columns in declaration order: key, value and header columns. */
  readonly columns: readonly CatalogColumn[];
  readonly topic: string;
  readonly keyFormat: FormatSpec;
  readonly valueFormat: FormatSpec;
  readonly timestamp?: TimestampSpec;
  readonly window?: SourceWindow;
  readonly partitions?: number;
  /** `RETENTION_MS`: the retention of the topic when the statement creates it. */
  readonly retentionMs?: number;
  /** `CREATE SOURCE ...`: read-only. */
  readonly isSource: boolean;
  /**
   * `WITH (TTL = '30 DAYS')` on a CTAS: a row not updated for this long in event time (the stream time of
   * the task that folds it) is deleted, with a tombstone in the table's topic.
   */
  readonly ttlMs?: number;
  /**
   * `WITH (HISTORY_RETENTION = '7 DAYS')` on a CTAS: every version of every row is kept this long behind
   * stream time (the store `history`), and pull queries read the table `FOR SYSTEM_TIME AS OF` a time.
   */
  readonly historyMs?: number;
  /** The id of the persistent query that writes it (CSAS/CTAS), if any. */
  readonly writtenBy?: string;
  /** The statement text that created it. */
  readonly sql: string;
}
