/**
 * The topology plan: what the runtime runs, as plain versioned JSON. The compiler builds it
 * (`src/physical/topology-build.ts`, from an analyzed query and the partition counts of its topics); the runtime instantiates
 * it (`runtime/query/topology.ts`) without SQL, the analyzer or the planner; the command topic records it;
 * EXPLAIN describes it (`format.ts`). No bigint, Map, function or class instance inside:
 * `JSON.parse(JSON.stringify(plan))` is the same plan and runs the same.
 *
 * A query is a list of stages (Kafka Streams' sub-topologies). A stage reads one input topic, or two for a
 * join, with one task per input partition; its rows go through processors, in order, and out to one
 * topic: the query's sink, or an internal repartition topic that a later stage reads. Rows are arrays of
 * values in the order of the column names each spec carries; expressions are typed expression trees
 * (`TExpr`) over those columns.
 */
import type { CatalogColumn, CatalogSource } from "./source.ts";
import type { TExpr } from "./expr.ts";
import type { SqlType } from "../types/sqltype.ts";
import { PROPERTIES, STREAMS_PREFIX } from "./properties.ts";

/**
 * The plan format's version. An engine runs plans of this version only; one that meets another stops with
 * an error naming the statement and the version (see `checkTopologyVersion`).
 */
export const TOPOLOGY_VERSION = 3;

/**
 * The session properties that change how a query runs, decided when it is planned and recorded with the plan
 * (so a restarted engine, or `esql run --plan`, runs it as it was deployed whatever the session says now).
 */
export interface ExecutionSettings {
  /**
   * `auto.offset.reset`: where a task with no committed position starts reading a source topic (internal
   * topics are always read from their start).
   */
  readonly offsetReset: "earliest" | "latest";
  /** `processing.guarantee`: each batch in a Kafka transaction (on a log that has them), or at-least-once. */
  readonly guarantee: "exactly_once" | "at_least_once";
  /**
   * `cache.max.bytes.buffering` not 0: like Kafka Streams' record cache (ksqlDB's default), several updates of
   * one key within a batch reach a table's sink as one record, the last; off, every update is emitted.
   */
  readonly recordCache: boolean;
}

/** `processing.guarantee` values that ask for exactly-once (Kafka Streams' and ksqlDB's names). */
const EXACTLY_ONCE = new Set(["exactly_once", "exactly_once_v2", "exactly_once_beta"]);

/**
 * The execution settings session `properties` ask for (with or without ksqlDB's `ksql.streams.` prefix);
 * `defaultReset` when `auto.offset.reset` is not set (persistent queries read from the earliest offset, push
 * queries from the latest).
 */
export function executionSettings(
  properties: Readonly<Record<string, string>>,
  defaultReset: "earliest" | "latest" = "earliest",
): ExecutionSettings {
  const get = (name: string) => (properties[name] ?? properties[`${STREAMS_PREFIX}${name}`])?.trim().toLowerCase();
  const reset = get(PROPERTIES.autoOffsetReset);
  const guarantee = get(PROPERTIES.processingGuarantee);
  const cache = get(PROPERTIES.cacheMaxBytesBuffering);
  return {
    offsetReset: reset === "latest" || reset === "earliest" ? reset : defaultReset,
    guarantee: guarantee !== undefined && EXACTLY_ONCE.has(guarantee) ? "exactly_once" : "at_least_once",
    recordCache: cache === undefined || Number(cache) > 0,
  };
}

/** Where a compiled plan is deployed: see {@link rebindTopology}. */
export interface PlanBinding {
  readonly queryId: string;
  readonly topicId: string;
  /** The object the query writes, as the deploying catalog defines it (a rebuilt version: `NAME__V<n>`). */
  readonly sink: CatalogSource;
  /** The sources the query reads, by name, as the deploying catalog defines them. */
  readonly source: (name: string) => CatalogSource | undefined;
}

/**
 * A plan compiled elsewhere (`esql compile`, against an empty catalog) bound to where it is deployed: the query
 * id the target's catalog gives the statement, the internal topics named after it, the object it writes (a
 * rebuilt version's name and topic) and the topics its sources have there (a source rebuilt before it has a new
 * topic). Everything the plan decided (stages, processors, expressions, repartitions, stores, settings) is kept
 * as it is: only these names change.
 */
export function rebindTopology(plan: TopologyPlan, to: PlanBinding): TopologyPlan {
  const prefix = `_esql-${plan.topicId}-`;
  const internal = (topic: string) =>
    topic.startsWith(prefix) ? `_esql-${to.topicId}-${topic.slice(prefix.length)}` : topic;
  const stages = plan.stages.map((st): StagePlan => ({
    ...st,
    inputs: st.inputs.map((input): StageInputPlan => {
      if (input.kind === "internal") return { ...input, topic: internal(input.topic) };
      const now = to.source(input.source.name);
      return now && now.topic !== input.topic
        ? { ...input, topic: now.topic, source: { ...input.source, topic: now.topic } }
        : input;
    }),
    output:
      st.output.kind === "Repartition"
        ? { ...st.output, topic: internal(st.output.topic) }
        : {
            ...st.output,
            sink: { ...st.output.sink, name: to.sink.name, topic: to.sink.topic, writtenBy: to.queryId },
          },
  }));
  return {
    ...plan,
    queryId: to.queryId,
    topicId: to.topicId,
    stages,
    internalTopics: plan.internalTopics.map((t) => ({ ...t, name: internal(t.name) })),
  };
}

/**
 * A plan of an earlier format this release still runs, in today's format: a version-2 plan (before the
 * execution settings were part of the plan) gets them from the session `properties` it was recorded with
 * (what the engine of that release read). Plans of other versions are returned as they are (and refused by
 * {@link topologyVersionError}).
 */
export function migrateTopology(
  plan: TopologyPlan | (Omit<TopologyPlan, "execution"> & { readonly execution?: undefined }),
  properties: Readonly<Record<string, string>>,
): TopologyPlan {
  if (plan.version === 2) return { ...plan, version: TOPOLOGY_VERSION, execution: executionSettings(properties) };
  return plan as TopologyPlan;
}

export interface TopologyPlan {
  readonly version: number;
  /** The query id (persistent: `CSAS_<SINK>_<n>`, `CTAS_<SINK>_<n>`, `INSERTQUERY_<n>`). */
  readonly queryId: string;
  /** The prefix of its internal topic names (the query id, or `<serviceId>-<queryId>` in a service). */
  readonly topicId: string;
  /** How it runs: the session properties that change execution, as they were when it was planned. */
  readonly execution: ExecutionSettings;
  readonly stages: readonly StagePlan[];
  /** Internal repartition topics, created before the query starts. */
  readonly internalTopics: readonly { readonly name: string; readonly partitions: number }[];
  /**
   * How the materialized table is read when its rows are not kept in the sink's `table` store: an
   * aggregation is read from its aggregate store, with HAVING and the projection applied on read.
   */
  readonly table?: TableReadPlan;
  /**
   * Where the query starts reading its source topics when its stores hold no offsets yet (a new query):
   * the user's `START_FROM`. Absent: the session's `auto.offset.reset` (earliest when unset). Internal
   * topics are always read from their beginning. A task commits the offsets it resolved at once, so a
   * restart continues from them and never seeks again.
   */
  readonly start?: StartPosition;
}

/**
 * A start position (`START_FROM`): the earliest or latest offsets, the first offsets whose record timestamps
 * are at or after `timestamp` (epoch ms; Kafka's ListOffsets by time), or explicit offsets per partition of
 * the one source topic (partitions not listed start at their earliest offset).
 */
export type StartPosition =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "timestamp"; readonly timestamp: number }
  | { readonly kind: "offsets"; readonly offsets: readonly { readonly partition: number; readonly offset: number }[] };

/** The text of a start position, as EXPLAIN and `esql plan` show it. */
export function formatStartPosition(s: StartPosition): string {
  switch (s.kind) {
    case "earliest":
    case "latest":
      return s.kind;
    case "timestamp":
      return `the first records at or after ${new Date(s.timestamp).toISOString()} (${s.timestamp})`;
    case "offsets":
      return `offsets ${s.offsets.map((o) => `${o.partition}=${o.offset}`).join(",")} (other partitions: earliest)`;
  }
}

export interface StagePlan {
  /** `"0"`, `"1"`, ... in topological order: names the stage's stores folder and changelog topic. */
  readonly id: string;
  /** Partition count of the stage's inputs: one task per partition. */
  readonly partitions: number;
  /** One input, or two for a join (left, right). */
  readonly inputs: readonly StageInputPlan[];
  readonly processors: readonly ProcessorSpec[];
  readonly output: OutputSpec;
}

export type StageInputPlan =
  | {
      readonly kind: "source";
      readonly topic: string;
      readonly source: CatalogSource;
      /**
       * Column pruning: the value columns the stage reads, when not all. The others are never decoded (NULL in
       * the row), so a malformed value in a column no expression reads does not fail the record.
       */
      readonly decode?: readonly string[];
    }
  | { readonly kind: "internal"; readonly topic: string };

export type ProcessorSpec = FilterSpec | ProjectSpec | TableFunctionSpec | JoinSpec | AggregateSpec;
export type OutputSpec = SinkSpec | RepartitionSpec;

export interface FilterSpec {
  readonly kind: "Filter";
  readonly columns: readonly string[];
  readonly predicate: TExpr;
  /**
   * Table semantics: a row that stops matching becomes a tombstone for its key (when it matched before);
   * `keyCount` is how many leading columns are the key.
   */
  readonly table?: { readonly keyCount: number };
  /**
   * In a join's stage: the filter applies to the rows of this input only (0 left, 1 right), before they are
   * joined; rows of the other input pass. A WHERE conjunct over one side's columns, pushed down.
   */
  readonly side?: 0 | 1;
}

export interface ProjectSpec {
  readonly kind: "Project";
  readonly columns: readonly string[];
  /** One expression per output column, in output order. */
  readonly exprs: readonly TExpr[];
}

export interface TableFunctionSpec {
  readonly kind: "TableFunction";
  readonly columns: readonly string[];
  /**
   * Each call as name + argument types + argument expressions (resolved from the registry). Output rows =
   * input columns + one column per call.
   */
  readonly calls: readonly {
    readonly name: string;
    readonly argTypes: readonly SqlType[];
    readonly args: readonly TExpr[];
  }[];
}

export type JoinKind = "STREAM_STREAM" | "STREAM_TABLE" | "TABLE_TABLE" | "FOREIGN_KEY";

export interface JoinSpec {
  readonly kind: "Join";
  readonly joinKind: JoinKind;
  readonly joinType: "INNER" | "LEFT" | "RIGHT" | "FULL";
  readonly leftColumns: readonly string[];
  readonly rightColumns: readonly string[];
  readonly leftExpr: TExpr;
  readonly rightExpr: TExpr;
  readonly within?: { readonly beforeMs: number; readonly afterMs: number; readonly graceMs?: number };
  /** The joined row's column names, in order. */
  readonly outputColumns: readonly string[];
  /** The joined row's key column (`ROWKEY` when synthetic). */
  readonly keyName: string;
  /** Number of key columns of the left table (TABLE_TABLE, FOREIGN_KEY: the left row's own key). */
  readonly leftKeyCount: number;
  readonly rightKeyCount: number;
}

export interface AggregateWindow {
  readonly type: "TUMBLING" | "HOPPING" | "SESSION";
  readonly sizeMs?: number;
  readonly advanceMs?: number;
  readonly gapMs?: number;
  readonly graceMs?: number;
  readonly retentionMs?: number;
}

export interface AggregateSpec {
  readonly kind: "Aggregate";
  readonly columns: readonly string[];
  readonly groupBy: readonly TExpr[];
  readonly aggregates: readonly {
    readonly name: string;
    readonly argTypes: readonly SqlType[];
    readonly args: readonly TExpr[];
  }[];
  readonly window?: AggregateWindow;
  /** Input is a table: rows carry `old` to retract. */
  readonly fromTable: boolean;
  readonly emitFinal: boolean;
  /** Downstream needs the previous result (`old`) of each emitted row (HAVING). */
  readonly needsOld: boolean;
  /**
   * Row TTL (unwindowed only): a group whose last update is `ttlMs` behind stream time is deleted and a
   * tombstone emitted; the store `aggttl` indexes groups by the time of their last update.
   */
  readonly ttlMs?: number;
}

export interface SinkSpec {
  readonly kind: "Sink";
  /** Input row column names (the projection's output: keys first). */
  readonly columns: readonly string[];
  readonly sink: CatalogSource;
  readonly partitions: number;
  /** Keep the latest row per key in the store `table` (CTAS). */
  readonly materialize: boolean;
  /**
   * A windowed table kept in the store `table` (EMIT FINAL): its windows, expired from the store on the
   * aggregation's schedule (the store `tabletime` indexes them by time).
   */
  readonly retainWindows?: AggregateWindow;
  /**
   * The key is computed (PARTITION BY) rather than the input record's: a record that had no key still gets
   * one (see `Row.nullKey`). Absent: the key passes through, and a record without key is written without.
   */
  readonly rekeyed?: true;
  /**
   * `HISTORY_RETENTION`: every version of every row (and tombstone) goes to the store `history` (key columns,
   * then the version's time), kept until a newer version is `retentionMs` behind stream time (`historyend`
   * indexes versions by the time a newer one replaced them), for pull queries `FOR SYSTEM_TIME AS OF`.
   */
  readonly history?: { readonly retentionMs: number };
}

export interface RepartitionSpec {
  readonly kind: "Repartition";
  readonly topic: string;
  readonly columns: readonly string[];
  /** The new key: rows are partitioned by these values. */
  readonly keyExprs: readonly TExpr[];
  readonly partitions: number;
  /** Table input: an update whose old and new rows have different keys becomes a retraction + an addition. */
  readonly fromTable: boolean;
}

/** How an aggregation's table is read from its aggregate store (pull queries, snapshots). */
export interface TableReadPlan {
  /** The aggregate whose store holds the groups (the last stage's). */
  readonly aggregate: AggregateSpec;
  /** Columns of the aggregate row: group keys, aggregates, window bounds. */
  readonly columns: readonly string[];
  /** HAVING over the aggregate row. */
  readonly having?: TExpr;
  /** The projection over the aggregate row, one expression per table column in projection order. */
  readonly projection: readonly TExpr[];
  /** Index in the projection of each key column of the table, in key order (-1: not projected). */
  readonly keyIndexes: readonly number[];
}

/**
 * Names of the stores processors keep in their task's store, one place for the processors that use them
 * and for EXPLAIN, which lists them.
 */
export const STORE = {
  /** A table source's latest row per key (`source1` for a join's right input). */
  source: "source",
  /** An aggregation's groups. */
  aggregate: "agg",
  /** The time index of an aggregation's windows (closing, EMIT FINAL, retention). */
  aggregateTime: "aggtime",
  /** The index of an aggregation's groups by the time of their last update (row TTL). */
  aggregateTtl: "aggttl",
  /** A table's versions, by key columns then time (`HISTORY_RETENTION`). */
  history: "history",
  /** The versions of `history` by the time a newer version replaced them (purging beyond the retention). */
  historyEnd: "historyend",
  /** The time of each key's latest version in `history`. */
  historyLast: "historylast",
  /** A join's two sides. */
  left: "left",
  right: "right",
  /** A foreign-key join's index of left rows by foreign key. */
  foreignKeyIndex: "fkindex",
  /** A stream-stream join's non-joined rows waiting for their window to close. */
  outer: "outer",
  /** The time index of a stream-stream join's buffers (retention). */
  joinTime: "jointime",
  /** A table's output rows, when it keeps them (non-aggregate and EMIT FINAL tables). */
  table: "table",
  /** The time index of a windowed `table` store (retention). */
  tableTime: "tabletime",
} as const;

/** The error a plan of another format version gives (what the engine shows for a recorded plan). */
export function topologyVersionError(plan: {
  readonly version?: unknown;
  readonly queryId?: unknown;
}): string | undefined {
  if (plan.version === TOPOLOGY_VERSION) return undefined;
  return (
    `the plan of query ${String(plan.queryId)} has format version ${String(plan.version)}, and this esql runs ` +
    `version ${TOPOLOGY_VERSION} only; run it with the esql release that recorded it, or redeploy the statement`
  );
}

/**
 * Names of the row a source's records decode into, in order: key columns, then value and header columns in
 * declaration order, then `ROWTIME`, `ROWPARTITION`, `ROWOFFSET`, and `WINDOWSTART`, `WINDOWEND` for a
 * windowed source. The layout every plan's column names refer to.
 */
export function sourceRowColumns(source: Pick<CatalogSource, "columns" | "window">): string[] {
  const cols = keysFirst(source.columns).map((c) => c.name);
  cols.push("ROWTIME", "ROWPARTITION", "ROWOFFSET");
  if (source.window) cols.push("WINDOWSTART", "WINDOWEND");
  return cols;
}

/** A source's columns with the key columns first, each group in declaration order. */
export function keysFirst(columns: readonly CatalogColumn[]): CatalogColumn[] {
  return [...columns.filter((c) => c.namespace === "KEY"), ...columns.filter((c) => c.namespace !== "KEY")];
}
