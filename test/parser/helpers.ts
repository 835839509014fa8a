/** Test helpers for the parser: parse-or-fail and span-free AST snapshots. */
import { expect } from "vitest";
import { parseExpression, parseScript } from "../../src/parse.ts";
import type { Expr, Statement } from "../../src/ast/nodes.ts";

/** Removes `span` / `nameSpan` recursively so AST shapes can be compared literally. */
export function strip(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(strip);
  if (x !== null && typeof x === "object") {
    return Object.fromEntries(
      Object.entries(x)
        .filter(([k]) => k !== "span" && k !== "nameSpan")
        .map(([k, v]) => [k, strip(v)]),
    );
  }
  return x;
}

/** Parses one statement that must be valid. */
export function stmt(text: string): Statement {
  const r = parseScript(text);
  expect(r.diagnostics).toEqual([]);
  expect(r.statements).toHaveLength(1);
  return r.statements[0]!.statement;
}

/** Parses one expression that must be valid. */
export function expr(text: string): Expr {
  const r = parseExpression(text);
  expect(r.diagnostics).toEqual([]);
  return r.expr!;
}

/** A compact, span-free rendering of an expression: `(a + (b * c))`. */
export function show(e: Expr): string {
  switch (e.kind) {
    case "Literal":
      return e.text;
    case "ColumnRef":
      return e.qualifier === undefined ? e.name : `${e.qualifier}.${e.name}`;
    case "Dereference":
      return `${show(e.base)}->${e.field}`;
    case "Subscript":
      return `${show(e.base)}[${show(e.index)}]`;
    case "Unary":
      return `(${e.op}${e.op === "NOT" ? " " : ""}${show(e.operand)})`;
    case "Binary":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "IsNull":
      return `(${show(e.operand)} IS ${e.negated ? "NOT " : ""}NULL)`;
    case "Between":
      return `(${show(e.operand)} ${e.negated ? "NOT " : ""}BETWEEN ${show(e.low)} AND ${show(e.high)})`;
    case "InList":
      return `(${show(e.operand)} ${e.negated ? "NOT " : ""}IN [${e.items.map(show).join(", ")}])`;
    case "Like":
      return `(${show(e.operand)} ${e.negated ? "NOT " : ""}LIKE ${show(e.pattern)}${e.escape ? ` ESCAPE ${show(e.escape)}` : ""})`;
    case "IsDistinctFrom":
      return `(${show(e.left)} IS ${e.negated ? "NOT " : ""}DISTINCT FROM ${show(e.right)})`;
    case "Case":
      return `CASE${e.operand ? ` ${show(e.operand)}` : ""}${e.whens.map((w) => ` WHEN ${show(w.when)} THEN ${show(w.then)}`).join("")}${e.else ? ` ELSE ${show(e.else)}` : ""} END`;
    case "Cast":
      return `CAST(${show(e.operand)} AS ${e.type.kind})`;
    case "FunctionCall":
      return `${e.name}(${e.star ? "*" : e.args.map(show).join(", ")})`;
    case "Lambda":
      return `(${e.params.join(", ")}) => ${show(e.body)}`;
    case "ArrayCtor":
      return `ARRAY[${e.items.map(show).join(", ")}]`;
    case "MapCtor":
      return `MAP(${e.entries.map((en) => `${show(en.key)} := ${show(en.value)}`).join(", ")})`;
    case "StructCtor":
      return `STRUCT(${e.fields.map((f) => `${f.name} := ${show(f.value)}`).join(", ")})`;
  }
}
