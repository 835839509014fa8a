/** Predicates: BETWEEN, IN, LIKE, IS [NOT] DISTINCT FROM. */
import type { Expr } from "../../ast/nodes.ts";
import { BOOLEAN, NULL_TYPE, STRING, formatType, typeEquals, type SqlType } from "../../types/sqltype.ts";
import { commonSuperType } from "../../types/values.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext } from "../expressions.ts";
import { exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { comparisonType } from "../typeRules.ts";
import { coerceLiteral, timeLiteral } from "./literals.ts";
import { bad, coerce, isOrderable, report } from "./support.ts";

export function analyzeBetween(e: Extract<Expr, { kind: "Between" }>, ctx: ExprContext): TExpr {
  const operand = analyzeExpr(e.operand, ctx);
  const low = timeLiteral(operand, analyzeExpr(e.low, ctx), e.low, ctx);
  const high = timeLiteral(operand, analyzeExpr(e.high, ctx), e.high, ctx);
  const t1 = comparisonType(">=", operand.type, low.type);
  const t2 = comparisonType("<=", operand.type, high.type);
  const t = t1 && t2 ? (commonSuperType([t1, t2]) ?? (typeEquals(t1, t2) ? t1 : undefined)) : undefined;
  if (!t || !isOrderable(t)) {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Invalid BETWEEN: ${exprText(e.operand)} (${formatType(operand.type)}) cannot be compared with ${formatType(low.type)} and ${formatType(high.type)}`,
      e.span,
    );
    return bad(BOOLEAN);
  }
  return {
    kind: "Between",
    type: BOOLEAN,
    operand: coerce(operand, t),
    low: coerce(low, t),
    high: coerce(high, t),
    negated: e.negated,
  };
}

export function analyzeInList(e: Extract<Expr, { kind: "InList" }>, ctx: ExprContext): TExpr {
  const operand = analyzeExpr(e.operand, ctx);
  const items: TExpr[] = [];
  for (const it of e.items) {
    const diagsBefore = ctx.diags.length;
    let item = analyzeExpr(it, ctx);
    // An ARRAY constructor takes the operand's element type (`ARRAY['3', null]` against ARRAY<BIGINT>).
    if (
      operand.type.kind === "ARRAY" &&
      ctx.diags.length === diagsBefore &&
      it.kind === "ArrayCtor" &&
      item.kind === "Array"
    ) {
      const el = operand.type.element;
      const before = ctx.diags.length;
      const els = it.items.map((x) => {
        const v = coerceLiteral(analyzeExpr(x, ctx), el, x, ctx, "Invalid Predicate: ");
        return v.type.kind === "NULL" || comparisonType("=", el, v.type) ? coerce(v, el) : undefined;
      });
      if (ctx.diags.length > before) continue;
      if (els.every((x) => x !== undefined)) {
        items.push({
          kind: "Array",
          type: operand.type,
          items: els as TExpr[],
        });
        continue;
      }
    }
    item = coerceLiteral(item, operand.type, it, ctx, "Invalid Predicate: ");
    // A STRING operand takes literals of any primitive type as their text.
    if (
      operand.type.kind === "STRING" &&
      item.kind === "Literal" &&
      item.type.kind !== "STRING" &&
      item.type.kind !== "NULL"
    ) {
      items.push({
        kind: "Literal",
        type: STRING,
        value: it.kind === "Literal" ? (it.literal === "string" ? String(it.value) : it.text) : String(item.value),
      });
      continue;
    }
    // Structs in IN lists compare field by field: fields both have must compare; others are ignored.
    if (operand.type.kind === "STRUCT" && item.type.kind === "STRUCT") {
      if (structItemOk(operand.type, item, it, ctx)) {
        const shaped = shapeStructItem(operand.type, item, it, ctx);
        // An item with a field the operand lacks never equals it.
        if (shaped) items.push(shaped);
      }
      continue;
    }
    const t = comparisonType("=", operand.type, item.type);
    if (!t) {
      report(
        ctx,
        Codes.TYPE_MISMATCH,
        `Invalid Predicate: operator does not exist: ${formatType(operand.type)} = ${formatType(item.type)} (${exprText(it)})`,
        it.span,
        "You might need to add explicit type casts.",
      );
      continue;
    }
    items.push(
      coerce(item, operand.type.kind === "NULL" ? t : (commonSuperType([operand.type, item.type]) ?? operand.type)),
    );
  }
  // Numbers compare in the common type of the operand and every item (`5 IN (5.10)` is false).
  const NUMERIC = ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"];
  if (NUMERIC.includes(operand.type.kind) && items.some((x) => !typeEquals(x.type, operand.type))) {
    const all = commonSuperType([operand.type, ...items.map((x) => x.type).filter((t) => t.kind !== "NULL")]);
    if (all && NUMERIC.includes(all.kind))
      return {
        kind: "In",
        type: BOOLEAN,
        operand: coerce(operand, all),
        items: items.map((x) => coerce(x, all)),
        negated: e.negated,
      };
  }
  return { kind: "In", type: BOOLEAN, operand, items, negated: e.negated };
}

export function analyzeLike(e: Extract<Expr, { kind: "Like" }>, ctx: ExprContext): TExpr {
  const operand = analyzeExpr(e.operand, ctx);
  const pattern = analyzeExpr(e.pattern, ctx);
  for (const [x, src] of [
    [operand, e.operand],
    [pattern, e.pattern],
  ] as const) {
    if (x.type.kind !== "STRING" && x.type.kind !== "NULL")
      report(
        ctx,
        Codes.TYPE_MISMATCH,
        `LIKE needs STRING operands, found ${exprText(src)} (${formatType(x.type)})`,
        src.span,
      );
  }
  const escape = e.escape ? analyzeExpr(e.escape, ctx) : undefined;
  return escape
    ? {
        kind: "Like",
        type: BOOLEAN,
        operand,
        pattern,
        escape,
        negated: e.negated,
      }
    : { kind: "Like", type: BOOLEAN, operand, pattern, negated: e.negated };
}

export function analyzeIsDistinctFrom(e: Extract<Expr, { kind: "IsDistinctFrom" }>, ctx: ExprContext): TExpr {
  const left = analyzeExpr(e.left, ctx);
  const right = analyzeExpr(e.right, ctx);
  const t =
    comparisonType("=", left.type, right.type) ??
    (left.type.kind === "NULL" && right.type.kind === "NULL" ? NULL_TYPE : undefined);
  if (!t) {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Cannot compare ${exprText(e.left)} (${formatType(left.type)}) to ${exprText(e.right)} (${formatType(right.type)}) with IS DISTINCT FROM.`,
      e.span,
    );
    return bad(BOOLEAN);
  }
  return {
    kind: "IsDistinct",
    type: BOOLEAN,
    left: coerce(left, t),
    right: coerce(right, t),
    negated: e.negated,
  };
}

/** Whether a STRUCT item of an IN list can equal the operand's struct type (reports why not). */
function structItemOk(target: Extract<SqlType, { kind: "STRUCT" }>, item: TExpr, src: Expr, ctx: ExprContext): boolean {
  const find = (n: string) =>
    target.fields.find((f) => f.name === n) ?? target.fields.find((f) => f.name.toUpperCase() === n.toUpperCase());
  const fail = (got: SqlType) => {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Invalid Predicate: operator does not exist: ${formatType(target)} = ${formatType(got)} (${exprText(src)})`,
      src.span,
      "You might need to add explicit type casts.",
    );
    return false;
  };
  if (item.kind === "Struct" && src.kind === "StructCtor") {
    for (let i = 0; i < item.fields.length; i++) {
      const f = item.fields[i]!;
      const t = find(f.name);
      if (!t) continue;
      const before = ctx.diags.length;
      const v = coerceLiteral(f.value, t.type, src.fields[i]!.value, ctx, "Invalid Predicate: ");
      if (ctx.diags.length > before) return false;
      if (!comparisonType("=", t.type, v.type)) return fail(item.type);
    }
    return true;
  }
  const st = item.type as Extract<SqlType, { kind: "STRUCT" }>;
  for (const f of st.fields) {
    const t = find(f.name);
    if (t && !comparisonType("=", t.type, f.type)) return fail(item.type);
  }
  return true;
}

/**
 * A STRUCT constructor in an IN list rebuilt with the operand's struct type (missing fields NULL, literals
 * converted), so values compare field by field; undefined when it has a field the operand lacks.
 */
function shapeStructItem(
  target: Extract<SqlType, { kind: "STRUCT" }>,
  item: TExpr,
  src: Expr,
  ctx: ExprContext,
): TExpr | undefined {
  if (item.kind !== "Struct" || src.kind !== "StructCtor") return item;
  // Field names are case sensitive: `f0` is not `F0`.
  const find = (n: string) => target.fields.find((f) => f.name === n);
  if (item.fields.some((f) => !find(f.name))) return undefined;
  return {
    kind: "Struct",
    type: target,
    fields: target.fields.map((tf) => {
      const i = item.fields.findIndex((f) => find(f.name) === tf);
      if (i < 0)
        return {
          name: tf.name,
          value: { kind: "Literal", type: tf.type, value: null },
        };
      const v = coerceLiteral(item.fields[i]!.value, tf.type, src.fields[i]!.value, ctx, "");
      return {
        name: tf.name,
        value: v.type.kind === "NULL" ? { kind: "Literal", type: tf.type, value: null } : coerce(v, tf.type),
      };
    }),
  };
}
