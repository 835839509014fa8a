/**
 * Turns an analyzed persistent query into stages (sub-topologies) of processors.
 *
 * - No aggregation: one stage, source → [WHERE] → [table functions] → projection → sink. PARTITION BY
 *   needs no internal topic: the projection computes the new key and the sink partitions by it.
 * - Aggregation whose GROUP BY is the input stream's key: one stage, source → [WHERE] → aggregate →
 *   [HAVING] → projection → sink.
 * - Any other aggregation: two stages joined by an internal repartition topic keyed by the GROUP BY
 *   expressions, so each group is folded by exactly one task.
 */
import type { AnalyzedQuery } from "../../src/semantic/analyzed.ts";
import type { CatalogSource } from "../../src/semantic/catalog.ts";
import type { TExpr } from "../../src/semantic/typed.ts";
import { AggregateProcessor } from "../processors/aggregate.ts";
import { RepartitionOutput, SinkOutput } from "../processors/sink.ts";
import { sourceRowColumns } from "../processors/source.ts";
import { FilterProcessor, ProjectProcessor, TableFunctionProcessor } from "../processors/stateless.ts";
import type { Processor } from "../processors/types.ts";
import type { Stage } from "./stage.ts";

export class UnsupportedQueryError extends Error {
  override readonly name = "UnsupportedQueryError";
}

export interface PlannedQuery {
  readonly stages: readonly Stage[];
  /** Internal topics to create before the query starts. */
  readonly internalTopics: readonly { readonly name: string; readonly partitions: number }[];
  /** Partition count of each stage's input. */
  readonly partitions: number;
}

export function repartitionTopicName(queryId: string): string {
  return `_esql-${queryId}-repartition`;
}

export function planQuery(
  queryId: string,
  q: AnalyzedQuery,
  sink: CatalogSource,
  inputPartitions: number,
  sinkPartitions: number,
): PlannedQuery {
  if (q.from.kind !== "Source") throw new UnsupportedQueryError("joins are not supported by the runtime yet");
  const source = q.from.source;
  const isTable = source.sourceType === "TABLE";
  const cols = sourceRowColumns(source);
  const keyCount = source.columns.filter((c) => c.namespace === "KEY").length;

  const pre: (() => Processor)[] = [];
  if (q.where) {
    const where = q.where;
    pre.push(() => new FilterProcessor({ kind: "Filter", columns: cols, predicate: where, ...(isTable ? { table: { keyCount } } : {}) }));
  }
  let rowCols = cols;
  if (q.tableFunctions.length > 0) {
    const inCols = rowCols;
    const calls = q.tableFunctions.map((t) => ({ name: t.call.name, argTypes: t.call.argTypes, args: t.call.args }));
    pre.push(() => new TableFunctionProcessor({ kind: "TableFunction", columns: inCols, calls }));
    rowCols = [...inCols, ...q.tableFunctions.map((t) => t.name)];
  }
  const projection = q.projection.map((c) => c.expr);
  const sinkOutput = (columns: readonly string[]) => () =>
    new SinkOutput({
      kind: "Sink",
      columns,
      sink,
      partitions: sinkPartitions,
      materialize: sink.sourceType === "TABLE",
    });
  const projectNames = q.projection.map((c) => c.name);
  const input = { kind: "source" as const, topic: source.topic, source };

  const agg = q.aggregation;
  if (!agg) {
    const finalCols = rowCols;
    return {
      stages: [
        {
          id: "0",
          input,
          processors: () => [...pre.map((p) => p()), new ProjectProcessor({ kind: "Project", columns: finalCols, exprs: projection })],
          output: sinkOutput(projectNames),
        },
      ],
      internalTopics: [],
      partitions: inputPartitions,
    };
  }

  const aggCols = [...agg.keyNames, ...agg.aggregates.map((a) => a.name), ...(agg.window ? ["WINDOWSTART", "WINDOWEND"] : [])];
  const aggregatedRowCols = rowCols;
  const tail = (): Processor[] => {
    const ps: Processor[] = [
      new AggregateProcessor({
        kind: "Aggregate",
        columns: aggregatedRowCols,
        groupBy: agg.groupBy,
        aggregates: AggregateProcessor.aggregatesOf(agg.aggregates),
        ...(agg.window ? { window: agg.window } : {}),
        fromTable: agg.fromTable,
        emitFinal: q.emit === "FINAL",
        needsOld: agg.having !== undefined,
      }),
    ];
    if (agg.having) {
      ps.push(new FilterProcessor({ kind: "Filter", columns: aggCols, predicate: agg.having, table: { keyCount: agg.keyNames.length } }));
    }
    ps.push(new ProjectProcessor({ kind: "Project", columns: aggCols, exprs: projection }));
    return ps;
  };

  if (!agg.fromTable && isKeyOf(agg.groupBy, source)) {
    return {
      stages: [{ id: "0", input, processors: () => [...pre.map((p) => p()), ...tail()], output: sinkOutput(projectNames) }],
      internalTopics: [],
      partitions: inputPartitions,
    };
  }
  const topic = repartitionTopicName(queryId);
  return {
    stages: [
      {
        id: "0",
        input,
        processors: () => pre.map((p) => p()),
        output: () =>
          new RepartitionOutput({
            kind: "Repartition",
            topic,
            columns: aggregatedRowCols,
            keyExprs: agg.groupBy,
            partitions: inputPartitions,
            fromTable: agg.fromTable,
          }),
      },
      { id: "1", input: { kind: "internal", topic }, processors: tail, output: sinkOutput(projectNames) },
    ],
    internalTopics: [{ name: topic, partitions: inputPartitions }],
    partitions: inputPartitions,
  };
}

/** True when `exprs` are exactly the source's key columns, in order. */
function isKeyOf(exprs: readonly TExpr[], source: CatalogSource): boolean {
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  return exprs.length === keys.length && exprs.every((e, i) => e.kind === "Column" && e.name === keys[i]!.name);
}
