/**
 * pruneColumns: each Source keeps in its `schema` only the columns some operator above reads (plus its key
 * columns, its timestamp column and the pseudo columns), so the runtime materializes no unused value fields.
 * `sourceColumns` (what decoding needs) is untouched. Aggregates, projections etc. already name exactly what
 * they output, so only sources are narrowed.
 */
import { columnsOf, type TExpr } from "../../semantic/typed.ts";
import { inputsOf, withInputs, type LogicalNode } from "../plan.ts";
import type { Rule } from "./rule.ts";
import { assertNever } from "../../types/never.ts";

/** Column names the node itself reads from its inputs. */
function reads(n: LogicalNode): TExpr[] {
  switch (n.kind) {
    case "Filter":
    case "Having":
      return [n.predicate];
    case "Repartition":
      return n.keys.map((k) => k.expr);
    case "Join":
      return [n.leftKey, n.rightKey];
    case "Aggregate":
      return [...n.groupBy.map((g) => g.expr), ...n.aggregates.map((a) => a.call)];
    case "TableFunction":
      return n.functions.map((f) => f.call);
    case "Project":
      return n.columns.map((c) => c.expr);
    // A new kind must say what it reads: a default of "nothing" would prune the columns it needs.
    case "Source":
    case "Limit":
    case "Sink":
    case "Output":
      return [];
    default:
      return assertNever(n, "logical node");
  }
}

/** Whether a node forwards its input row unchanged in name (so what is read above is read from below). */
function passesThrough(n: LogicalNode): boolean {
  return (
    n.kind === "Filter" ||
    n.kind === "Having" ||
    n.kind === "Repartition" ||
    n.kind === "TableFunction" ||
    n.kind === "Limit" ||
    n.kind === "Join" ||
    n.kind === "Sink" ||
    n.kind === "Output"
  );
}

function prune(n: LogicalNode, needed: Set<string>): LogicalNode {
  if (n.kind === "Source") {
    const ts = n.timestamp ? (n.prefix ?? "") + n.timestamp.column : undefined;
    const schema = n.schema.filter(
      (c) => c.namespace === "KEY" || c.namespace === "PSEUDO" || c.name === ts || needed.has(c.name),
    );
    return schema.length === n.schema.length ? n : { ...n, schema };
  }
  const own = new Set<string>();
  for (const e of reads(n)) columnsOf(e, own);
  const below = passesThrough(n) ? new Set([...needed, ...own]) : own;
  const inputs = inputsOf(n);
  const next = inputs.map((i) => prune(i, below));
  return next.some((x, i) => x !== inputs[i]) ? withInputs(n, next) : n;
}

export const pruneColumns: Rule = {
  name: "pruneColumns",
  apply: (plan) => {
    const root = prune(plan.root, new Set());
    return root === plan.root ? plan : { ...plan, root };
  },
};
