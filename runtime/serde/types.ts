import type { SqlType } from "../../src/types/sqltype.ts";

/** The serialization formats ksqlDB defines without a schema registry. */
export type SerdeFormat = "KAFKA" | "JSON" | "DELIMITED" | "NONE";

/** A column as the serde sees it: its exact (already case-normalized) name and type. */
export interface SerdeColumn {
  readonly name: string;
  readonly type: SqlType;
}

export interface SerdeOptions {
  /** Whether this serde reads/writes record keys (true) or values (false). */
  readonly isKey: boolean;
  /**
   * JSON only: with exactly one column, `true` writes/reads `{"COL": v}` and `false` the bare `v`.
   * Default: `false` for keys (ksqlDB keys are never wrapped), `true` for values. Ignored with several
   * columns (always an object) and by the other formats (KAFKA is always bare, DELIMITED always CSV).
   */
  readonly wrapSingleValue?: boolean;
  /**
   * DELIMITED only: one character, or the names `TAB` / `SPACE` as ksqlDB accepts them; default `,`.
   */
  readonly delimiter?: string;
  /**
   * Reading: the columns to decode, by position (JSON objects and DELIMITED; the other formats hold one
   * column). The others are not read at all and come out NULL, so a malformed value in a column nobody reads
   * does not fail the record (column pruning). Default: every column.
   */
  readonly decode?: readonly boolean[];
}

/**
 * A compiled serializer/deserializer for one record part (key or value). A row is an array of
 * column values in column order, values as in the representation table of `src/types/sqltype.ts`.
 */
export interface Serde {
  /**
   * `null` row → `null` bytes (a tombstone for values). A non-null row whose only output is null may
   * also give `null` (unwrapped single values, KAFKA, NONE), as in ksqlDB.
   */
  serialize(row: readonly unknown[] | null): Buffer | null;
  /**
   * `null` bytes → `null` row. Throws `SerdeError` when the bytes do not fit the columns; the runtime
   * sends those to the processing log and goes on.
   */
  deserialize(bytes: Buffer | null): unknown[] | null;
}

/** A record part that cannot be decoded (or, rarely, encoded). `message` is for the processing log. */
export class SerdeError extends Error {
  /** JSON path of the offending value (`$`, `$.COL`, `$.COL[2].F`), when known. */
  path: string | undefined;
  constructor(message: string, path?: string) {
    super(message);
    this.name = "SerdeError";
    this.path = path;
  }
}

/**
 * A value that was read but does not fit its column's type (e.g. a BIGINT beyond 64 bits): the source
 * drops the record with the reason `out-of-range` instead of `undecodable`.
 */
export class OutOfRangeError extends SerdeError {
  constructor(message: string, path?: string) {
    super(message, path);
    this.name = "OutOfRangeError";
  }
}
