/**
 * Runtime values (see the VALUE REPRESENTATION table in `src/types/sqltype.ts`) shown to people and
 * compared with hand-written expectations, knowing each column's SQL type: a DECIMAL(12,2) stored as
 * `8025n` shows as `80.25` and equals the expectation `80.25` or `"80.25"`; a TIMESTAMP shows as ISO-8601
 * text and equals either that text or the milliseconds.
 */
import type { SqlType } from "../../src/types/sqltype.ts";
import { formatDecimal, parseDecimal } from "../serde/index.ts";
import { parseTime } from "./records.ts";

/** `String(v)`, except that objects and arrays read as JSON rather than `[object Object]`. */
export function textOf(v: unknown): string {
  if (typeof v !== "object" || v === null) return String(v);
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

/** Pseudo columns holding epoch milliseconds, shown and compared as times although typed BIGINT. */
const TIME_COLUMNS = new Set(["WINDOWSTART", "WINDOWEND", "ROWTIME"]);

/** The type to show and compare a column's values with (window bounds and ROWTIME as TIMESTAMP). */
export function displayType(column: string, type: SqlType): SqlType {
  return TIME_COLUMNS.has(column) && type.kind === "BIGINT" ? { kind: "TIMESTAMP" } : type;
}

/** ISO-8601 UTC text of epoch milliseconds, without `.000` when the milliseconds are 0. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return d.toISOString().replace(".000Z", "Z");
}

/**
 * A value as plain JSON data (exact for DECIMAL: the decimal text, e.g. `"80.25"`; times as ISO text; maps
 * as objects; bytes as base64). Used for `--json` output and in test failure messages.
 */
export function toPlain(v: unknown, type: SqlType, exactLongs = false): unknown {
  if (v === null || v === undefined) return null;
  switch (type.kind) {
    case "BIGINT":
      // Beyond ±2^53: its digits as text (as DECIMAL), or the bigint itself for writers that keep it exact.
      return typeof v === "bigint" && !exactLongs ? v.toString() : v;
    case "DECIMAL":
      return typeof v === "bigint" ? formatDecimal(v, type.scale) : v;
    case "TIMESTAMP":
      return typeof v === "number" ? isoTime(v) : v;
    case "DATE":
      return typeof v === "number" ? isoTime(v * 86_400_000).slice(0, 10) : v;
    case "TIME":
      return typeof v === "number" ? isoTime(v).slice(11).replace("Z", "") : v;
    case "BYTES":
      return v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
    case "ARRAY":
      return Array.isArray(v) ? v.map((x) => toPlain(x, type.element, exactLongs)) : v;
    case "MAP": {
      if (!(v instanceof Map)) return v;
      const o: Record<string, unknown> = {};
      for (const [k, x] of v) o[String(toPlain(k, type.key))] = toPlain(x, type.value, exactLongs);
      return o;
    }
    case "STRUCT": {
      if (typeof v !== "object") return v;
      const o: Record<string, unknown> = {};
      for (const f of type.fields)
        o[f.name] = toPlain((v as Record<string, unknown>)[f.name] ?? null, f.type, exactLongs);
      return o;
    }
    default:
      return typeof v === "bigint" ? Number(v) : v;
  }
}

/** A value as one line of text for a terminal table: strings bare, the rest as JSON-like text. */
export function displayValue(v: unknown, type: SqlType): string {
  if (v === null || v === undefined) return "null";
  const plain = toPlain(v, type);
  if (typeof plain === "string") return plain;
  return JSON.stringify(plain);
}

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
