/**
 * The analyzer's output: statements with names resolved, types checked, output schemas decided.
 * The logical planner consumes these; nothing here refers back to the AST except spans.
 */
import type { StartPosition } from "../plan/topology.ts";
import type { SqlType } from "../types/sqltype.ts";
import type { CatalogSource, WindowType } from "./catalog.ts";
import type { ScopeColumn } from "./expressions.ts";
import type { TExpr } from "./typed.ts";

/** A window as a query defines it (all durations in ms). */
export interface WindowSpec {
  readonly type: WindowType;
  readonly sizeMs?: number;
  readonly advanceMs?: number;
  readonly gapMs?: number;
  readonly graceMs?: number;
  readonly retentionMs?: number;
}

export interface AnalyzedSource {
  readonly kind: "Source";
  readonly alias: string;
  readonly source: CatalogSource;
}

export type JoinKind = "STREAM_STREAM" | "STREAM_TABLE" | "TABLE_TABLE" | "FOREIGN_KEY";

export interface AnalyzedJoin {
  readonly kind: "Join";
  readonly joinType: "INNER" | "LEFT" | "RIGHT" | "FULL";
  readonly joinKind: JoinKind;
  readonly left: AnalyzedFrom;
  readonly right: AnalyzedSource;
  /** The join expressions over the left and right rows (`Column` names are join-row names: `ALIAS_COL`). */
  readonly leftExpr: TExpr;
  readonly rightExpr: TExpr;
  readonly within?: {
    readonly beforeMs: number;
    readonly afterMs: number;
    readonly graceMs?: number;
  };
  /** The result's type: STREAM unless both sides are tables. */
  readonly resultType: "STREAM" | "TABLE";
  /** Whether the left/right rows must be re-keyed by the join expression first. */
  readonly repartitionLeft: boolean;
  readonly repartitionRight: boolean;
  /** Columns of the joined row (qualified names), key first. */
  readonly columns: readonly ScopeColumn[];
  /** The name of the joined row's key column. */
  readonly keyName: string;
}

export type AnalyzedFrom = AnalyzedSource | AnalyzedJoin;

export interface OutputColumn {
  readonly name: string;
  readonly type: SqlType;
  readonly namespace: "KEY" | "VALUE";
  /** Over the row the projection reads (after aggregation / re-keying / table functions). */
  readonly expr: TExpr;
}

export interface AggregateColumn {
  /** `KSQL_AGG_VARIABLE_<n>` */
  readonly name: string;
  readonly call: Extract<TExpr, { kind: "AggregateCall" }>;
}

export interface AnalyzedAggregation {
  /** Over the input row (after WHERE). */
  readonly groupBy: readonly TExpr[];
  /** The key column name each group expression gets. */
  readonly keyNames: readonly string[];
  readonly aggregates: readonly AggregateColumn[];
  readonly window?: WindowSpec;
  /** Over the aggregate row (keys + aggregates + window bounds). */
  readonly having?: TExpr;
  /** True when the input is a table (aggregation must retract). */
  readonly fromTable: boolean;
}

export interface AnalyzedQuery {
  readonly from: AnalyzedFrom;
  /** `FOR SYSTEM_TIME AS OF`: the time a pull query reads its table at (a constant expression). */
  readonly asOf?: TExpr;
  /** Columns of the row FROM produces. */
  readonly inputColumns: readonly ScopeColumn[];
  readonly resultType: "STREAM" | "TABLE";
  readonly where?: TExpr;
  /** PARTITION BY (over the input row); empty `exprs` means PARTITION BY NULL (no key). */
  readonly partitionBy?: {
    readonly exprs: readonly TExpr[];
    readonly keyNames: readonly string[];
  };
  readonly aggregation?: AnalyzedAggregation;
  /** EXPLODE & co: each produces the column `name` over the input row. */
  readonly tableFunctions: readonly {
    readonly name: string;
    readonly call: Extract<TExpr, { kind: "TableFunctionCall" }>;
  }[];
  /** Output columns, keys first in key order, then values in SELECT order. */
  readonly projection: readonly OutputColumn[];
  /** Window of the output (windowed aggregation or windowed source). */
  readonly window?: WindowSpec;
  readonly emit?: "CHANGES" | "FINAL";
  readonly limit?: number;
  /** A SELECT without EMIT on a table: a pull query. */
  readonly pull: boolean;
  /** Names of the catalog sources read. */
  readonly sources: readonly string[];
  /** A persistent query's `START_FROM` (absent: the session's `auto.offset.reset`). */
  readonly start?: StartPosition;
}
