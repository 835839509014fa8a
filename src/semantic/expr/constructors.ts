/** Constructors: ARRAY[...], MAP(...), STRUCT(...), typed with the common type of their items. */
import type { Expr } from "../../ast/nodes.ts";
import { formatType, typeEquals, type SqlType } from "../../types/sqltype.ts";
import { commonSuperType } from "../../types/values.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext } from "../expressions.ts";
import type { TExpr } from "../typed.ts";
import { coerceLiteral, numericTextType } from "./literals.ts";
import { bad, coerce, report } from "./support.ts";

export function analyzeArrayCtor(e: Extract<Expr, { kind: "ArrayCtor" }>, ctx: ExprContext): TExpr {
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

export function analyzeMapCtor(e: Extract<Expr, { kind: "MapCtor" }>, ctx: ExprContext): TExpr {
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

export function analyzeStructCtor(e: Extract<Expr, { kind: "StructCtor" }>, ctx: ExprContext): TExpr {
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
