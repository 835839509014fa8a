/**
 * The physical plan: what the runtime executes, as plain versioned JSON (see README.md in this folder).
 * No bigint, Map, function or class instance inside: `JSON.parse(JSON.stringify(plan))` is the same plan.
 */
import type { SqlType } from "../types/sqltype.ts";
import type { FormatSpec, TimestampSpec } from "../semantic/catalog.ts";
import type { WindowSpec, JoinKind } from "../semantic/analyzed.ts";
import type { TExpr } from "../semantic/typed.ts";
import type { AccessPath } from "../plan/select.ts";

export const PHYSICAL_PLAN_VERSION = 1;

export interface PhysicalColumn {
  readonly name: string;
  readonly type: SqlType;
}

export interface ComputedColumn extends PhysicalColumn {
  readonly expr: TExpr;
}

/** A resolved aggregate call: the runtime finds the implementation with `registry.get(function).resolve(args of argTypes)`. */
export interface AggregateCallSpec {
  /** The output column (`KSQL_AGG_VARIABLE_<n>`). */
  readonly name: string;
  readonly function: string;
  readonly argTypes: readonly SqlType[];
  /** Argument expressions over the input row (literal initial arguments such as TOPK's k included). */
  readonly args: readonly TExpr[];
  readonly returnType: SqlType;
}

export interface TableFunctionSpec {
  readonly name: string;
  readonly function: string;
  readonly argTypes: readonly SqlType[];
  readonly args: readonly TExpr[];
  readonly returnType: SqlType;
}

interface StepBase {
  /** Unique within the plan, stable for a given query: `<Op>_<n>`. */
  readonly id: string;
  /** True when the step's output is a changelog (table semantics: updates and tombstones), false for a stream. */
  readonly table: boolean;
  /** The columns of the rows the step emits, in order; pseudo columns included. */
  readonly columns: readonly (PhysicalColumn & {
    readonly namespace: "KEY" | "VALUE" | "HEADER" | "PSEUDO";
  })[];
}

export type PhysicalStep =
  | (StepBase & {
      readonly op: "Source";
      readonly source: string;
      readonly sourceType: "STREAM" | "TABLE";
      readonly topic: string;
      readonly keyFormat: FormatSpec;
      readonly valueFormat: FormatSpec;
      /** The record key's columns, in order. */
      readonly keySchema: readonly PhysicalColumn[];
      /** The record value's columns, in order (what the value format decodes). */
      readonly valueSchema: readonly PhysicalColumn[];
      /** Header-backed columns: `key` set for `HEADER('k')` (last header with that key), absent for `HEADERS`. */
      readonly headers: readonly (PhysicalColumn & { readonly key?: string })[];
      readonly timestamp: TimestampSpec | null;
      /** The source is windowed (its keys carry window bounds). */
      readonly window: {
        readonly type: string;
        readonly sizeMs?: number;
      } | null;
      /** Prefix of every output column name (`L_` on a join side), or "". */
      readonly prefix: string;
      /** TABLE sources are materialized into this store (their current value per key). */
      readonly store: string | null;
    })
  | (StepBase & {
      readonly op: "Filter";
      readonly input: PhysicalStep;
      readonly predicate: TExpr;
    })
  | (StepBase & {
      readonly op: "Repartition";
      readonly input: PhysicalStep;
      /** The new key, evaluated over the input row. Empty: records get a null key. */
      readonly keys: readonly ComputedColumn[];
      /** Internal topic the re-keyed records go through (partitioned by the new key). */
      readonly topic: string;
    })
  | (StepBase & {
      readonly op: "Join";
      readonly joinType: "INNER" | "LEFT" | "RIGHT" | "FULL";
      readonly joinKind: JoinKind;
      readonly left: PhysicalStep;
      readonly right: PhysicalStep;
      readonly leftKey: TExpr;
      readonly rightKey: TExpr;
      /** The joined row's key column; `ROWKEY` is synthetic: the non-null join key of either side. */
      readonly keyName: string;
      /** Stream-stream joins: how far apart (ms) records of each side may be, and the grace period. */
      readonly window: {
        readonly beforeMs: number;
        readonly afterMs: number;
        readonly graceMs: number | null;
      } | null;
      readonly leftStore: string;
      readonly rightStore: string;
    })
  | (StepBase & {
      readonly op: "Aggregate";
      readonly input: PhysicalStep;
      readonly keys: readonly ComputedColumn[];
      readonly aggregates: readonly AggregateCallSpec[];
      readonly window: WindowSpec | null;
      /** CHANGES: emit every update; FINAL: emit a window's result once it closes (after grace). */
      readonly emit: "CHANGES" | "FINAL";
      /** The input is a table: an update retracts the previous row (Accumulator.retract) before adding. */
      readonly fromTable: boolean;
      readonly store: string;
    })
  | (StepBase & {
      readonly op: "TableFunction";
      readonly input: PhysicalStep;
      readonly functions: readonly TableFunctionSpec[];
    })
  | (StepBase & {
      readonly op: "Project";
      readonly input: PhysicalStep;
      readonly key: readonly ComputedColumn[];
      readonly value: readonly ComputedColumn[];
    })
  | (StepBase & {
      readonly op: "Limit";
      readonly input: PhysicalStep;
      readonly count: number;
    })
  | (StepBase & {
      readonly op: "Sink";
      readonly input: PhysicalStep;
      readonly sink: string;
      readonly sinkType: "STREAM" | "TABLE";
      readonly topic: string;
      readonly keyFormat: FormatSpec;
      readonly valueFormat: FormatSpec;
      readonly keySchema: readonly PhysicalColumn[];
      readonly valueSchema: readonly PhysicalColumn[];
      /** The record timestamp comes from this output column (else the input record's). */
      readonly timestamp: TimestampSpec | null;
      readonly window: WindowSpec | null;
    })
  | (StepBase & {
      /** A pull query's access to a materialized table: key lookups, a key range or a scan. */
      readonly op: "TableLookup";
      readonly source: string;
      readonly prefix: string;
      readonly access: AccessPath;
      readonly window: {
        readonly type: string;
        readonly sizeMs?: number;
      } | null;
    })
  | (StepBase & {
      /** A transient query's result rows, to the client. */
      readonly op: "Output";
      readonly input: PhysicalStep;
      readonly keySchema: readonly PhysicalColumn[];
      readonly valueSchema: readonly PhysicalColumn[];
    });

export interface PhysicalPlan {
  readonly version: typeof PHYSICAL_PLAN_VERSION;
  readonly queryId: string;
  /** PERSISTENT: CSAS/CTAS/INSERT INTO (writes a sink); PUSH: SELECT ... EMIT; PULL: SELECT on a table's current state. */
  readonly kind: "PERSISTENT" | "PUSH" | "PULL";
  /** Topics the query reads. */
  readonly sourceTopics: readonly string[];
  /** The topic it writes (PERSISTENT only). */
  readonly sinkTopic: string | null;
  /** Internal (repartition) topics, in step order. */
  readonly internalTopics: readonly string[];
  /** State stores, in step order. */
  readonly stores: readonly string[];
  readonly root: PhysicalStep;
}
