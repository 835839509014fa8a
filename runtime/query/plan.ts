/**
 * Turns an analyzed persistent query into stages (sub-topologies) of processors.
 *
 * - FROM a source: the first stage reads the source topic.
 * - FROM a join: each join is a two-input stage over co-partitioned inputs. An input whose join expression
 *   is not its key (a stream joined on another column, the left table of a foreign-key join, the result of
 *   an inner join in an n-way join) is first re-keyed into an internal repartition topic.
 * - Then [WHERE] → [table functions] → projection → sink. PARTITION BY needs no internal topic: the
 *   projection computes the new key and the sink partitions by it.
 * - An aggregation whose GROUP BY is the input stream's key folds in the same stage; any other aggregation
 *   re-keys through an internal topic so each group is folded by exactly one task.
 */
import type { AnalyzedFrom, AnalyzedJoin, AnalyzedQuery } from "../../src/semantic/analyzed.ts";
import type { CatalogSource } from "../../src/semantic/catalog.ts";
import type { TExpr } from "../../src/semantic/typed.ts";
import { AggregateProcessor, readAggregates, type AggregateSpec } from "../processors/aggregate.ts";
import { compileExprs } from "../expr/compile.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { encodeKey } from "../state/keycodec.ts";
import type { PartitionStore } from "../state/store.ts";
import { JoinProcessor } from "../processors/join.ts";
import { RepartitionOutput, SinkOutput, type StageOutput } from "../processors/sink.ts";
import { sourceRowColumns } from "../processors/source.ts";
import { FilterProcessor, ProjectProcessor, TableFunctionProcessor } from "../processors/stateless.ts";
import type { Processor } from "../processors/types.ts";
import type { Stage, StageInput } from "./stage.ts";

export class UnsupportedQueryError extends Error {
  override readonly name = "UnsupportedQueryError";
}

export interface PlannedQuery {
  readonly stages: readonly Stage[];
  /** Internal topics to create before the query starts. */
  readonly internalTopics: readonly { readonly name: string; readonly partitions: number }[];
  /** Partition count of each stage's inputs, by stage id. */
  readonly stagePartitions: ReadonlyMap<string, number>;
  /**
   * How to read the materialized table from a task of the last stage, when it is not kept in the sink's
   * `table` store: aggregations are read from their aggregate store (HAVING and the projection applied on
   * read). Yields entries shaped like the `table` store's: `[encodeKey(key columns [+ window bounds]), [row, ts]]`.
   */
  readonly readTable?: (
    store: PartitionStore,
    functions: FunctionRegistry,
    /** Only groups whose encoded group key (+ window) is in this range (a pull query's key seek). */
    range?: { gte?: Buffer; lt?: Buffer },
  ) => AsyncGenerator<[Buffer, [unknown[], number]]>;
}

/** What the planning of FROM leaves for the last stage: its inputs and the processors producing `columns`. */
interface RowsPlan {
  readonly inputs: readonly StageInput[];
  readonly processors: readonly (() => Processor)[];
  /** Names of the produced rows' columns, in order. */
  readonly columns: readonly string[];
  readonly isTable: boolean;
  readonly partitions: number;
}

class Planner {
  readonly stages: Stage[] = [];
  readonly topics: { name: string; partitions: number }[] = [];
  readonly stagePartitions = new Map<string, number>();
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
  ): StageInput {
    const topic = `_esql-${this.queryId}-${what}-${this.internal++}-repartition`;
    this.topics.push({ name: topic, partitions });
    const columns = rows.columns;
    this.addStage(
      rows.inputs,
      rows.processors,
      () => new RepartitionOutput({ kind: "Repartition", topic, columns, keyExprs, partitions, fromTable }),
      rows.partitions,
    );
    return { kind: "internal", topic };
  }

  addStage(
    inputs: readonly StageInput[],
    processors: readonly (() => Processor)[],
    output: () => StageOutput,
    partitions: number,
  ): void {
    const id = String(this.stages.length);
    this.stages.push({ id, inputs, processors: () => processors.map((p) => p()), output });
    this.stagePartitions.set(id, partitions);
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

  private join(j: AnalyzedJoin): RowsPlan {
    const left = this.from(j.left, true);
    const right = this.from(j.right, true);
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
    const spec = {
      kind: "Join" as const,
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
      processors: [() => new JoinProcessor(spec)],
      columns: outputColumns,
      isTable: j.resultType === "TABLE",
      partitions,
    };
  }
}

/** A plan with no processors of its own reads its input directly; otherwise it cannot be a join input. */
function single(p: RowsPlan): StageInput {
  if (p.processors.length > 0 || p.inputs.length !== 1) throw new Error("internal: join input needs its own stage");
  return p.inputs[0]!;
}

function sourceName(f: AnalyzedFrom): string {
  return f.kind === "Source" ? f.source.name : sourceName(f.left);
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

export function planQuery(
  queryId: string,
  q: AnalyzedQuery,
  sink: CatalogSource,
  partitionsOf: (topic: string) => number,
  sinkPartitions: number,
): PlannedQuery {
  const planner = new Planner(queryId, partitionsOf);
  const rows = planner.from(q.from, false);
  const isTable = rows.isTable;
  const pre: (() => Processor)[] = [...rows.processors];
  let cols = rows.columns;
  if (q.where) {
    const where = q.where;
    const c = cols;
    pre.push(
      () =>
        new FilterProcessor({
          kind: "Filter",
          columns: c,
          predicate: where,
          ...(isTable ? { table: { keyCount: 1 } } : {}),
        }),
    );
  }
  if (q.tableFunctions.length > 0) {
    const inCols = cols;
    const calls = q.tableFunctions.map((t) => ({ name: t.call.name, argTypes: t.call.argTypes, args: t.call.args }));
    pre.push(() => new TableFunctionProcessor({ kind: "TableFunction", columns: inCols, calls }));
    cols = [...inCols, ...q.tableFunctions.map((t) => t.name)];
  }
  const projection = q.projection.map((c) => c.expr);
  const projectNames = q.projection.map((c) => c.name);
  const materializeInSink = sink.sourceType === "TABLE" && (!q.aggregation || q.emit === "FINAL");
  const sinkOutput = () =>
    new SinkOutput({
      kind: "Sink",
      columns: projectNames,
      sink,
      partitions: sinkPartitions,
      materialize: materializeInSink,
    });

  const agg = q.aggregation;
  if (!agg) {
    const finalCols = cols;
    planner.addStage(
      rows.inputs,
      [...pre, () => new ProjectProcessor({ kind: "Project", columns: finalCols, exprs: projection })],
      sinkOutput,
      rows.partitions,
    );
    return { stages: planner.stages, internalTopics: planner.topics, stagePartitions: planner.stagePartitions };
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
    aggregates: AggregateProcessor.aggregatesOf(agg.aggregates),
    ...(agg.window ? { window: agg.window } : {}),
    fromTable: agg.fromTable,
    emitFinal: q.emit === "FINAL",
    needsOld: agg.having !== undefined,
  };
  const tail: (() => Processor)[] = [() => new AggregateProcessor(aggSpec)];
  if (agg.having) {
    const having = agg.having;
    tail.push(
      () =>
        new FilterProcessor({
          kind: "Filter",
          columns: aggCols,
          predicate: having,
          table: { keyCount: agg.keyNames.length },
        }),
    );
  }
  tail.push(() => new ProjectProcessor({ kind: "Project", columns: aggCols, exprs: projection }));

  const keyNames = sink.columns.filter((c) => c.namespace === "KEY").map((c) => c.name);
  // Compiled once per function registry, not per read: a pull query's key lookup reads one group.
  const readers = new WeakMap<
    FunctionRegistry,
    { having: ((row: unknown[]) => unknown) | undefined; project: ((row: unknown[]) => unknown)[] }
  >();
  const readerFor = (functions: FunctionRegistry) => {
    let r = readers.get(functions);
    if (!r) {
      const onError = () => {};
      r = {
        having: agg.having ? compileExprs([agg.having], { columns: aggCols, functions, onError })[0] : undefined,
        project: compileExprs(projection, { columns: aggCols, functions, onError }),
      };
      readers.set(functions, r);
    }
    return r;
  };
  const keyIdx = keyNames.map((n) => projectNames.indexOf(n));
  const readTable = materializeInSink
    ? undefined
    : async function* (
        store: PartitionStore,
        functions: FunctionRegistry,
        range?: { gte?: Buffer; lt?: Buffer },
      ): AsyncGenerator<[Buffer, [unknown[], number]]> {
        const { having, project } = readerFor(functions);
        for await (const r of readAggregates(aggSpec, functions, store, range)) {
          if (having && having(r.values) !== true) continue;
          const row = project.map((f) => f(r.values));
          const key = keyIdx.map((i) => (i < 0 ? null : row[i]));
          yield [encodeKey(r.window ? [...key, r.window.start, r.window.end] : key), [row, r.ts]];
        }
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
  return {
    stages: planner.stages,
    internalTopics: planner.topics,
    stagePartitions: planner.stagePartitions,
    ...(readTable ? { readTable } : {}),
  };
}

/** True when `exprs` are exactly the source's key columns, in order. */
function isKeyOf(exprs: readonly TExpr[], source: CatalogSource): boolean {
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  return exprs.length === keys.length && exprs.every((e, i) => e.kind === "Column" && e.name === keys[i]!.name);
}
