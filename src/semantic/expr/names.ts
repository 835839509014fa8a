/** Names: columns (and lambda parameters) resolved against the scope, struct fields, array and map subscripts. */
import type { Expr } from "../../ast/nodes.ts";
import { INTEGER, formatType } from "../../types/sqltype.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext } from "../expressions.ts";
import { closest, exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { bad, coerce, hintFor, report } from "./support.ts";

export function resolveColumn(e: Extract<Expr, { kind: "ColumnRef" }>, ctx: ExprContext): TExpr {
  const { scope } = ctx;
  if (!e.qualifier && ctx.lambdaVars?.has(e.name))
    return {
      kind: "LambdaVar",
      type: ctx.lambdaVars.get(e.name)!,
      name: e.name,
    };
  if (e.qualifier !== undefined && !scope.qualifiers.has(e.qualifier)) {
    // `col.field` is not ksqlDB syntax for structs (that is `col->field`): an unknown qualifier is an error.
    report(
      ctx,
      Codes.UNKNOWN_SOURCE,
      `'${e.qualifier}' is not a valid stream/table name or alias.`,
      e.span,
      hintFor(closest(e.qualifier, scope.qualifiers)),
    );
    return bad();
  }
  const found = scope.columns.filter(
    (c) => c.column === e.name && (e.qualifier === undefined || c.qualifier === e.qualifier),
  );
  let distinct = [...new Map(found.map((c) => [c.name, c])).values()];
  // An unqualified pseudo column in a join is the joined record's, not one side's.
  if (distinct.length > 1 && e.qualifier === undefined) {
    const own = distinct.filter((c) => c.qualifier === undefined);
    if (own.length === 1) distinct = own;
  }
  if (distinct.length === 1) {
    const c = distinct[0]!;
    return { kind: "Column", type: c.type, name: c.name };
  }
  if (distinct.length > 1) {
    // A join's key may appear under both sides' names with the same value: prefer a non-pseudo column.
    report(
      ctx,
      Codes.AMBIGUOUS_COLUMN,
      `Column '${e.name}' is ambiguous. Could be ${distinct.map((c) => `${c.qualifier}.${c.column}`).join(" or ")}.`,
      e.span,
    );
    return bad();
  }
  const text = e.qualifier ? `${e.qualifier}.${e.name}` : e.name;
  if ((e.name === "WINDOWSTART" || e.name === "WINDOWEND") && ctx.clause !== "SELECT") {
    report(
      ctx,
      Codes.UNKNOWN_COLUMN,
      `Window bounds column ${e.name} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions.`,
      e.span,
    );
    return bad();
  }
  report(
    ctx,
    Codes.UNKNOWN_COLUMN,
    `${ctx.clause === "EXPRESSION" ? "Column" : `${ctx.clause} column`} '${text}' cannot be resolved.${
      ctx.clause === "PARTITION BY"
        ? ` '${text}' must be a column in the source schema since PARTITION BY is applied on the input.`
        : ""
    }`,
    e.span,
    hintFor(
      closest(
        e.name,
        scope.columns.filter((c) => c.namespace !== "PSEUDO").map((c) => c.column),
      ),
    ),
  );
  return bad();
}

export function analyzeDereference(e: Extract<Expr, { kind: "Dereference" }>, ctx: ExprContext): TExpr {
  const base = analyzeExpr(e.base, ctx);
  if (base.type.kind === "NULL") return bad();
  if (base.type.kind !== "STRUCT") {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Can't dereference '${e.field}': ${exprText(e.base)} is ${formatType(base.type)}, not a STRUCT`,
      e.span,
    );
    return bad();
  }
  const f =
    base.type.fields.find((x) => x.name === e.field) ??
    base.type.fields.find((x) => x.name.toUpperCase() === e.field.toUpperCase());
  if (!f) {
    report(
      ctx,
      Codes.UNKNOWN_FIELD,
      `Could not find field '${e.field}' in '${exprText(e.base)}' (${formatType(base.type)})`,
      e.span,
      hintFor(
        closest(
          e.field,
          base.type.fields.map((x) => x.name),
        ),
      ),
    );
    return bad();
  }
  return { kind: "Field", type: f.type, base, field: f.name };
}

export function analyzeSubscript(e: Extract<Expr, { kind: "Subscript" }>, ctx: ExprContext): TExpr {
  const base = analyzeExpr(e.base, ctx);
  const index = analyzeExpr(e.index, ctx);
  if (base.type.kind === "ARRAY") {
    if (index.type.kind !== "INTEGER" && index.type.kind !== "BIGINT" && index.type.kind !== "NULL") {
      report(ctx, Codes.TYPE_MISMATCH, `Array index must be INTEGER, found ${formatType(index.type)}`, e.index.span);
    }
    return {
      kind: "Subscript",
      type: base.type.element,
      base,
      index: coerce(index, INTEGER),
    };
  }
  if (base.type.kind === "MAP") {
    return {
      kind: "Subscript",
      type: base.type.value,
      base,
      index: coerce(index, base.type.key),
    };
  }
  if (base.type.kind !== "NULL")
    report(ctx, Codes.TYPE_MISMATCH, `Subscript needs an ARRAY or a MAP, found ${formatType(base.type)}`, e.span);
  return bad();
}
