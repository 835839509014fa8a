/**
 * Plans of bare SELECTs, as plain JSON like the topology plan: a pull query on a materialized table reads the
 * stores of the query that materializes it along an access path; any other SELECT (push queries, pull queries
 * on streams and on tables no query materializes) runs as a transient query, a topology plan whose last stage
 * hands its rows to the caller. The compiler builds them (`src/physical/select-build.ts`, through
 * `planSelect` in `src/compile.ts`); the engine runs them (`runtime/engine/pull.ts`, `push.ts`) without the
 * analyzer.
 */
import type { TExpr } from "./expr.ts";
import type { CatalogSource } from "./source.ts";
import type { TopologyPlan } from "./topology.ts";
import type { SqlType } from "../types/sqltype.ts";

/** A result column: its name and SQL type. */
export interface QueryColumn {
  readonly name: string;
  readonly type: SqlType;
  /** A key column of the result (pull queries on tables: key columns and a windowed table's window bounds). */
  readonly key?: boolean;
}

/** A bound of a key range: a constant expression, evaluated when the query runs. */
export interface KeyBound {
  readonly value: TExpr;
  readonly inclusive: boolean;
}

/** Bounds of a column: a lower and an upper bound, either or both. */
export interface Bounds {
  readonly lower?: KeyBound;
  readonly upper?: KeyBound;
}

/**
 * Bounds on the window bounds of a windowed table's rows (`WINDOWSTART`/`WINDOWEND` compared with constants in
 * the WHERE clause). A store orders a key's windows by their start, so a lookup seeks only the windows in range:
 * `start` bounds the start directly; `end` bounds it through the window's size (TUMBLING, HOPPING: start = end −
 * size) or, for SESSION windows, only from above (start ≤ end).
 */
export interface WindowBounds {
  readonly start?: Bounds;
  readonly end?: Bounds;
}

/**
 * How a pull query reads a table's store. The WHERE clause is applied to every row read whatever the path:
 * a path only narrows what is read.
 * - `lookup`: every key column is pinned by `=`/`IN` constants. `columns` has one entry per key column, in key
 *   order, each with the value sets its conjuncts allow (intersected when run); every combination is one seek,
 *   which finds every window of a windowed key, or only those within `window` when the WHERE bounds them.
 * - `range`: the table's only key column is bounded (`<`, `<=`, `>`, `>=`, `BETWEEN`).
 * - `scan`: anything else.
 * Constants are expressions without columns, evaluated once when the query runs; one that is NULL or fails
 * leaves the rows to the WHERE clause (a lookup falls back to a scan, a range or a window drops that bound).
 */
export type AccessPath =
  | { readonly kind: "scan" }
  | {
      readonly kind: "lookup";
      readonly columns: readonly (readonly (readonly TExpr[])[])[];
      readonly window?: WindowBounds;
    }
  | { readonly kind: "range"; readonly lower?: KeyBound; readonly upper?: KeyBound };

/** A pull query on a table a persistent query materializes: read from that query's last stage's stores. */
export interface TableReadSelect {
  readonly kind: "TableRead";
  /** The table read (its key columns make the store keys). */
  readonly table: CatalogSource;
  /** The persistent query whose stores hold it. */
  readonly queryId: string;
  /** Names of the row each stored entry is read as (`sourceRowColumns(table)`): what the expressions refer to. */
  readonly columns: readonly string[];
  readonly access: AccessPath;
  readonly where?: TExpr;
  /** `FOR SYSTEM_TIME AS OF`: read the table's versions (store `history`) as of this time (constant). */
  readonly asOf?: TExpr;
  /** One expression per result column. */
  readonly projection: readonly TExpr[];
  readonly resultColumns: readonly QueryColumn[];
  readonly limit?: number;
}

/** A SELECT run as a transient query: the topology's last stage hands its rows to the caller. */
export interface TransientSelect {
  readonly kind: "Transient";
  /** A pull query (run once up to the inputs' current end) rather than a push query (EMIT CHANGES). */
  readonly pull: boolean;
  readonly topology: TopologyPlan;
  readonly resultColumns: readonly QueryColumn[];
  /** Per result column: whether a tombstone (a deleted key) keeps its value (key columns and window bounds). */
  readonly keeps: readonly boolean[];
  readonly limit?: number;
  /**
   * A pull query on a table no query materializes: the first `foldKeys` columns of each row are the table's
   * key; the rows are folded to the latest per key (a tombstone deletes it), in key order, and the key columns
   * dropped. LIMIT counts keys.
   */
  readonly foldKeys?: number;
}

export type SelectPlan = TableReadSelect | TransientSelect;
