/**
 * The analyzer's type rules that src/types/values.ts does not hold: which types compare (and as what),
 * literal types. Arithmetic, widening and casts come from values.ts (one place for compiler and runtime).
 */
import {
  BIGINT,
  DOUBLE,
  INTEGER,
  decimal,
  isNumeric,
  numericRank,
  typeEquals,
  type SqlType,
} from "../types/sqltype.ts";
import { castFunction, commonSuperType } from "../types/values.ts";

const TEMPORAL = new Set(["DATE", "TIME", "TIMESTAMP"]);

/**
 * The type two values are converted to for comparison, or undefined when they do not compare.
 * `op` matters: ARRAY/MAP/STRUCT only support `=` and `<>`.
 */
export function comparisonType(op: string, l: SqlType, r: SqlType): SqlType | undefined {
  if (l.kind === "NULL") return r.kind === "NULL" ? undefined : r;
  if (r.kind === "NULL") return l;
  if (isNumeric(l) && isNumeric(r)) {
    if (l.kind === "DOUBLE" || r.kind === "DOUBLE") return DOUBLE;
    if (l.kind === "DECIMAL" || r.kind === "DECIMAL") return l.kind === "DECIMAL" ? l : r;
    return numericRank(l)! >= numericRank(r)! ? l : r;
  }
  if (TEMPORAL.has(l.kind) && TEMPORAL.has(r.kind)) {
    if (l.kind === r.kind) return l;
    if (l.kind === "TIME" || r.kind === "TIME") return undefined;
    return { kind: "TIMESTAMP" };
  }
  // Temporal values compare with strings (the string is parsed).
  if (TEMPORAL.has(l.kind) && r.kind === "STRING") return l;
  if (TEMPORAL.has(r.kind) && l.kind === "STRING") return r;
  if (l.kind !== r.kind) return undefined;
  if (l.kind === "ARRAY" || l.kind === "MAP" || l.kind === "STRUCT") {
    if (op !== "=" && op !== "<>") return undefined;
    return typeEquals(l, r) ? l : commonSuperType([l, r]);
  }
  return l;
}

/** True when `CAST(x AS to)` exists for `x` of type `from`. */
export function canCast(from: SqlType, to: SqlType): boolean {
  return castFunction(from, to) !== undefined;
}

/** The SQL type of an integer literal: INTEGER when it fits 32 bits. */
export function integerLiteralType(v: number): SqlType {
  return v >= -2147483648 && v <= 2147483647 ? INTEGER : BIGINT;
}

/** The DECIMAL type of a decimal literal as written (`1.50` -> DECIMAL(3, 2)). */
export function decimalLiteralType(text: string): SqlType {
  const t = text.replace(/^[-+]/, "");
  const [i = "", f = ""] = t.split(".");
  const intDigits = i.replace(/^0+/, "").length;
  return decimal(Math.max(intDigits + f.length, 1), f.length);
}
