/**
 * The canonical text of a physical plan: a header (query id, kind, topics, stores), then one line per
 * step with its id, inputs indented below. Used by `esql explain` and snapshot tests.
 */
import { formatType } from "../types/sqltype.ts";
import { formatExpr } from "../logical/exprText.ts";
import { formatFormat, formatWindow } from "../logical/format.ts";
import type { AccessPath, Bounds } from "../plan/select.ts";
import type { ComputedColumn, PhysicalColumn, PhysicalPlan, PhysicalStep } from "./plan.ts";

const schema = (cs: readonly PhysicalColumn[]) => cs.map((c) => `${c.name} ${formatType(c.type)}`).join(", ");
const computed = (cs: readonly ComputedColumn[]) =>
  cs.map((c) => `${c.name} ${formatType(c.type)} := ${formatExpr(c.expr)}`).join(", ");

function line(s: PhysicalStep): string {
  const head = `${s.id}${s.table ? " [table]" : ""}`;
  switch (s.op) {
    case "Source":
      return `${head} ${s.sourceType} ${s.source} topic=${s.topic} key=${formatFormat(s.keyFormat)}(${schema(s.keySchema)}) value=${formatFormat(s.valueFormat)}(${schema(s.valueSchema)})${
        s.headers.length
          ? ` headers=(${s.headers.map((h) => `${h.name}${h.key !== undefined ? `<'${h.key}'>` : "<*>"}`).join(", ")})`
          : ""
      }${s.timestamp ? ` timestamp=${s.timestamp.column}${s.timestamp.format ? `('${s.timestamp.format}')` : ""}` : ""}${s.window ? ` window=${s.window.type}` : ""}${
        s.prefix ? ` prefix=${s.prefix}` : ""
      }${s.store ? ` store=${s.store}` : ""}`;
    case "Filter":
      return `${head} ${formatExpr(s.predicate)}`;
    case "Repartition":
      return `${head} key=(${computed(s.keys)}) topic=${s.topic}`;
    case "Join":
      return `${head} ${s.joinType} ${s.joinKind} ${formatExpr(s.leftKey)} = ${formatExpr(s.rightKey)} key=${s.keyName}${
        s.window
          ? ` within=(${s.window.beforeMs}ms, ${s.window.afterMs}ms${s.window.graceMs !== null ? `, grace ${s.window.graceMs}ms` : ""})`
          : ""
      } stores=(${s.leftStore}, ${s.rightStore})`;
    case "Aggregate":
      return `${head} key=(${computed(s.keys)}) aggregates=(${s.aggregates
        .map((a) => `${a.name} ${formatType(a.returnType)} := ${a.function}(${a.args.map(formatExpr).join(", ")})`)
        .join(
          ", ",
        )})${s.window ? ` window=${formatWindow(s.window)}` : ""} emit=${s.emit}${s.fromTable ? " retract" : ""} store=${s.store}`;
    case "TableFunction":
      return `${head} ${s.functions.map((f) => `${f.name} ${formatType(f.returnType)} := ${f.function}(${f.args.map(formatExpr).join(", ")})`).join(", ")}`;
    case "Project":
      return `${head} key=(${computed(s.key)}) value=(${computed(s.value)})`;
    case "Limit":
      return `${head} ${s.count}`;
    case "Sink":
      return `${head} ${s.sinkType} ${s.sink} topic=${s.topic} key=${formatFormat(s.keyFormat)}(${schema(s.keySchema)}) value=${formatFormat(s.valueFormat)}(${schema(s.valueSchema)})${
        s.timestamp ? ` timestamp=${s.timestamp.column}` : ""
      }${s.window ? ` window=${formatWindow(s.window)}` : ""}`;
    case "TableLookup":
      return `${head} ${s.source} ${formatAccess(s.access)}${s.window ? ` window=${s.window.type}` : ""}`;
    case "Output":
      return `${head} key=(${schema(s.keySchema)}) value=(${schema(s.valueSchema)})`;
  }
}

/** A pull query's access path: `scan`, `lookup keys=[...]` (per key column, its value sets intersected), `range [a, b)`. */
export function formatAccess(a: AccessPath): string {
  switch (a.kind) {
    case "scan":
      return "scan";
    case "lookup":
      return `lookup keys=[${a.columns
        .map((sets) => sets.map((set) => `{${set.map(formatExpr).join(", ")}}`).join(" & "))
        .join(", ")}]${a.window?.start ? ` windowstart=${formatBounds(a.window.start)}` : ""}${
        a.window?.end ? ` windowend=${formatBounds(a.window.end)}` : ""
      }`;
    case "range":
      return `range ${formatBounds(a)}`;
  }
}

/** `[a, b)`, `(-inf, b]`, ...: inclusive bounds in brackets, exclusive ones in parentheses. */
function formatBounds(b: Bounds): string {
  return `${b.lower ? `${b.lower.inclusive ? "[" : "("}${formatExpr(b.lower.value)}` : "(-inf"}, ${
    b.upper ? `${formatExpr(b.upper.value)}${b.upper.inclusive ? "]" : ")"}` : "+inf)"
  }`;
}

function inputs(s: PhysicalStep): PhysicalStep[] {
  if (s.op === "Join") return [s.left, s.right];
  if (s.op === "Source" || s.op === "TableLookup") return [];
  return [s.input];
}

function lines(s: PhysicalStep, depth: number, out: string[]): void {
  out.push("  ".repeat(depth) + line(s));
  for (const i of inputs(s)) lines(i, depth + 1, out);
}

export function formatPhysicalPlan(plan: PhysicalPlan): string {
  const out = [
    `Physical plan v${plan.version} ${plan.queryId} (${plan.kind})`,
    `  sources: ${plan.sourceTopics.join(", ")}`,
    ...(plan.sinkTopic ? [`  sink: ${plan.sinkTopic}`] : []),
    ...(plan.internalTopics.length ? [`  internal topics: ${plan.internalTopics.join(", ")}`] : []),
    ...(plan.stores.length ? [`  stores: ${plan.stores.join(", ")}`] : []),
  ];
  lines(plan.root, 1, out);
  return out.join("\n");
}
