/**
 * Runtime values (see the VALUE REPRESENTATION table in `src/types/sqltype.ts`) shown to people, knowing
 * each column's SQL type: a DECIMAL(12,2) stored as `8025n` shows as `80.25`, a TIMESTAMP as ISO-8601 text.
 * The REST API, `esql run --json`, the REPL and `esql test` render values through here.
 */
import type { SqlType } from "../../src/types/sqltype.ts";
import { formatDecimal } from "./index.ts";

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
