/** Operators: unary minus, plus and NOT; logical, comparison, concatenation and arithmetic operators; CAST. */
import type { Expr } from "../../ast/nodes.ts";
import { BOOLEAN, DOUBLE, STRING, formatType, isNumeric } from "../../types/sqltype.ts";
import { arithmetic } from "../../types/values.ts";
import { MAX_DECIMAL_PRECISION } from "../../limits.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, resolveType, type ExprContext } from "../expressions.ts";
import { exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { canCast, comparisonType, integerLiteralType } from "../typeRules.ts";
import { timeLiteral } from "./literals.ts";
import { bad, clausePrefix, coerce, expectBoolean, report } from "./support.ts";

/** ksqlDB names comparison operators in messages like this. */
const OP_NAMES: Record<string, string> = {
  "=": "EQUAL",
  "<>": "NOT_EQUAL",
  "<": "LESS_THAN",
  "<=": "LESS_THAN_OR_EQUAL",
  ">": "GREATER_THAN",
  ">=": "GREATER_THAN_OR_EQUAL",
};

export function analyzeUnary(e: Extract<Expr, { kind: "Unary" }>, ctx: ExprContext): TExpr {
  if (
    e.op === "-" &&
    e.operand.kind === "Literal" &&
    (e.operand.literal === "integer" || e.operand.literal === "decimal" || e.operand.literal === "double")
  ) {
    const lit = analyzeExpr(e.operand, ctx) as Extract<TExpr, { kind: "Literal" }>;
    const v = typeof lit.value === "number" ? -lit.value : `-${String(lit.value)}`;
    const type =
      e.operand.literal === "integer" && typeof lit.value === "number" ? integerLiteralType(-lit.value) : lit.type;
    return { kind: "Literal", type, value: v === 0 ? 0 : v };
  }
  const operand = analyzeExpr(e.operand, ctx);
  if (e.op === "NOT") {
    expectBoolean(operand, e.operand, ctx);
    return {
      kind: "Not",
      type: BOOLEAN,
      operand: coerce(operand, BOOLEAN),
    };
  }
  if (!isNumeric(operand.type) && operand.type.kind !== "NULL") {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Unary ${e.op} needs a number, found ${exprText(e.operand)} (${formatType(operand.type)})`,
      e.span,
    );
    return bad();
  }
  return e.op === "+" ? operand : { kind: "Negate", type: operand.type, operand };
}

/** An expression's text for a message, or "this expression" when the text is long. */
function shortText(e: Expr): string {
  const text = exprText(e);
  return text.length <= 80 ? text : "this expression";
}

export function analyzeBinary(e: Extract<Expr, { kind: "Binary" }>, ctx: ExprContext): TExpr {
  const left = analyzeExpr(e.left, ctx);
  const right = analyzeExpr(e.right, ctx);
  switch (e.op) {
    case "AND":
    case "OR":
      expectBoolean(left, e.left, ctx);
      expectBoolean(right, e.right, ctx);
      return {
        kind: "Logical",
        type: BOOLEAN,
        op: e.op,
        left: coerce(left, BOOLEAN),
        right: coerce(right, BOOLEAN),
      };
    case "||":
      return {
        kind: "Concat",
        type: STRING,
        left: coerce(left, STRING),
        right: coerce(right, STRING),
      };
    case "=":
    case "<>":
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const l2 = timeLiteral(right, left, e.left, ctx);
      const r2 = timeLiteral(left, right, e.right, ctx);
      if (l2 !== left || r2 !== right)
        return {
          kind: "Compare",
          type: BOOLEAN,
          op: e.op,
          left: l2,
          right: r2,
        };
      if (left.type.kind === "NULL" || right.type.kind === "NULL") {
        const side = (x: TExpr, src: Expr) =>
          x.type.kind === "NULL" ? "NULL" : src.kind === "Literal" ? exprText(src) : formatType(x.type);
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          `${clausePrefix(ctx)}Comparison with NULL not supported: ${side(left, e.left)} ${e.op} ${side(right, e.right)}`,
          e.span,
          "Use 'IS NULL' or 'IS NOT NULL' instead.",
        );
        return bad(BOOLEAN);
      }
      const t = comparisonType(e.op, left.type, right.type);
      if (!t) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          `${clausePrefix(ctx)}Cannot compare ${exprText(e.left)} (${formatType(left.type)}) to ${exprText(e.right)} (${formatType(right.type)}) with ${OP_NAMES[e.op]}.`,
          e.span,
        );
        return bad(BOOLEAN);
      }
      // DECIMALs of different scales compare as they are (the runtime rescales); others convert to `t`.
      const conv = (x: TExpr) => (x.type.kind === "DECIMAL" && t.kind === "DECIMAL" ? x : coerce(x, t));
      return {
        kind: "Compare",
        type: BOOLEAN,
        op: e.op,
        left: conv(left),
        right: conv(right),
      };
    }
    default: {
      if (
        (left.type.kind === "NULL" && e.left.kind === "Literal") ||
        (right.type.kind === "NULL" && e.right.kind === "Literal")
      ) {
        const t = (x: TExpr) => (x.type.kind === "NULL" ? "null" : formatType(x.type));
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          `Error processing expression: ${exprText(e)}. Arithmetic on types ${t(left)} and ${t(right)} are not supported.`,
          e.span,
        );
        return bad();
      }
      const a = arithmetic(e.op, left.type, right.type);
      if (a !== undefined && a.type.kind === "DECIMAL" && a.type.precision > MAX_DECIMAL_PRECISION) {
        report(
          ctx,
          Codes.INVALID_TYPE,
          `${clausePrefix(ctx)}the result of ${shortText(e)} would be ${formatType(a.type)}, beyond DECIMAL's maximum precision ${MAX_DECIMAL_PRECISION}`,
          e.span,
          "CAST an operand to a smaller DECIMAL or to DOUBLE",
        );
        // DOUBLE, not NULL: a NULL operand would take the other's DECIMAL type and fail again one level up.
        return bad(DOUBLE);
      }
      if (!a) {
        if (e.op === "+" && left.type.kind === "STRING" && right.type.kind === "STRING")
          return { kind: "Concat", type: STRING, left, right };
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          `${clausePrefix(ctx)}Error processing expression: ${exprText(e)}. Unsupported arithmetic types. ${formatType(left.type)} ${formatType(right.type)}`,
          e.span,
        );
        return bad();
      }
      return {
        kind: "Arithmetic",
        type: a.type,
        op: e.op,
        left: coerce(left, a.leftType),
        right: coerce(right, a.rightType),
      };
    }
  }
}

export function analyzeCast(e: Extract<Expr, { kind: "Cast" }>, ctx: ExprContext): TExpr {
  const operand = analyzeExpr(e.operand, ctx);
  const to = resolveType(e.type, ctx.catalog, ctx.diags);
  if (!canCast(operand.type, to)) {
    report(
      ctx,
      Codes.INVALID_CAST,
      `${ctx.clause === "SELECT" ? "Invalid Select: " : clausePrefix(ctx)}Cast of ${formatType(operand.type)} to ${formatType(to)} is not supported`,
      e.span,
    );
    return bad(to);
  }
  return { kind: "Cast", type: to, operand, implicit: false };
}
