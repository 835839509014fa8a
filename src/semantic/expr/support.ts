/** What the expression analyzers share: the placeholder for a bad expression, reporting, implicit casts. */
import type { Expr } from "../../ast/nodes.ts";
import { error, type Span } from "../../diagnostics/diagnostic.ts";
import type { DiagnosticCode } from "../../diagnostics/codes.ts";
import { NULL_TYPE, formatType, typeEquals, type SqlType } from "../../types/sqltype.ts";
import { Codes } from "../codes.ts";
import type { ExprContext } from "../expressions.ts";
import { exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";

/** What an expression that could not be typed becomes (after its problem is reported). */
export const bad = (type: SqlType = NULL_TYPE): TExpr => ({
  kind: "Literal",
  type,
  value: null,
});

export function report(ctx: ExprContext, code: DiagnosticCode, message: string, span: Span, hint?: string): void {
  ctx.diags.push(error(code, message, span, hint));
}

export const hintFor = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

/** Wraps `e` in an implicit cast to `to` when its type differs. */
export function coerce(e: TExpr, to: SqlType): TExpr {
  if (typeEquals(e.type, to)) return e;
  if (e.kind === "Literal" && e.value === null) return { kind: "Literal", type: to, value: null };
  return { kind: "Cast", type: to, operand: e, implicit: true };
}

/** ksqlDB prefixes type errors of WHERE and HAVING with the clause. */
export const clausePrefix = (ctx: ExprContext) =>
  ctx.clause === "WHERE" || ctx.clause === "HAVING" ? `Error in ${ctx.clause} expression: ` : "";

export function isOrderable(t: SqlType): boolean {
  return t.kind !== "ARRAY" && t.kind !== "MAP" && t.kind !== "STRUCT";
}

export function expectBoolean(x: TExpr, src: Expr, ctx: ExprContext): void {
  if (x.type.kind !== "BOOLEAN" && x.type.kind !== "NULL")
    report(ctx, Codes.TYPE_MISMATCH, `Expected a BOOLEAN, found ${exprText(src)} (${formatType(x.type)})`, src.span);
}
