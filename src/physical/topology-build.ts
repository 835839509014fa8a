/**
 * Builds the topology plan of a persistent or push query (`topology.ts`): its stages (sub-topologies) and
 * every decision about them, from the analyzed query and the partition counts of the topics it reads.
 *
 * - FROM a source: the first stage reads the source topic.
 * - FROM a join: each join is a two-input stage over co-partitioned inputs. An input whose join expression
 *   is not its key (a stream joined on another column, the left table of a foreign-key join, the result of
 *   an inner join in an n-way join) is first re-keyed into an internal repartition topic.
 * - Then [WHERE] → [table functions] → projection → sink. PARTITION BY needs no internal topic: the
 *   projection computes the new key and the sink partitions by it.
 * - An aggregation whose GROUP BY is the input stream's key folds in the same stage; any other aggregation
 *   re-keys through an internal topic so each group is folded by exactly one task.
 *
 * The runtime never calls this: it runs the plan this returns (recorded in the command topic).
 */
import type { AnalyzedFrom, AnalyzedJoin, AnalyzedQuery } from "../semantic/analyzed.ts";
import type { CatalogSource } from "../semantic/catalog.ts";
import { columnsOf, type TExpr } from "../plan/expr.ts";
import {
  sourceRowColumns,
  TOPOLOGY_VERSION,
  type AggregateSpec,
  type ExecutionSettings,
  type FilterSpec,
  type JoinSpec,
  type OutputSpec,
  type ProcessorSpec,
  type StageInputPlan,
  type StagePlan,
  type TopologyPlan,
} from "../plan/topology.ts";

export class UnsupportedQueryError extends Error {
  override readonly name = "UnsupportedQueryError";
}

/** What the planning of FROM leaves for the last stage: its inputs and the processors producing `columns`. */
interface RowsPlan {
  readonly inputs: readonly StageInputPlan[];
  readonly processors: readonly ProcessorSpec[];
  /** Names of the produced rows' columns, in order. */
  readonly columns: readonly string[];
  readonly isTable: boolean;
  readonly partitions: number;
}

class Planner {
  readonly stages: StagePlan[] = [];
  readonly topics: { name: string; partitions: number }[] = [];
  private internal = 0;

  constructor(
    private readonly queryId: string,
    private readonly partitionsOf: (topic: string) => number,
  ) {}

  /** Ends the current rows in an internal topic keyed by `keyExprs`; returns the input reading it. */
  repartition(
    rows: RowsPlan,
    keyExprs: readonly TExpr[],
    partitions: number,
    fromTable: boolean,
    what: string,
  ): StageInputPlan {
    const topic = `_esql-${this.queryId}-${what}-${this.internal++}-repartition`;
    this.topics.push({ name: topic, partitions });
    const columns = rows.columns;
    this.addStage(
      rows.inputs,
      rows.processors,
      { kind: "Repartition", topic, columns, keyExprs, partitions, fromTable },
      rows.partitions,
    );
    return { kind: "internal", topic };
  }

  addStage(
    inputs: readonly StageInputPlan[],
    processors: readonly ProcessorSpec[],
    output: OutputSpec,
    partitions: number,
  ): void {
    this.stages.push({ id: String(this.stages.length), partitions, inputs, processors, output });
  }

  from(f: AnalyzedFrom, inJoin: boolean): RowsPlan {
    if (f.kind === "Source") {
      const cols = sourceRowColumns(f.source);
      return {
        inputs: [{ kind: "source", topic: f.source.topic, source: f.source }],
        processors: [],
        columns: inJoin ? cols.map((c) => `${f.alias}_${c}`) : cols,
        isTable: f.source.sourceType === "TABLE",
        partitions: this.partitionsOf(f.source.topic),
      };
    }
    return this.join(f);
  }

  /**
   * WHERE conjuncts the outermost join may push below itself (set before planning FROM); what it did not
   * push is left in `remaining`.
   */
  pushable: TExpr[] | undefined;
  remaining: TExpr[] | undefined;

  private join(j: AnalyzedJoin): RowsPlan {
    const pushable = this.pushable;
    this.pushable = undefined;
    let left = this.from(j.left, true);
    let right = this.from(j.right, true);
    const fk = j.joinKind === "FOREIGN_KEY";
    const leftRekey = j.repartitionLeft || fk || j.left.kind === "Join";
    const rightRekey = j.repartitionRight;
    let partitions: number;
    if (!rightRekey) partitions = right.partitions;
    else if (!leftRekey) partitions = left.partitions;
    else partitions = Math.max(left.partitions, right.partitions);
    if (!leftRekey && !rightRekey && left.partitions !== right.partitions) {
      throw new UnsupportedQueryError(
        `Can't join ${sourceName(j.left)} with ${j.right.source.name} since the number of partitions don't match: ${left.partitions} and ${right.partitions}. Repartition one of them (PARTITION BY) first.`,
      );
    }
    // Predicate pushdown: a WHERE conjunct over one stream side's columns filters that side before the
    // join, and before its repartition when it has one, so fewer records are re-keyed and joined. Only
    // where it cannot change the result: either side of an INNER join, the outer side of a LEFT or RIGHT
    // join; never a table side (its filter would change what the table holds) or a FULL join.
    const sideFilters: ProcessorSpec[] = [];
    if (pushable) {
      const toLeft: TExpr[] = [];
      const toRight: TExpr[] = [];
      const keep: TExpr[] = [];
      const canLeft = !left.isTable && (j.joinType === "INNER" || j.joinType === "LEFT");
      const canRight = !right.isTable && (j.joinType === "INNER" || j.joinType === "RIGHT");
      const within = (c: TExpr, cols: readonly string[]) => {
        const used = [...columnsOf(c)];
        return used.length > 0 && used.every((u) => cols.includes(u));
      };
      for (const c of pushable) {
        if (canLeft && within(c, left.columns)) toLeft.push(c);
        else if (canRight && within(c, right.columns)) toRight.push(c);
        else keep.push(c);
      }
      this.remaining = keep;
      const push = (side: RowsPlan, preds: TExpr[], rekey: boolean, index: 0 | 1): RowsPlan => {
        if (preds.length === 0) return side;
        const filter: FilterSpec = { kind: "Filter", columns: side.columns, predicate: and(preds) };
        if (rekey) return { ...side, processors: [...side.processors, filter] };
        sideFilters.push({ ...filter, side: index });
        return side;
      };
      left = push(left, toLeft, leftRekey, 0);
      right = push(right, toRight, rightRekey, 1);
    }
    const leftInput = leftRekey
      ? this.repartition(left, [j.leftExpr], partitions, left.isTable, "join-left")
      : single(left);
    const rightInput = rightRekey
      ? this.repartition(right, [j.rightExpr], partitions, right.isTable, "join-right")
      : single(right);
    const outputColumns = unique(j.columns.map((c) => c.name));
    const leftKeyCount =
      j.left.kind === "Source" ? j.left.source.columns.filter((c) => c.namespace === "KEY").length : 1;
    const rightKeyCount = j.right.source.columns.filter((c) => c.namespace === "KEY").length;
    const spec: JoinSpec = {
      kind: "Join",
      joinKind: j.joinKind,
      joinType: j.joinType,
      leftColumns: left.columns,
      rightColumns: right.columns,
      leftExpr: j.leftExpr,
      rightExpr: j.rightExpr,
      ...(j.within ? { within: j.within } : {}),
      outputColumns,
      keyName: j.keyName,
      leftKeyCount,
      rightKeyCount,
    };
    return {
      inputs: [leftInput, rightInput],
      processors: [...sideFilters, spec],
      columns: outputColumns,
      isTable: j.resultType === "TABLE",
      partitions,
    };
  }
}

/** A plan with no processors of its own reads its input directly; otherwise it cannot be a join input. */
function single(p: RowsPlan): StageInputPlan {
  if (p.processors.length > 0 || p.inputs.length !== 1) throw new Error("internal: join input needs its own stage");
  return p.inputs[0]!;
}

function sourceName(f: AnalyzedFrom): string {
  return f.kind === "Source" ? f.source.name : sourceName(f.left);
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

/**
 * The topology plan of a query writing `sink`. `partitionsOf` gives the partition count of each topic the
 * query reads; `execution` is how it runs (from the session properties: `executionSettings`); `topicId`
 * prefixes its internal topics (default: the query id). Throws
 * {@link UnsupportedQueryError} for a query that cannot run as asked (e.g. a join of inputs whose partition
 * counts differ).
 */
export function buildTopology(
  queryId: string,
  q: AnalyzedQuery,
  sink: CatalogSource,
  partitionsOf: (topic: string) => number,
  sinkPartitions: number,
  execution: ExecutionSettings,
  topicId: string = queryId,
): TopologyPlan {
  if (q.start?.kind === "offsets") checkStartPartitions(q, partitionsOf);
  const planner = new Planner(topicId, partitionsOf);
  if (q.where && q.from.kind === "Join") planner.pushable = conjuncts(q.where);
  const rows = planner.from(q.from, false);
  const isTable = rows.isTable;
  const pre: ProcessorSpec[] = [...rows.processors];
  let cols = rows.columns;
  const where = planner.remaining ? (planner.remaining.length > 0 ? and(planner.remaining) : undefined) : q.where;
  if (where) {
    pre.push({ kind: "Filter", columns: cols, predicate: where, ...(isTable ? { table: { keyCount: 1 } } : {}) });
  }
  if (q.tableFunctions.length > 0) {
    const calls = q.tableFunctions.map((t) => ({ name: t.call.name, argTypes: t.call.argTypes, args: t.call.args }));
    pre.push({ kind: "TableFunction", columns: cols, calls });
    cols = [...cols, ...q.tableFunctions.map((t) => t.name)];
  }
  const projection = q.projection.map((c) => c.expr);
  const projectNames = q.projection.map((c) => c.name);
  const materializeInSink = sink.sourceType === "TABLE" && (!q.aggregation || q.emit === "FINAL");
  const sinkOutput: OutputSpec = {
    kind: "Sink",
    columns: projectNames,
    sink,
    partitions: sinkPartitions,
    materialize: materializeInSink,
    ...(materializeInSink && q.aggregation?.window ? { retainWindows: q.aggregation.window } : {}),
    ...(q.partitionBy ? { rekeyed: true as const } : {}),
    ...(sink.historyMs !== undefined ? { history: { retentionMs: sink.historyMs } } : {}),
  };
  const plan = (table?: TopologyPlan["table"]): TopologyPlan => ({
    version: TOPOLOGY_VERSION,
    queryId,
    topicId,
    // A table with history keeps every version: no record cache folding several updates of a key into one.
    execution: sink.historyMs !== undefined ? { ...execution, recordCache: false } : execution,
    stages: planner.stages.map(pruneColumns),
    internalTopics: planner.topics,
    ...(table ? { table } : {}),
    ...(q.start ? { start: q.start } : {}),
  });

  const agg = q.aggregation;
  if (!agg) {
    planner.addStage(
      rows.inputs,
      [...pre, { kind: "Project", columns: cols, exprs: projection }],
      sinkOutput,
      rows.partitions,
    );
    return plan();
  }

  const aggCols = [
    ...agg.keyNames,
    ...agg.aggregates.map((a) => a.name),
    ...(agg.window ? ["WINDOWSTART", "WINDOWEND"] : []),
  ];
  const aggSpec: AggregateSpec = {
    kind: "Aggregate",
    columns: cols,
    groupBy: agg.groupBy,
    aggregates: agg.aggregates.map((a) => ({ name: a.call.name, argTypes: a.call.argTypes, args: a.call.args })),
    ...(agg.window ? { window: agg.window } : {}),
    fromTable: agg.fromTable,
    emitFinal: q.emit === "FINAL",
    needsOld: agg.having !== undefined,
    ...(sink.ttlMs !== undefined && !agg.window ? { ttlMs: sink.ttlMs } : {}),
  };
  const tail: ProcessorSpec[] = [aggSpec];
  if (agg.having) {
    tail.push({ kind: "Filter", columns: aggCols, predicate: agg.having, table: { keyCount: agg.keyNames.length } });
  }
  tail.push({ kind: "Project", columns: aggCols, exprs: projection });

  const keyNames = sink.columns.filter((c) => c.namespace === "KEY").map((c) => c.name);
  const table = materializeInSink
    ? undefined
    : {
        aggregate: aggSpec,
        columns: aggCols,
        ...(agg.having ? { having: agg.having } : {}),
        projection,
        keyIndexes: keyNames.map((n) => projectNames.indexOf(n)),
      };
  const from = q.from;
  if (!agg.fromTable && from.kind === "Source" && isKeyOf(agg.groupBy, from.source)) {
    planner.addStage(rows.inputs, [...pre, ...tail], sinkOutput, rows.partitions);
  } else {
    const input = planner.repartition(
      { ...rows, processors: pre, columns: cols },
      agg.groupBy,
      rows.partitions,
      agg.fromTable,
      "groupby",
    );
    planner.addStage([input], tail, sinkOutput, rows.partitions);
  }
  return plan(table);
}

/** Explicit start offsets name partitions the source topic has. */
function checkStartPartitions(q: AnalyzedQuery, partitionsOf: (topic: string) => number): void {
  let f = q.from;
  while (f.kind === "Join") f = f.left;
  const n = partitionsOf(f.source.topic);
  const bad = q.start?.kind === "offsets" ? q.start.offsets.find((o) => o.partition >= n) : undefined;
  if (bad) {
    throw new UnsupportedQueryError(
      `START_FROM names partition ${bad.partition} of topic ${f.source.topic}, which has ${n} partition(s) (0 to ${n - 1})`,
    );
  }
}

function conjuncts(e: TExpr): TExpr[] {
  return e.kind === "Logical" && e.op === "AND" ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

function and(es: readonly TExpr[]): TExpr {
  return es.reduce((a, b) => ({ kind: "Logical", type: { kind: "BOOLEAN" }, op: "AND", left: a, right: b }));
}

/** True when `exprs` are exactly the source's key columns, in order. */
function isKeyOf(exprs: readonly TExpr[], source: CatalogSource): boolean {
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  return exprs.length === keys.length && exprs.every((e, i) => e.kind === "Column" && e.name === keys[i]!.name);
}

/**
 * Column pruning where it acts at run time: a stage that reads one source and whose rows leave through a
 * projection or an aggregation (which name every column they pass on) decodes only the value columns some
 * expression of the stage reads, and the event-time column.
 */
function pruneColumns(stage: StagePlan): StagePlan {
  const input = stage.inputs[0];
  if (stage.inputs.length !== 1 || input?.kind !== "source") return stage;
  if (!stage.processors.some((p) => p.kind === "Project" || p.kind === "Aggregate")) return stage;
  const read = new Set<string>();
  // Every Column node of every spec (more than needed is safe: names the later processors define too).
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o.kind === "Column" && typeof o.name === "string") read.add(o.name);
      for (const x of Object.values(o)) walk(x);
    }
  };
  walk(stage.processors);
  walk(stage.output);
  if (input.source.timestamp) read.add(input.source.timestamp.column);
  const values = input.source.columns.filter((c) => c.namespace === "VALUE").map((c) => c.name);
  const decode = values.filter((n) => read.has(n));
  if (decode.length === values.length) return stage;
  return { ...stage, inputs: [{ ...input, decode }] };
}
