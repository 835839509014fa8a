/**
 * ksqlDB-style text of AST expressions and types, for messages (`Non-aggregate SELECT expression(s) not part
 * of GROUP BY: (F1 + F2)`) and plan text. Binary operations are parenthesised as ksqlDB prints them.
 */
import type { Expr, TypeNode } from "../ast/nodes.ts";

const quote = (name: string) => (/^[A-Z_][A-Z0-9_]*$/.test(name) ? name : `\`${name}\``);

export function typeNodeText(t: TypeNode): string {
  switch (t.kind) {
    case "PrimitiveType":
      return t.name;
    case "DecimalType":
      return `DECIMAL(${t.precision}, ${t.scale})`;
    case "ArrayType":
      return `ARRAY<${typeNodeText(t.element)}>`;
    case "MapType":
      return `MAP<${typeNodeText(t.key)}, ${typeNodeText(t.value)}>`;
    case "StructType":
      return `STRUCT<${t.fields.map((f) => `${quote(f.name)} ${typeNodeText(f.type)}`).join(", ")}>`;
    case "CustomType":
      return t.name;
  }
}

/**
 * `refText` overrides how column references print (e.g. qualified with their source in join messages);
 * it applies throughout the expression.
 */
export function exprText(e: Expr, refText?: (ref: Extract<Expr, { kind: "ColumnRef" }>) => string): string {
  if (refText) return withRefs(e, refText);
  switch (e.kind) {
    case "Literal":
      if (e.literal === "string") return `'${String(e.value).replace(/'/g, "''")}'`;
      if (e.literal === "null") return "null";
      if (e.literal === "boolean") return e.value ? "true" : "false";
      return e.text;
    case "ColumnRef":
      return e.qualifier ? `${quote(e.qualifier)}.${quote(e.name)}` : quote(e.name);
    case "Dereference":
      return `${exprText(e.base)}->${quote(e.field)}`;
    case "Subscript":
      return `${exprText(e.base)}[${exprText(e.index)}]`;
    case "Unary":
      return e.op === "NOT" ? `(NOT ${exprText(e.operand)})` : `${e.op}${exprText(e.operand)}`;
    case "Binary":
      return `(${exprText(e.left)} ${e.op} ${exprText(e.right)})`;
    case "IsNull":
      return `(${exprText(e.operand)} IS ${e.negated ? "NOT " : ""}NULL)`;
    case "Between":
      return `(${exprText(e.operand)} ${e.negated ? "NOT " : ""}BETWEEN ${exprText(e.low)} AND ${exprText(e.high)})`;
    case "InList":
      return `(${exprText(e.operand)} ${e.negated ? "NOT " : ""}IN (${e.items.map((x) => exprText(x)).join(", ")}))`;
    case "Like":
      return `(${exprText(e.operand)} ${e.negated ? "NOT " : ""}LIKE ${exprText(e.pattern)}${e.escape ? ` ESCAPE ${exprText(e.escape)}` : ""})`;
    case "IsDistinctFrom":
      return `(${exprText(e.left)} IS ${e.negated ? "NOT " : ""}DISTINCT FROM ${exprText(e.right)})`;
    case "Case":
      return `(CASE${e.operand ? ` ${exprText(e.operand)}` : ""} ${e.whens
        .map((w) => `WHEN ${exprText(w.when)} THEN ${exprText(w.then)}`)
        .join(" ")}${e.else ? ` ELSE ${exprText(e.else)}` : ""} END)`;
    case "Cast":
      return `CAST(${exprText(e.operand)} AS ${typeNodeText(e.type)})`;
    case "FunctionCall":
      return `${e.name}(${e.star ? "*" : e.args.map((x) => exprText(x)).join(", ")})`;
    case "Lambda":
      return `(${e.params.join(", ")}) => ${exprText(e.body)}`;
    case "ArrayCtor":
      return `ARRAY[${e.items.map((x) => exprText(x)).join(", ")}]`;
    case "MapCtor":
      return `MAP(${e.entries.map((x) => `${exprText(x.key)}:=${exprText(x.value)}`).join(", ")})`;
    case "StructCtor":
      return `STRUCT(${e.fields.map((f) => `${quote(f.name)}:=${exprText(f.value)}`).join(", ")})`;
  }
}

function withRefs(e: Expr, refText: (ref: Extract<Expr, { kind: "ColumnRef" }>) => string): string {
  // Replace each reference by a placeholder name, print, then substitute: keeps one printer.
  const refs: string[] = [];
  const swap = (x: Expr): Expr => {
    if (x.kind === "ColumnRef") {
      refs.push(refText(x));
      return {
        ...x,
        qualifier: undefined,
        name: `\u0000${refs.length - 1}\u0000`,
      } as Expr;
    }
    const out: Record<string, unknown> = { ...x };
    for (const [k, v] of Object.entries(x)) {
      if (k === "span") continue;
      if (Array.isArray(v))
        out[k] = v.map((i) =>
          i && typeof i === "object" && "kind" in i
            ? swap(i as Expr)
            : i && typeof i === "object"
              ? mapObj(i as Record<string, unknown>)
              : i,
        );
      else if (
        v &&
        typeof v === "object" &&
        "kind" in v &&
        typeof (v as { kind: unknown }).kind === "string" &&
        k !== "type"
      )
        out[k] = swap(v as Expr);
    }
    return out as unknown as Expr;
  };
  const mapObj = (o: Record<string, unknown>) => {
    const r: Record<string, unknown> = { ...o };
    for (const [k, v] of Object.entries(o))
      if (v && typeof v === "object" && "kind" in v && k !== "span") r[k] = swap(v as Expr);
    return r;
  };
  return exprText(swap(e)).replace(/`?\u0000(\d+)\u0000`?/g, (_, i: string) => refs[Number(i)]!);
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n]!;
}

/** Names longer than this get no "did you mean" hint (the edit distance costs the product of the lengths). */
const MAX_HINT_LENGTH = 64;

/**
 * Up to three candidates close to `name` (case-insensitive edit distance ≤ max(2, len/3)), closest first.
 * Candidates whose length alone puts them beyond that distance are skipped without computing it.
 */
export function closest(name: string, candidates: Iterable<string>): string[] {
  if (name.length > MAX_HINT_LENGTH) return [];
  const limit = Math.max(2, Math.floor(name.length / 3));
  const upper = name.toUpperCase();
  return [...new Set(candidates)]
    .filter((c) => Math.abs(c.length - name.length) <= limit)
    .map((c) => ({ c, d: editDistance(upper, c.toUpperCase()) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => x.c);
}
