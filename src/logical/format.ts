/**
 * The canonical text of a logical plan: one line per operator, inputs indented by two spaces below it.
 * Used by `esql explain`, debug logs and snapshot tests; stable for a given plan.
 */
import { formatType } from "../types/sqltype.ts";
import type { FormatSpec } from "../semantic/catalog.ts";
import type { WindowSpec } from "../semantic/analyzed.ts";
import { formatExpr } from "./exprText.ts";
import { inputsOf, type LogicalNode, type LogicalPlan } from "./plan.ts";

export function formatFormat(f: FormatSpec): string {
  const props = Object.entries(f.properties)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return props.length ? `${f.format}(${props.join(", ")})` : f.format;
}

export function formatWindow(w: WindowSpec): string {
  const parts: string[] = [];
  if (w.sizeMs !== undefined) parts.push(`size=${w.sizeMs}ms`);
  if (w.advanceMs !== undefined) parts.push(`advance=${w.advanceMs}ms`);
  if (w.gapMs !== undefined) parts.push(`gap=${w.gapMs}ms`);
  if (w.graceMs !== undefined) parts.push(`grace=${w.graceMs}ms`);
  if (w.retentionMs !== undefined) parts.push(`retention=${w.retentionMs}ms`);
  return `${w.type}(${parts.join(", ")})`;
}

function line(n: LogicalNode): string {
  switch (n.kind) {
    case "Source":
      return `Source ${n.source}${n.alias !== n.source ? ` AS ${n.alias}` : ""} (${n.sourceType}) topic=${n.topic} key=${formatFormat(n.keyFormat)} value=${formatFormat(n.valueFormat)}${
        n.timestamp ? ` timestamp=${n.timestamp.column}${n.timestamp.format ? `('${n.timestamp.format}')` : ""}` : ""
      }${n.window ? ` window=${n.window.type}${n.window.sizeMs !== undefined ? `(${n.window.sizeMs}ms)` : ""}` : ""} columns=[${n.schema
        .filter((c) => c.namespace !== "PSEUDO")
        .map((c) => c.name)
        .join(", ")}]`;
    case "Filter":
      return `Filter ${formatExpr(n.predicate)}`;
    case "Having":
      return `Having ${formatExpr(n.predicate)}`;
    case "Repartition":
      return `Repartition (${n.reason}) key=[${n.keys.map((k) => `${k.name} := ${formatExpr(k.expr)}`).join(", ")}]`;
    case "Join":
      return `Join ${n.joinType} ${n.joinKind} on ${formatExpr(n.leftKey)} = ${formatExpr(n.rightKey)} key=${n.keyName}${
        n.within
          ? ` within=(before=${n.within.beforeMs}ms, after=${n.within.afterMs}ms${n.within.graceMs !== undefined ? `, grace=${n.within.graceMs}ms` : ""})`
          : ""
      }`;
    case "Aggregate":
      return `Aggregate${n.fromTable ? " (table)" : ""} groupBy=[${n.groupBy.map((g) => `${g.name} := ${formatExpr(g.expr)}`).join(", ")}] aggregates=[${n.aggregates
        .map((a) => `${a.name} := ${formatExpr(a.call)}`)
        .join(", ")}]${n.window ? ` window=${formatWindow(n.window)}` : ""} emit=${n.emit}`;
    case "TableFunction":
      return `TableFunction [${n.functions.map((f) => `${f.name} := ${formatExpr(f.call)}`).join(", ")}]`;
    case "Project":
      return `Project [${n.columns.map((c) => `${c.name} ${formatType(c.type)}${c.namespace === "KEY" ? " KEY" : ""} := ${formatExpr(c.expr)}`).join(", ")}]`;
    case "Limit":
      return `Limit ${n.count}`;
    case "Sink":
      return `Sink ${n.sink} (${n.sinkType}${n.insert ? ", INSERT" : ""}) topic=${n.topic} key=${formatFormat(n.keyFormat)} value=${formatFormat(n.valueFormat)}${
        n.timestamp ? ` timestamp=${n.timestamp.column}` : ""
      }${n.window ? ` window=${formatWindow(n.window)}` : ""}`;
    case "Output":
      return `Output (${n.pull ? "PULL" : "PUSH"}, ${n.resultType})${n.window ? ` window=${formatWindow(n.window)}` : ""}`;
  }
}

function lines(n: LogicalNode, depth: number, out: string[]): void {
  out.push("  ".repeat(depth) + line(n));
  for (const i of inputsOf(n)) lines(i, depth + 1, out);
}

/** The plan as text: a header with the query id, then the operator tree. */
export function formatLogicalPlan(plan: LogicalPlan): string {
  const out = [`Query ${plan.queryId}`];
  lines(plan.root, 1, out);
  return out.join("\n");
}
