/**
 * Pull queries across instances. A materialized table's partitions are spread over the instances of a
 * service (see `assign.ts`); the instance that receives a pull query answers from its own stores and asks
 * every other instance owning partitions of that table for theirs, over the same REST API clients use
 * (`POST /query-stream` with the property {@link LOCAL_SCOPE}, so the peer answers from its own stores
 * only and never forwards again). Rows come back as JSON and are turned into runtime values again with
 * the result columns' types.
 */
import { parseDecimal } from "../serde/decimal.ts";
import { JsonNumber, parseJsonLossless } from "../serde/json.ts";
import type { SqlType } from "../../src/types/sqltype.ts";
import { normalizeLong } from "../../src/types/values.ts";
import { PROPERTIES } from "../../src/plan/properties.ts";

/** The query property that makes an instance answer a pull query from its own partitions only. */
export const PULL_SCOPE = PROPERTIES.pullScope;
export const LOCAL_SCOPE = "local";

/** Where a pull query's other partitions are, and how to ask for them. */
export interface RemotePull {
  /**
   * URLs of the other instances owning partitions of the query `queryId`'s table; only those owning
   * `partitions` when given.
   */
  peers(queryId: string, partitions?: readonly number[]): string[];
  /** Headers for the peers (credentials). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Runs `sql` on `url` from its own partitions; resolves its rows in runtime values. */
export async function pullFromPeer(
  url: string,
  sql: string,
  types: readonly SqlType[],
  headers: Readonly<Record<string, string>> = {},
): Promise<unknown[][]> {
  const res = await fetch(new URL("/query-stream", url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ sql, properties: { [PULL_SCOPE]: LOCAL_SCOPE } }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(`the instance at ${url} could not answer its partitions: ${message}`);
  }
  // A run of 16 digits may be a BIGINT beyond 2^53: then read every number from its text.
  const body = (/\d{16}/.test(text) ? parseJsonLossless(text) : JSON.parse(text)) as unknown[];
  return body.slice(1).map((row) => (row as unknown[]).map((v, i) => fromJson(v, types[i]!)));
}

/** A JSON value of the REST API as a runtime value of `type` (the inverse of the server's `restValue`). */
export function fromJson(v: unknown, type: SqlType): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof JsonNumber) {
    if (type.kind === "BIGINT") return normalizeLong(BigInt(v.text));
    if (type.kind === "DECIMAL") return parseDecimal(v.text, type.precision, type.scale);
    return fromJson(Number(v.text), type);
  }
  switch (type.kind) {
    case "DECIMAL":
      return parseDecimal(typeof v === "string" ? v : JSON.stringify(v), type.precision, type.scale);
    case "TIMESTAMP":
      return typeof v === "string" ? Date.parse(v.endsWith("Z") ? v : `${v}Z`) : v;
    case "DATE":
      return typeof v === "string" ? Math.round(Date.parse(`${v}T00:00:00Z`) / 86_400_000) : v;
    case "TIME":
      return typeof v === "string" ? Date.parse(`1970-01-01T${v}Z`) : v;
    case "BYTES":
      return typeof v === "string" ? Buffer.from(v, "base64") : v;
    case "ARRAY":
      return Array.isArray(v) ? v.map((x) => fromJson(x, type.element)) : v;
    case "MAP":
      return new Map(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [fromJson(k, type.key), fromJson(x, type.value)]),
      );
    case "STRUCT": {
      const o: Record<string, unknown> = {};
      for (const f of type.fields) o[f.name] = fromJson((v as Record<string, unknown>)[f.name] ?? null, f.type);
      return o;
    }
    default:
      return v;
  }
}
