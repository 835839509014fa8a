/**
 * Runtime values compared with hand-written expectations (`esql test`), knowing each column's SQL type: a
 * DECIMAL(12,2) stored as `8025n` equals the expectation `80.25` or `"80.25"`; a TIMESTAMP equals either its
 * ISO-8601 text or the milliseconds. How values are shown is `runtime/serde/display.ts`.
 */
import type { SqlType } from "../../src/types/sqltype.ts";
import { textOf, toPlain } from "../serde/display.ts";
import { parseDecimal } from "../serde/index.ts";
import { parseTime } from "./records.ts";

/**
 * Whether a hand-written expectation equals a runtime value of `type`. Numbers compare by value (DOUBLE
 * within a relative 1e-9, so `59.97` equals `3 * 19.99`); DECIMAL exactly, from a number or text; times
 * from milliseconds or ISO text (BIGINT too, for epoch milliseconds such as `WINDOWSTART AS s`); STRUCT fields and MAP keys by name; a scalar written as text equals a
 * STRING value of the same text.
 */
export function matchesExpected(expected: unknown, actual: unknown, type: SqlType): boolean {
  if (expected === null || expected === undefined) return actual === null || actual === undefined;
  if (actual === null || actual === undefined) return false;
  switch (type.kind) {
    case "DECIMAL": {
      if (typeof actual !== "bigint") return false;
      const text =
        typeof expected === "number"
          ? numberText(expected)
          : typeof expected === "string"
            ? expected.trim()
            : undefined;
      if (text === undefined) return false;
      try {
        return parseDecimal(text, 1000, type.scale) === actual;
      } catch {
        return false; // more fractional digits than the scale, or not a number
      }
    }
    case "DOUBLE": {
      const e = typeof expected === "string" ? Number(expected) : expected;
      if (typeof e !== "number" || typeof actual !== "number") return false;
      if (Number.isNaN(e) || Number.isNaN(actual)) return Number.isNaN(e) && Number.isNaN(actual);
      return e === actual || Math.abs(e - actual) <= 1e-9 * Math.max(Math.abs(e), Math.abs(actual));
    }
    case "INTEGER":
      return (typeof expected === "number" || typeof expected === "string") && Number(expected) === actual;
    case "BIGINT":
      // Epoch milliseconds (`WINDOWSTART AS session_start`) may be written as ISO-8601 text.
      if (typeof expected === "string" && /^\d{4}-\d\d-\d\d/.test(expected)) return parseTime(expected) === actual;
      // Beyond ±2^53 only text is exact: `"9223372036854775807"` (a YAML/JSON number has been rounded).
      if (typeof actual === "bigint")
        return typeof expected === "string" && /^\s*-?\d+\s*$/.test(expected) && BigInt(expected.trim()) === actual;
      return (typeof expected === "number" || typeof expected === "string") && Number(expected) === actual;
    case "TIMESTAMP":
      return parseTime(expected) === actual;
    case "DATE":
      return typeof expected === "number"
        ? expected === actual
        : parseTime(expected) === (actual as number) * 86_400_000;
    case "TIME":
      return typeof expected === "number"
        ? expected === actual
        : toPlain(actual, type) === textOf(expected) || toPlain(actual, type) === `${textOf(expected)}.000`;
    case "STRING":
      return typeof expected === "object" ? false : textOf(expected) === actual;
    case "BOOLEAN":
      return expected === actual || (typeof expected === "string" && expected.toLowerCase() === textOf(actual));
    case "BYTES":
      return toPlain(actual, type) === expected;
    case "ARRAY":
      return (
        Array.isArray(expected) &&
        Array.isArray(actual) &&
        expected.length === actual.length &&
        expected.every((e, i) => matchesExpected(e, actual[i], type.element))
      );
    case "MAP": {
      if (typeof expected !== "object" || Array.isArray(expected) || !(actual instanceof Map)) return false;
      const want = Object.entries(expected as Record<string, unknown>);
      if (want.length !== actual.size) return false;
      const byText = new Map([...actual].map(([k, v]) => [String(toPlain(k, type.key)), v]));
      return want.every(([k, e]) => byText.has(k) && matchesExpected(e, byText.get(k), type.value));
    }
    case "STRUCT": {
      if (typeof expected !== "object" || Array.isArray(expected) || typeof actual !== "object") return false;
      return Object.entries(expected as Record<string, unknown>).every(([k, e]) => {
        const field =
          type.fields.find((f) => f.name === k) ?? type.fields.find((f) => f.name.toUpperCase() === k.toUpperCase());
        return (
          field !== undefined && matchesExpected(e, (actual as Record<string, unknown>)[field.name] ?? null, field.type)
        );
      });
    }
    case "NULL":
      return false;
  }
}

/** The decimal text of a JS number without exponent notation where possible (`1e-7` → `0.0000001`). */
function numberText(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/\.?0+$/, "");
}
