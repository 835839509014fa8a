/**
 * Expression analysis: resolves names against a {@link Scope}, infers and checks types with ksqlDB's rules,
 * resolves function calls through the registry, and produces {@link TExpr} trees with implicit casts made
 * explicit. Problems are pushed to `ctx.diags`; the returned tree is then only a best effort.
 */
import { TIME_UNIT_WORDS } from "../../grammar/tokens.ts";
import type { Expr, TypeNode } from "../ast/nodes.ts";
import { error, type Diagnostic, type Span } from "../diagnostics/diagnostic.ts";
import type { ArgInfo, FunctionRegistry } from "../functions/types.ts";
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  INTEGER,
  NULL_TYPE,
  STRING,
  formatType,
  isNumeric,
  typeEquals,
  type SqlType,
} from "../types/sqltype.ts";
import { arithmetic, commonSuperType, parseIsoTimestamp } from "../types/values.ts";
import type { Catalog, Namespace } from "./catalog.ts";
import { MAX_DECIMAL_PRECISION } from "../limits.ts";
import { Codes } from "./codes.ts";
import { closest, exprText } from "./exprText.ts";
import type { TExpr } from "./typed.ts";
import { canCast, comparisonType, decimalLiteralType, integerLiteralType } from "./typeRules.ts";
import type { DiagnosticCode } from "../diagnostics/codes.ts";

/** One column visible to expressions. */
export interface ScopeColumn {
  /** The column's name in the operator's input row (what `Column` nodes carry). */
  readonly name: string;
  /** The name users write (unqualified). */
  readonly column: string;
  /** The source alias that qualifies it (`a` in `a.col`); absent for columns of a derived row. */
  readonly qualifier?: string;
  readonly type: SqlType;
  readonly namespace: Namespace | "PSEUDO";
}

export interface Scope {
  readonly columns: readonly ScopeColumn[];
  /** Valid qualifiers (source names and aliases). */
  readonly qualifiers: ReadonlySet<string>;
}

/** Where an expression stands, for messages ("SELECT column 'X' cannot be resolved") and the rules. */
export type Clause = "SELECT" | "WHERE" | "GROUP BY" | "HAVING" | "PARTITION BY" | "JOIN ON" | "VALUES" | "EXPRESSION";

export interface ExprContext {
  readonly catalog: Catalog;
  readonly functions: FunctionRegistry;
  readonly scope: Scope;
  readonly clause: Clause;
  readonly diags: Diagnostic[];
  readonly allowAggregates: boolean;
  readonly allowTableFunctions: boolean;
  /** Lambda parameters in scope (innermost last). */
  readonly lambdaVars?: ReadonlyMap<string, SqlType>;
  /** Inside an aggregate's arguments (nested aggregates are errors). */
  readonly inAggregate?: boolean;
}

const bad = (type: SqlType = NULL_TYPE): TExpr => ({
  kind: "Literal",
  type,
  value: null,
});

function report(ctx: ExprContext, code: DiagnosticCode, message: string, span: Span, hint?: string): void {
  ctx.diags.push(error(code, message, span, hint));
}

/** Resolves a written type (custom types through the catalog). Reports unknown custom types. */
export function resolveType(t: TypeNode, catalog: Catalog, diags: Diagnostic[]): SqlType {
  switch (t.kind) {
    case "PrimitiveType":
      return { kind: t.name };
    case "DecimalType": {
      const { precision, scale } = t;
      if (precision >= 1 && precision <= MAX_DECIMAL_PRECISION && scale >= 0 && scale <= precision)
        return { kind: "DECIMAL", precision, scale };
      diags.push(
        error(
          Codes.INVALID_TYPE,
          `DECIMAL precision must be between 1 and ${MAX_DECIMAL_PRECISION} and scale between 0 and the precision, found DECIMAL(${precision}, ${scale})`,
          t.span,
        ),
      );
      // Go on with a type in range: nothing later should size anything by the bad numbers.
      const p = Math.min(Math.max(precision, 1), MAX_DECIMAL_PRECISION) || 1;
      return { kind: "DECIMAL", precision: p, scale: Math.min(Math.max(scale, 0), p) || 0 };
    }
    case "ArrayType":
      return { kind: "ARRAY", element: resolveType(t.element, catalog, diags) };
    case "MapType":
      return {
        kind: "MAP",
        key: resolveType(t.key, catalog, diags),
        value: resolveType(t.value, catalog, diags),
      };
    case "StructType": {
      const seen = new Set<string>();
      for (const f of t.fields) {
        if (seen.has(f.name))
          diags.push(error(Codes.DUPLICATE_FIELD, `Duplicate field names found in STRUCT: '${f.name}'`, f.span));
        seen.add(f.name);
      }
      return {
        kind: "STRUCT",
        fields: t.fields.map((f) => ({
          name: f.name,
          type: resolveType(f.type, catalog, diags),
        })),
      };
    }
    case "CustomType": {
      const found = catalog.type(t.name);
      if (found) return found;
      // A primitive name written in a position the parser took for a custom type.
      diags.push(
        error(Codes.UNKNOWN_TYPE, `Unknown type: ${t.name}`, t.span, hintFor(closest(t.name, catalog.types.keys()))),
      );
      return NULL_TYPE;
    }
  }
}

const hintFor = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

/** Wraps `e` in an implicit cast to `to` when its type differs. */
export function coerce(e: TExpr, to: SqlType): TExpr {
  if (typeEquals(e.type, to)) return e;
  if (e.kind === "Literal" && e.value === null) return { kind: "Literal", type: to, value: null };
  return { kind: "Cast", type: to, operand: e, implicit: true };
}

/** ksqlDB prefixes type errors of WHERE and HAVING with the clause. */
const clausePrefix = (ctx: ExprContext) =>
  ctx.clause === "WHERE" || ctx.clause === "HAVING" ? `Error in ${ctx.clause} expression: ` : "";

/** ksqlDB names comparison operators in messages like this. */
const OP_NAMES: Record<string, string> = {
  "=": "EQUAL",
  "<>": "NOT_EQUAL",
  "<": "LESS_THAN",
  "<=": "LESS_THAN_OR_EQUAL",
  ">": "GREATER_THAN",
  ">=": "GREATER_THAN_OR_EQUAL",
};

export function analyzeExpr(e: Expr, ctx: ExprContext): TExpr {
  switch (e.kind) {
    case "Literal":
      switch (e.literal) {
        case "null":
          return { kind: "Literal", type: NULL_TYPE, value: null };
        case "boolean":
          return { kind: "Literal", type: BOOLEAN, value: e.value as boolean };
        case "integer": {
          const t = integerLiteralType(e.value as number);
          // Beyond 2^53 a JS number loses digits: keep the text.
          const safe = Number.isSafeInteger(e.value as number);
          return {
            kind: "Literal",
            type: t,
            value: safe ? (e.value as number) : e.text,
          };
        }
        case "decimal":
          return {
            kind: "Literal",
            type: decimalLiteralType(String(e.value)),
            value: String(e.value),
          };
        case "double":
          return { kind: "Literal", type: DOUBLE, value: e.value as number };
        case "string":
          return { kind: "Literal", type: STRING, value: e.value as string };
      }
      break;
    case "ColumnRef":
      return resolveColumn(e, ctx);
    case "Dereference": {
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
    case "Subscript": {
      const base = analyzeExpr(e.base, ctx);
      const index = analyzeExpr(e.index, ctx);
      if (base.type.kind === "ARRAY") {
        if (index.type.kind !== "INTEGER" && index.type.kind !== "BIGINT" && index.type.kind !== "NULL") {
          report(
            ctx,
            Codes.TYPE_MISMATCH,
            `Array index must be INTEGER, found ${formatType(index.type)}`,
            e.index.span,
          );
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
    case "Unary": {
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
    case "Binary":
      return analyzeBinary(e, ctx);
    case "IsNull":
      return {
        kind: "IsNull",
        type: BOOLEAN,
        operand: analyzeExpr(e.operand, ctx),
        negated: e.negated,
      };
    case "Between": {
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
    case "InList": {
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
    case "Like": {
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
    case "IsDistinctFrom": {
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
    case "Case":
      return analyzeCase(e, ctx);
    case "Cast": {
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
    case "FunctionCall":
      return analyzeCall(e, ctx);
    case "Lambda":
      report(ctx, Codes.LAMBDA_POSITION, "A lambda is only valid as a function argument", e.span);
      return bad();
    case "ArrayCtor": {
      const items = e.items.map((x) => analyzeExpr(x, ctx));
      if (items.length > 0 && items.every((x) => x.type.kind === "NULL")) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.",
          e.span,
        );
        return bad();
      }
      const element = unify(items, e.items, ctx, "array");
      if (!element) return bad();
      return {
        kind: "Array",
        type: { kind: "ARRAY", element },
        items: items.map((x, i) => coerce(coerceLiteral(x, element, e.items[i]!, ctx, ""), element)),
      };
    }
    case "MapCtor": {
      if (e.entries.length === 0) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          "Map constructor cannot be empty. Please supply at least one key value pair (see https://github.com/confluentinc/ksql/issues/4239).",
          e.span,
        );
        return bad();
      }
      const keys = e.entries.map((x) => analyzeExpr(x.key, ctx));
      const values = e.entries.map((x) => analyzeExpr(x.value, ctx));
      if (keys.every((k) => k.type.kind === "NULL")) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          "Cannot construct a map with all NULL keys (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL key to the desired type.",
          e.span,
        );
        return bad();
      }
      if (values.every((k) => k.type.kind === "NULL")) {
        report(
          ctx,
          Codes.TYPE_MISMATCH,
          "Cannot construct a map with all NULL values (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.",
          e.span,
        );
        return bad();
      }
      const kt = unify(
        keys,
        e.entries.map((x) => x.key),
        ctx,
        "map key",
      );
      const vt = unify(
        values,
        e.entries.map((x) => x.value),
        ctx,
        "map value",
      );
      if (!kt || !vt) return bad();
      return {
        kind: "Map",
        type: { kind: "MAP", key: kt, value: vt },
        entries: e.entries.map((x, i) => ({
          key: coerce(coerceLiteral(keys[i]!, kt, x.key, ctx, ""), kt),
          value: coerce(coerceLiteral(values[i]!, vt, x.value, ctx, ""), vt),
        })),
      };
    }
    case "StructCtor": {
      const seen = new Set<string>();
      const fields: { name: string; value: TExpr }[] = [];
      for (const f of e.fields) {
        if (seen.has(f.name)) {
          report(ctx, Codes.DUPLICATE_FIELD, `Duplicate field names found in STRUCT: '${f.name}'`, f.span);
        }
        seen.add(f.name);
        fields.push({ name: f.name, value: analyzeExpr(f.value, ctx) });
      }
      return {
        kind: "Struct",
        type: {
          kind: "STRUCT",
          fields: fields.map((f) => ({ name: f.name, type: f.value.type })),
        },
        fields,
      };
    }
  }
  return bad();
}

const TIME_COLUMNS = /(^|_)(ROWTIME|WINDOWSTART|WINDOWEND)$/;

/**
 * ksqlDB lets ROWTIME / WINDOWSTART / WINDOWEND (BIGINT millis) be compared with a timestamp string
 * (`ROWTIME > '2020-01-01T00:00:00'`): the string becomes the epoch millis it denotes, at compile time.
 * Returns `x` converted when `other` is such a column and `x` a STRING literal, else `x`.
 */
function timeLiteral(other: TExpr, x: TExpr, src: Expr, ctx: ExprContext): TExpr {
  if (other.kind !== "Column" || other.type.kind !== "BIGINT" || !TIME_COLUMNS.test(other.name)) return x;
  if (x.kind !== "Literal" || typeof x.value !== "string") return x;
  const text = x.value.trim();
  if (/^-?\d+$/.test(text)) return { kind: "Literal", type: BIGINT, value: Number(text) };
  const ms = parsePartialTimestamp(text);
  if (ms !== undefined) return { kind: "Literal", type: BIGINT, value: ms };
  try {
    return { kind: "Literal", type: BIGINT, value: parseIsoTimestamp(text) };
  } catch {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Cannot convert '${text}' to a timestamp (expected yyyy-MM-ddTHH:mm:ss.SSS[zone])`,
      src.span,
    );
    return x;
  }
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

/**
 * ksqlDB's partial timestamp text for window bounds and ROWTIME: `yyyy-MM-dd['T'HH[:mm[:ss[.fff]]]][zone]`,
 * missing parts zero, hour 24 allowed (midnight of the next day), zone `Z`, `±hh[:mm]` or `±hhmm` (default UTC).
 */
function parsePartialTimestamp(text: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      text,
    );
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", se = "0", frac = "0", zone] = m;
  let offset = 0;
  if (zone && zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offset = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60000;
  }
  const ms = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(se),
    Number(frac.padEnd(3, "0").slice(0, 3)),
  );
  return Number.isNaN(ms) ? undefined : ms - offset;
}

function isOrderable(t: SqlType): boolean {
  return t.kind !== "ARRAY" && t.kind !== "MAP" && t.kind !== "STRUCT";
}

function expectBoolean(x: TExpr, src: Expr, ctx: ExprContext): void {
  if (x.type.kind !== "BOOLEAN" && x.type.kind !== "NULL")
    report(ctx, Codes.TYPE_MISMATCH, `Expected a BOOLEAN, found ${exprText(src)} (${formatType(x.type)})`, src.span);
}

/** The common type of constructor items (string literals convert to the others' type), or undefined after reporting. */
function unify(items: TExpr[], srcs: readonly Expr[], ctx: ExprContext, what: string): SqlType | undefined {
  const isStrLit = (x: TExpr) => x.kind === "Literal" && x.type.kind === "STRING";
  const nonLiteralStrings = items.filter((x) => !isStrLit(x));
  // Untyped NULLs take the others' type: `['3', null]` is an ARRAY<STRING>.
  const typed = nonLiteralStrings.filter((x) => x.type.kind !== "NULL");
  const base = typed.length ? typed : items.filter((x) => x.type.kind !== "NULL");
  // Among numbers, a numeric STRING literal counts with its own number type (ksqlDB: '2e1' is a DECIMAL).
  const numeric = nonLiteralStrings.some((x) => ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"].includes(x.type.kind));
  const literalTypes = numeric
    ? items
        .filter(isStrLit)
        .map((x) => numericTextType(String((x as { value: unknown }).value)))
        .filter((x): x is SqlType => x !== undefined)
    : [];
  const t = commonSuperType([...base.map((x) => x.type), ...literalTypes]);
  if (!t) {
    const i = items.findIndex((x) => !typeEquals(x.type, items[0]!.type));
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `invalid input syntax for type ${formatType(items[0]!.type)}: ${what} elements have different types (${items.map((x) => formatType(x.type)).join(", ")})`,
      srcs[Math.max(i, 0)]!.span,
    );
    return undefined;
  }
  return t;
}

/** Decimal text without exponent (`2e1` → `20`, `1.5E-2` → `0.015`), or undefined when `s` is no number. */
function plainDecimalText(s: string): string | undefined {
  const m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return undefined;
  const [, sign = "", num = "", expText] = m;
  if (expText === undefined) return s;
  const exp = Number(expText);
  // Beyond any DECIMAL's precision: not a number this dialect can hold (and not worth a string of zeros).
  if (!(Math.abs(exp) <= MAX_DECIMAL_PRECISION + num.length)) return undefined;
  const [i = "", f = ""] = num.split(".");
  let digits = i + f;
  let point = i.length + exp;
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const intPart = digits.slice(0, point).replace(/^0+(?=\d)/, "") || "0";
  const frac = digits.slice(point);
  return `${sign}${intPart}${frac ? `.${frac}` : ""}`;
}

/** The number type of a numeric STRING literal's text: INTEGER/BIGINT for whole numbers, else DECIMAL. */
function numericTextType(text: string): SqlType | undefined {
  const s = text.trim();
  const plain = plainDecimalText(s);
  if (plain === undefined) return undefined;
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    return Math.abs(n) <= 2147483647 ? INTEGER : BIGINT;
  }
  return decimalLiteralType(plain);
}

/**
 * ksqlDB converts STRING literals where another type is required (IN lists, constructors):
 * `'10'` for an INTEGER. Reports text that does not parse as the target type.
 */
function coerceLiteral(x: TExpr, target: SqlType, src: Expr, ctx: ExprContext, prefix: string): TExpr {
  if (x.kind !== "Literal" || x.type.kind !== "STRING" || typeof x.value !== "string") return x;
  const s = x.value.trim();
  const fail = (): TExpr => {
    report(ctx, Codes.TYPE_MISMATCH, `${prefix}invalid input syntax for type ${target.kind}: "${x.value}".`, src.span);
    return x;
  };
  switch (target.kind) {
    case "INTEGER":
    case "BIGINT": {
      const n = Number(s);
      if (s === "" || !Number.isFinite(n) || !Number.isInteger(n)) return fail();
      return { kind: "Literal", type: target, value: n };
    }
    case "DOUBLE":
      if (s === "" || Number.isNaN(Number(s))) return fail();
      return { kind: "Literal", type: target, value: Number(s) };
    case "DECIMAL": {
      const plain = plainDecimalText(s);
      if (plain === undefined) return fail();
      return {
        kind: "Cast",
        type: target,
        operand: {
          kind: "Literal",
          type: decimalLiteralType(plain),
          value: plain,
        },
        implicit: true,
      };
    }
    case "BOOLEAN": {
      const l = s.toLowerCase();
      if (!["true", "false", "t", "f", "yes", "no", "y", "n"].includes(l)) return fail();
      return {
        kind: "Literal",
        type: BOOLEAN,
        value: ["true", "t", "yes", "y"].includes(l),
      };
    }
    default:
      return x;
  }
}

function resolveColumn(e: Extract<Expr, { kind: "ColumnRef" }>, ctx: ExprContext): TExpr {
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

/** An expression's text for a message, or "this expression" when the text is long. */
function shortText(e: Expr): string {
  const text = exprText(e);
  return text.length <= 80 ? text : "this expression";
}

function analyzeBinary(e: Extract<Expr, { kind: "Binary" }>, ctx: ExprContext): TExpr {
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

function analyzeCase(e: Extract<Expr, { kind: "Case" }>, ctx: ExprContext): TExpr {
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

/** Time units written bare as function arguments (`TIMESTAMPADD(SECONDS, 1, ts)`): passed as STRING. */
const TIME_UNITS: ReadonlySet<string> = new Set(TIME_UNIT_WORDS);

/** Names people bring from other SQL dialects, and what ksqlDB calls them (for the unknown-function hint). */
const OTHER_DIALECTS: Readonly<Record<string, string>> = {
  UPPER: "UCASE",
  UPPERCASE: "UCASE",
  LOWER: "LCASE",
  LOWERCASE: "LCASE",
  LENGTH: "LEN",
  CHAR_LENGTH: "LEN",
  STRLEN: "LEN",
  SUBSTR: "SUBSTRING",
  NVL: "IFNULL or COALESCE",
  ISNULL: "IFNULL",
  NOW: "UNIX_TIMESTAMP() (or ROWTIME for the event time)",
  CURRENT_TIMESTAMP: "UNIX_TIMESTAMP() (or ROWTIME for the event time)",
  IIF: "CASE WHEN ... THEN ... ELSE ... END",
};

function analyzeCall(e: Extract<Expr, { kind: "FunctionCall" }>, ctx: ExprContext): TExpr {
  const def = ctx.functions.get(e.name);
  if (!def) {
    for (const a of e.args) if (a.kind !== "Lambda") analyzeExpr(a, ctx);
    report(
      ctx,
      Codes.UNKNOWN_FUNCTION,
      `Can't find any functions with the name '${e.name}'`,
      e.nameSpan,
      OTHER_DIALECTS[e.name] !== undefined
        ? `in this dialect it is ${OTHER_DIALECTS[e.name]}`
        : hintFor(
            closest(
              e.name,
              ctx.functions.all().map((f) => f.name),
            ),
          ),
    );
    return bad();
  }
  if (def.kind === "aggregate") {
    if (!ctx.allowAggregates) {
      report(
        ctx,
        Codes.AGGREGATE_NOT_ALLOWED,
        `${ctx.clause === "GROUP BY" ? "GROUP BY does not support aggregate functions" : `Aggregate functions are not allowed in ${ctx.clause}`}: ${def.name} is an aggregate function.`,
        e.span,
      );
      return bad();
    }
    if (ctx.inAggregate) {
      report(ctx, Codes.AGGREGATE_NOT_ALLOWED, `Aggregate functions can not be nested: ${exprText(e)}`, e.span);
      return bad();
    }
  }
  if (def.kind === "table" && !ctx.allowTableFunctions) {
    report(
      ctx,
      Codes.TABLE_FUNCTION_NOT_ALLOWED,
      `Table functions are only allowed in the SELECT list of a stream query: ${exprText(e)}`,
      e.span,
    );
    return bad();
  }
  const argCtx: ExprContext =
    def.kind === "aggregate"
      ? { ...ctx, inAggregate: true, allowAggregates: false }
      : { ...ctx, allowTableFunctions: false };
  const args: (TExpr | undefined)[] = [];
  const infos: ArgInfo[] = [];
  e.args.forEach((a, i) => {
    if (a.kind === "Lambda") {
      args.push(undefined);
      infos.push({
        kind: "lambda",
        arity: a.params.length,
        typeBody: (paramTypes) => {
          const diags: Diagnostic[] = [];
          const body = typeLambdaBody(a, paramTypes, { ...argCtx, diags });
          return diags.length ? { error: diags[0]!.message } : body.type;
        },
      });
      return;
    }
    const x =
      a.kind === "ColumnRef" &&
      a.qualifier === undefined &&
      TIME_UNITS.has(a.name) &&
      !ctx.scope.columns.some((c) => c.column === a.name)
        ? ({
            kind: "Literal",
            type: STRING,
            value: a.name.endsWith("S") ? a.name : `${a.name}S`,
          } as TExpr)
        : analyzeExpr(a, argCtx);
    args.push(x);
    infos[i] =
      x.kind === "Literal"
        ? { kind: "value", type: x.type, literal: { value: x.value } }
        : { kind: "value", type: x.type };
  });
  if (
    args.some(
      (x, i) =>
        x && x.kind === "Literal" && x.value === null && x.type.kind === "NULL" && e.args[i]!.kind !== "Literal",
    )
  )
    return bad();
  const before = ctx.diags.length;
  const r = def.resolve(infos);
  if (!r.ok) {
    report(
      ctx,
      Codes.NO_MATCHING_SIGNATURE,
      r.message,
      e.span,
      def.signatures.length ? `valid signatures: ${def.signatures.join("; ")}` : undefined,
    );
    return bad();
  }
  if (ctx.diags.length > before) return bad();
  const resolved = r.value;
  const typedArgs: TExpr[] = e.args.map((a, i) => {
    if (a.kind === "Lambda") {
      const pts =
        (resolved as { lambdaParams?: ReadonlyMap<number, readonly SqlType[]> }).lambdaParams?.get(i) ??
        a.params.map(() => NULL_TYPE);
      const body = typeLambdaBody(a, pts, argCtx);
      return {
        kind: "Lambda",
        type: body.type,
        params: a.params,
        paramTypes: pts,
        body,
      };
    }
    const x = args[i]!;
    const target = resolved.argTypes[i];
    return target && target.kind !== "NULL" ? coerce(x, target) : x;
  });
  const argTypes = typedArgs.map((x) => x.type);
  switch (def.kind) {
    case "scalar":
      return {
        kind: "Call",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
    case "aggregate":
      return {
        kind: "AggregateCall",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
    case "table":
      return {
        kind: "TableFunctionCall",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
  }
}

function typeLambdaBody(a: Extract<Expr, { kind: "Lambda" }>, paramTypes: readonly SqlType[], ctx: ExprContext): TExpr {
  const vars = new Map(ctx.lambdaVars ?? []);
  a.params.forEach((p, i) => vars.set(p, paramTypes[i] ?? NULL_TYPE));
  return analyzeExpr(a.body, { ...ctx, lambdaVars: vars });
}
