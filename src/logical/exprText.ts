/**
 * The canonical text of typed expressions, used by the logical and physical plan texts
 * (`esql explain`, snapshot tests). Implicit casts show as `CAST(x AS T)` too, marked with `~`
 * (`~CAST(X AS BIGINT)`), so a reader sees every conversion the runtime performs.
 */
import { formatType } from "../types/sqltype.ts";
import type { TExpr } from "../semantic/typed.ts";

const name = (n: string) => (/^[A-Z_][A-Z0-9_]*$/.test(n) ? n : `\`${n}\``);

export function formatExpr(e: TExpr): string {
  switch (e.kind) {
    case "Literal":
      if (e.value === null) return "NULL";
      if (e.type.kind === "STRING") return `'${String(e.value).replace(/'/g, "''")}'`;
      if (e.type.kind === "DECIMAL" || e.type.kind === "BIGINT")
        return String(e.value) + (e.type.kind === "BIGINT" ? "L" : "BD");
      return String(e.value);
    case "Column":
      return name(e.name);
    case "LambdaVar":
      return name(e.name);
    case "Field":
      return `${formatExpr(e.base)}->${name(e.field)}`;
    case "Subscript":
      return `${formatExpr(e.base)}[${formatExpr(e.index)}]`;
    case "Not":
      return `(NOT ${formatExpr(e.operand)})`;
    case "Negate":
      return `(-${formatExpr(e.operand)})`;
    case "Arithmetic":
    case "Compare":
    case "Logical":
      return `(${formatExpr(e.left)} ${e.op} ${formatExpr(e.right)})`;
    case "Concat":
      return `(${formatExpr(e.left)} || ${formatExpr(e.right)})`;
    case "IsNull":
      return `(${formatExpr(e.operand)} IS ${e.negated ? "NOT " : ""}NULL)`;
    case "Between":
      return `(${formatExpr(e.operand)} ${e.negated ? "NOT " : ""}BETWEEN ${formatExpr(e.low)} AND ${formatExpr(e.high)})`;
    case "In":
      return `(${formatExpr(e.operand)} ${e.negated ? "NOT " : ""}IN (${e.items.map(formatExpr).join(", ")}))`;
    case "Like":
      return `(${formatExpr(e.operand)} ${e.negated ? "NOT " : ""}LIKE ${formatExpr(e.pattern)}${e.escape ? ` ESCAPE ${formatExpr(e.escape)}` : ""})`;
    case "IsDistinct":
      return `(${formatExpr(e.left)} IS ${e.negated ? "NOT " : ""}DISTINCT FROM ${formatExpr(e.right)})`;
    case "Case":
      return `(CASE ${e.whens.map((w) => `WHEN ${formatExpr(w.when)} THEN ${formatExpr(w.then)}`).join(" ")}${e.else ? ` ELSE ${formatExpr(e.else)}` : ""} END)`;
    case "Cast":
      return `${e.implicit ? "~" : ""}CAST(${formatExpr(e.operand)} AS ${formatType(e.type)})`;
    case "Call":
    case "AggregateCall":
    case "TableFunctionCall":
      return `${e.name}(${e.args.map(formatExpr).join(", ")})`;
    case "Lambda":
      return `(${e.params.join(", ")}) => ${formatExpr(e.body)}`;
    case "Array":
      return `ARRAY[${e.items.map(formatExpr).join(", ")}]`;
    case "Map":
      return `MAP(${e.entries.map((x) => `${formatExpr(x.key)}:=${formatExpr(x.value)}`).join(", ")})`;
    case "Struct":
      return `STRUCT(${e.fields.map((f) => `${name(f.name)}:=${formatExpr(f.value)}`).join(", ")})`;
  }
}
