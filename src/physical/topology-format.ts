/**
 * The canonical text of a topology plan, in the shape of Kafka Streams' `Topology.describe()`: one block
 * per sub-topology (stage) with its tasks, the topics it reads, each processor with its stores and
 * expressions, and the topic it writes. `esql explain`, the REPL's and the REST API's EXPLAIN print it for
 * the plan a query runs.
 */
import { formatExpr } from "../logical/exprText.ts";
import { formatFormat, formatWindow } from "../logical/format.ts";
import {
  formatStartPosition,
  STORE,
  type OutputSpec,
  type ProcessorSpec,
  type StageInputPlan,
  type TableReadPlan,
  type TopologyPlan,
} from "../plan/topology.ts";

/** Store names a processor uses in its task's store (see the processors in `runtime/processors`). */
export function storesOf(spec: ProcessorSpec | OutputSpec): string[] {
  switch (spec.kind) {
    case "Aggregate":
      if (spec.window) return [STORE.aggregate, STORE.aggregateTime];
      return spec.ttlMs !== undefined ? [STORE.aggregate, STORE.aggregateTtl] : [STORE.aggregate];
    case "Join":
      if (spec.joinKind === "FOREIGN_KEY") return [STORE.left, STORE.right, STORE.foreignKeyIndex];
      if (spec.joinKind !== "STREAM_STREAM") return [STORE.left, STORE.right];
      return spec.joinType !== "INNER" && spec.within?.graceMs !== undefined
        ? [STORE.left, STORE.right, STORE.joinTime, STORE.outer]
        : [STORE.left, STORE.right, STORE.joinTime];
    case "Sink":
      if (!spec.materialize) return [];
      return spec.retainWindows ? [STORE.table, STORE.tableTime] : [STORE.table];
    case "Filter":
    case "Project":
    case "TableFunction":
    case "Repartition":
      return [];
  }
}

function input(i: StageInputPlan, index: number, count: number): string {
  const side = count > 1 ? (index === 0 ? " (left)" : " (right)") : "";
  if (i.kind === "internal") return `Source${side}: ${i.topic} (internal)`;
  const s = i.source;
  return (
    `Source${side}: ${i.topic} (${s.sourceType} ${s.name}, key ${formatFormat(s.keyFormat)}, value ${formatFormat(s.valueFormat)}` +
    `${s.timestamp ? `, timestamp ${s.timestamp.column}` : ""}${s.window ? `, windowed ${s.window.type}` : ""}` +
    `${s.sourceType === "TABLE" ? `, store ${index === 0 ? STORE.source : `${STORE.source}${index}`}` : ""}` +
    `${i.decode ? `, decodes ${i.decode.length > 0 ? i.decode.join(", ") : "no value column"}` : ""})`
  );
}

/** `next`: the column names of what reads this processor's rows (its output names, for a projection). */
function processor(p: ProcessorSpec, next: readonly string[]): string {
  switch (p.kind) {
    case "Filter":
      return `Filter${p.table ? " (table)" : ""}: ${formatExpr(p.predicate)}`;
    case "Project":
      return `Project: ${p.exprs.map((e, i) => (e.kind === "Column" && e.name === next[i] ? e.name : `${formatExpr(e)} AS ${next[i] ?? "?"}`)).join(", ")}`;
    case "TableFunction":
      return `TableFunction: ${p.calls.map((c) => `${c.name}(${c.args.map(formatExpr).join(", ")})`).join(", ")}`;
    case "Join":
      return (
        `Join: ${p.joinType} ${p.joinKind} ON ${formatExpr(p.leftExpr)} = ${formatExpr(p.rightExpr)}, key ${p.keyName}` +
        `${p.within ? `, within ${p.within.beforeMs}ms before/${p.within.afterMs}ms after${p.within.graceMs !== undefined ? `, grace ${p.within.graceMs}ms` : ""}` : ""}` +
        `, stores ${storesOf(p).join(", ")}`
      );
    case "Aggregate":
      return (
        `Aggregate: GROUP BY ${p.groupBy.map(formatExpr).join(", ") || "(nothing)"}; ` +
        `${p.aggregates.map((a) => `${a.name}(${a.args.map(formatExpr).join(", ")})`).join(", ")}` +
        `${p.window ? `; window ${formatWindow(p.window)}` : ""}${p.emitFinal ? "; EMIT FINAL" : ""}${p.fromTable ? "; retracts" : ""}` +
        `${p.ttlMs !== undefined ? `; rows expire ${p.ttlMs}ms after their last update (TTL)` : ""}` +
        `, stores ${storesOf(p).join(", ")}`
      );
  }
}

function output(o: OutputSpec): string {
  if (o.kind === "Repartition") {
    return `Repartition: by (${o.keyExprs.map(formatExpr).join(", ")}) into ${o.topic} (internal, ${o.partitions} partitions)`;
  }
  const s = o.sink;
  return (
    `Sink: ${s.topic} (${s.sourceType} ${s.name}, key ${formatFormat(s.keyFormat)}, value ${formatFormat(s.valueFormat)}, ` +
    `${o.partitions} partitions${o.materialize ? ", store table" : ""})`
  );
}

function table(t: TableReadPlan): string {
  return (
    `Table read: from the aggregate store ${STORE.aggregate}${t.having ? `, HAVING ${formatExpr(t.having)}` : ""}, ` +
    `columns ${t.projection.map(formatExpr).join(", ")}`
  );
}

/** The text of `plan`: what runs, sub-topology by sub-topology. */
export function formatTopology(plan: TopologyPlan): string {
  const out = [`Query ${plan.queryId} (topology plan v${plan.version})`];
  if (plan.start) out.push(`  Starts from: ${formatStartPosition(plan.start)} (START_FROM)`);
  for (const s of plan.stages) {
    out.push(`  Sub-topology ${s.id} (${s.partitions} ${s.partitions === 1 ? "task" : "tasks"})`);
    s.inputs.forEach((i, n) => out.push(`    ${input(i, n, s.inputs.length)}`));
    s.processors.forEach((p, i) => {
      const next = s.processors[i + 1] ?? s.output;
      out.push(`    --> ${processor(p, next.kind === "Join" ? [] : next.columns)}`);
    });
    out.push(`    --> ${output(s.output)}`);
  }
  if (plan.internalTopics.length > 0) {
    out.push(`  Internal topics: ${plan.internalTopics.map((t) => `${t.name} (${t.partitions})`).join(", ")}`);
  }
  if (plan.table) out.push(`  ${table(plan.table)}`);
  return out.join("\n");
}

/** The plan's structure in the form of `describeRunning` (runtime/query/describe.ts): one line per stage. */
export function describePlan(plan: TopologyPlan): string[] {
  return plan.stages.map(
    (s) =>
      `${s.id} (${s.partitions}): ${s.inputs.map((i) => i.topic).join(" + ")} -> ${[...s.processors.map((p) => p.kind), s.output.kind].join(" -> ")} -> ${s.output.kind === "Sink" ? s.output.sink.topic : s.output.topic}`,
  );
}
