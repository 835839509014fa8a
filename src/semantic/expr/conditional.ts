/** CASE: simple and searched, typed with the common type of its results. */
import type { Expr } from "../../ast/nodes.ts";
import { BOOLEAN, formatType } from "../../types/sqltype.ts";
import { commonSuperType } from "../../types/values.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext } from "../expressions.ts";
import { exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { comparisonType } from "../typeRules.ts";
import { bad, coerce, report } from "./support.ts";

export function analyzeCase(e: Extract<Expr, { kind: "Case" }>, ctx: ExprContext): TExpr {
  const before = ctx.diags.length;
  const operand = e.operand ? analyzeExpr(e.operand, ctx) : undefined;
  const whens: { when: TExpr; then: TExpr }[] = [];
  for (const w of e.whens) {
    let cond = analyzeExpr(w.when, ctx);
    if (operand) {
      const t = comparisonType("=", operand.type, cond.type);
      if (!t) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          `Invalid Case expression: cannot compare ${formatType(operand.type)} to ${formatType(cond.type)} (${exprText(w.when)})`,
          w.when.span,
        );
      } else
        cond = {
          kind: "Compare",
          type: BOOLEAN,
          op: "=",
          left: coerce(operand, t),
          right: coerce(cond, t),
        };
    } else if (cond.type.kind !== "BOOLEAN" && cond.type.kind !== "NULL") {
      report(
        ctx,
        Codes.TYPE_MISMATCH,
        `WHEN operand type should be boolean. Type for '${exprText(w.when)}' is ${formatType(cond.type)}`,
        w.when.span,
      );
    }
    whens.push({ when: cond, then: analyzeExpr(w.then, ctx) });
  }
  const elseExpr = e.else ? analyzeExpr(e.else, ctx) : undefined;
  const results = [...whens.map((w) => w.then), ...(elseExpr ? [elseExpr] : [])];
  if (ctx.diags.length > before) return bad();
  if (results.every((r) => r.type.kind === "NULL")) {
    report(ctx, Codes.TYPE_MISMATCH, "Invalid Case expression. All case branches have NULL type", e.span);
    return bad();
  }
  const t = commonSuperType(results.map((r) => r.type));
  if (!t) {
    const first = results.find((r) => r.type.kind !== "NULL")!;
    const other = results.find((r) => r.type.kind !== "NULL" && commonSuperType([first.type, r.type]) === undefined)!;
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Invalid Case expression. Type for all 'THEN' clauses should be the same. Result types: ${formatType(first.type)} and ${formatType(other.type)}`,
      e.span,
    );
    return bad();
  }
  return {
    kind: "Case",
    type: t,
    whens: whens.map((w) => ({ when: w.when, then: coerce(w.then, t) })),
    ...(elseExpr ? { else: coerce(elseExpr, t) } : {}),
  };
}
