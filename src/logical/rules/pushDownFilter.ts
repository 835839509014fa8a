/**
 * pushDownFilter: a WHERE conjunct above a join that reads only one side's columns moves below the join,
 * onto that side, so fewer records are joined (and repartitioned). Only where it cannot change the
 * result: both sides of an INNER join, the left side of a LEFT join, the right side of a RIGHT join;
 * never for FULL joins. Conjuncts that read the joined record's own pseudo columns (unprefixed ROWTIME...)
 * or both sides stay above.
 */
import { columnsOf, type TExpr } from "../../semantic/typed.ts";
import { inputsOf, withInputs, type LogicalNode } from "../plan.ts";
import type { Rule } from "./rule.ts";

function conjuncts(e: TExpr): TExpr[] {
  return e.kind === "Logical" && e.op === "AND" ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

function and(es: TExpr[]): TExpr {
  return es.reduce((a, b) => ({
    kind: "Logical",
    type: { kind: "BOOLEAN" },
    op: "AND",
    left: a,
    right: b,
  }));
}

/** Names a side's rows provide (its schema). */
function provides(n: LogicalNode): Set<string> {
  return new Set(n.schema.map((c) => c.name));
}

/** Puts a filter directly on `n` (keeping the schema). */
function filterOn(n: LogicalNode, preds: TExpr[]): LogicalNode {
  return preds.length ? { kind: "Filter", input: n, predicate: and(preds), schema: n.schema } : n;
}

function rewrite(n: LogicalNode): LogicalNode {
  const inputs = inputsOf(n).map(rewrite);
  const node = inputs.some((x, i) => x !== inputsOf(n)[i]) ? withInputs(n, inputs) : n;
  if (node.kind !== "Filter" || node.input.kind !== "Join") return node;
  const join = node.input;
  const canLeft = join.joinType === "INNER" || join.joinType === "LEFT";
  const canRight = join.joinType === "INNER" || join.joinType === "RIGHT";
  const leftCols = provides(join.left);
  const rightCols = provides(join.right);
  const keep: TExpr[] = [];
  const toLeft: TExpr[] = [];
  const toRight: TExpr[] = [];
  for (const c of conjuncts(node.predicate)) {
    const cols = [...columnsOf(c)];
    if (canLeft && cols.length && cols.every((x) => leftCols.has(x))) toLeft.push(c);
    else if (canRight && cols.length && cols.every((x) => rightCols.has(x))) toRight.push(c);
    else keep.push(c);
  }
  if (!toLeft.length && !toRight.length) return node;
  const newJoin: LogicalNode = {
    ...join,
    left: filterOn(join.left, toLeft),
    right: filterOn(join.right, toRight),
  };
  return keep.length ? { ...node, input: newJoin, predicate: and(keep) } : newJoin;
}

export const pushDownFilter: Rule = {
  name: "pushDownFilter",
  apply: (plan) => {
    const root = rewrite(plan.root);
    return root === plan.root ? plan : { ...plan, root };
  },
};
