/**
 * Instantiates a topology plan (`src/plan/topology.ts`, plain JSON) into runnable stages: one processor
 * per spec, the stage's output, and the reader of an aggregation's table. The plan is the program: nothing
 * here plans, parses or analyzes; a plan read back from the command topic runs as it was compiled.
 */
import type { FunctionRegistry } from "../../src/functions/types.ts";
import {
  topologyVersionError,
  type OutputSpec,
  type ProcessorSpec,
  type StagePlan,
  type TableReadPlan,
  type TopologyPlan,
} from "../../src/plan/topology.ts";
import { compileExprs } from "../expr/compile.ts";
import { AggregateProcessor, readAggregates } from "../processors/aggregate.ts";
import { JoinProcessor } from "../processors/join.ts";
import { RepartitionOutput, SinkOutput, type StageOutput } from "../processors/sink.ts";
import { FilterProcessor, ProjectProcessor, TableFunctionProcessor } from "../processors/stateless.ts";
import type { Processor } from "../processors/types.ts";
import { encodeKey } from "../state/keycodec.ts";
import type { PartitionStore } from "../state/store.ts";
import type { Stage } from "./stage.ts";

/** A plan whose format version this runtime does not run. */
export class PlanVersionError extends Error {
  override readonly name = "PlanVersionError";
}

/** Reads a materialized table from a task of the last stage (see {@link PlannedQuery.readTable}). */
export type TableReader = (
  store: PartitionStore,
  functions: FunctionRegistry,
  /** Only groups whose encoded group key (+ window) is in this range (a pull query's key seek). */
  range?: { gte?: Buffer; lt?: Buffer },
) => AsyncGenerator<[Buffer, [unknown[], number]]>;

export interface PlannedQuery {
  /** The plan this was instantiated from (what EXPLAIN describes and the command topic records). */
  readonly topology: TopologyPlan;
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
  readonly readTable?: TableReader;
}

/** Builds the runnable stages of `plan`; throws {@link PlanVersionError} for a plan of another format version. */
export function instantiate(plan: TopologyPlan): PlannedQuery {
  const versionError = topologyVersionError(plan);
  if (versionError) throw new PlanVersionError(versionError);
  const stagePartitions = new Map<string, number>();
  for (const s of plan.stages) stagePartitions.set(s.id, s.partitions);
  return {
    topology: plan,
    stages: plan.stages.map((s) => stage(s, plan)),
    internalTopics: plan.internalTopics,
    stagePartitions,
    ...(plan.table ? { readTable: tableReader(plan.table) } : {}),
  };
}

function stage(s: StagePlan, plan: TopologyPlan): Stage {
  return {
    id: s.id,
    ...(plan.start ? { start: plan.start } : {}),
    inputs: s.inputs,
    processors: () => s.processors.map(processor),
    output: () => output(s.output),
  };
}

function processor(spec: ProcessorSpec): Processor {
  switch (spec.kind) {
    case "Filter":
      return new FilterProcessor(spec);
    case "Project":
      return new ProjectProcessor(spec);
    case "TableFunction":
      return new TableFunctionProcessor(spec);
    case "Join":
      return new JoinProcessor(spec);
    case "Aggregate":
      return new AggregateProcessor(spec);
    default:
      return unknownKind(spec, "processor");
  }
}

function output(spec: OutputSpec): StageOutput {
  switch (spec.kind) {
    case "Sink":
      return new SinkOutput(spec);
    case "Repartition":
      return new RepartitionOutput(spec);
    default:
      return unknownKind(spec, "output");
  }
}

/** A spec kind this runtime does not know: the plan is newer than the code (or damaged). */
function unknownKind(spec: never, what: string): never {
  throw new PlanVersionError(`unknown ${what} kind in plan: ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
}

/** The reader of an aggregation's table: HAVING and the projection compiled once per function registry. */
function tableReader(t: TableReadPlan): TableReader {
  const compiled = new WeakMap<
    FunctionRegistry,
    { having: ((row: unknown[]) => unknown) | undefined; project: ((row: unknown[]) => unknown)[] }
  >();
  const compile = (functions: FunctionRegistry) => {
    let c = compiled.get(functions);
    if (!c) {
      const opts = { columns: t.columns, functions, onError: () => {} };
      c = {
        having: t.having ? compileExprs([t.having], opts)[0] : undefined,
        project: compileExprs(t.projection, opts),
      };
      compiled.set(functions, c);
    }
    return c;
  };
  return async function* (store, functions, range) {
    const { having, project } = compile(functions);
    for await (const r of readAggregates(t.aggregate, functions, store, range)) {
      if (having && having(r.values) !== true) continue;
      const row = project.map((f) => f(r.values));
      const key = t.keyIndexes.map((i) => (i < 0 ? null : row[i]));
      yield [encodeKey(r.window ? [...key, r.window.start, r.window.end] : key), [row, r.ts]];
    }
  };
}
