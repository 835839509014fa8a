/**
 * The console's client of the server: ksqlDB's REST API (`/ksql`, `/query-stream`, `/close-query`), as any
 * client uses it, plus `/esql/stats` for counters and their history. Credentials (an API key or a user and
 * password) are kept for the browser tab's session and sent with every request.
 */

const AUTH_KEY = "esql.authorization";

let authorization: string | null = sessionStorage.getItem(AUTH_KEY);
const listeners = new Set<() => void>();

/** Called when the server refuses our credentials (or asks for some): the app shows its sign-in form. */
export function onUnauthorized(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function signIn(credentials: { apiKey: string } | { user: string; password: string }): void {
  authorization =
    "apiKey" in credentials
      ? `Bearer ${credentials.apiKey}`
      : `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${credentials.user}:${credentials.password}`)))}`;
  sessionStorage.setItem(AUTH_KEY, authorization);
}

export function signOut(): void {
  authorization = null;
  sessionStorage.removeItem(AUTH_KEY);
}

/** An error answer of the server, with ksqlDB's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-esql-console", "1");
  if (authorization) headers.set("authorization", authorization);
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) for (const f of listeners) f();
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text itself
    }
    throw new ApiError(res.status, message);
  }
  return res;
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** `POST /ksql`: one entity per statement. */
export async function ksql<T = Entity>(sql: string): Promise<T[]> {
  return (await (await request("/ksql", json({ ksql: sql }))).json()) as T[];
}

// ---- entities (runtime/engine/entities.ts) -------------------------------------------------------------

export interface SourceInfo {
  readonly type: "STREAM" | "TABLE";
  readonly name: string;
  readonly topic: string;
  readonly keyFormat: string;
  readonly valueFormat: string;
  readonly isWindowed: boolean;
}

export interface RunningQuery {
  readonly queryString: string;
  readonly sinks: readonly string[];
  readonly sinkKafkaTopics: readonly string[];
  readonly id: string;
  readonly state: string;
}

export interface FieldInfo {
  readonly name: string;
  readonly schema: { readonly type: string };
  readonly type?: "KEY";
}

export interface Entity {
  readonly "@type": string;
  readonly streams?: readonly SourceInfo[];
  readonly tables?: readonly SourceInfo[];
  readonly queries?: readonly RunningQuery[];
  readonly functions?: readonly { readonly name: string; readonly type: string }[];
  readonly sourceDescription?: { readonly name: string; readonly fields: readonly FieldInfo[] };
  readonly queryDescription?: { readonly id: string; readonly topology: string; readonly statementText: string };
}

/** SHOW STREAMS, TABLES and QUERIES in one request. */
export async function catalog(): Promise<{ streams: SourceInfo[]; tables: SourceInfo[]; queries: RunningQuery[] }> {
  const [s, t, q] = await ksql("SHOW STREAMS; SHOW TABLES; SHOW QUERIES;");
  return { streams: [...(s?.streams ?? [])], tables: [...(t?.tables ?? [])], queries: [...(q?.queries ?? [])] };
}

// ---- /esql/stats ------------------------------------------------------------------------------------------

export interface QueryStats {
  readonly id: string;
  readonly recordsIn: number;
  readonly rate: number;
  readonly errors: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly lag: Readonly<Record<string, number>>;
}

export interface DeployedVersions {
  readonly name: string;
  readonly current: number;
  readonly versions: readonly { readonly version: number; readonly alias: string; readonly state: string }[];
}

export interface Stats {
  readonly intervalMs: number;
  readonly queries: readonly QueryStats[];
  readonly versions: readonly DeployedVersions[];
}

export interface QuerySample {
  readonly t: number;
  readonly recordsIn: number;
  readonly errors: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly lag: Readonly<Record<string, number>>;
}

export async function stats(): Promise<Stats> {
  return (await (await request("/esql/stats")).json()) as Stats;
}

export async function queryHistory(id: string): Promise<{ intervalMs: number; samples: QuerySample[] }> {
  return (await (await request(`/esql/stats/${encodeURIComponent(id)}`)).json()) as {
    intervalMs: number;
    samples: QuerySample[];
  };
}

// ---- queries ----------------------------------------------------------------------------------------------

export interface QueryHeader {
  readonly queryId: string;
  readonly columnNames: readonly string[];
  readonly columnTypes: readonly string[];
}

/**
 * Runs a SELECT through `POST /query-stream` (delimited JSON lines): the header, then each row as it comes.
 * A pull query ends by itself; a push query streams until `stop()` (which asks `/close-query`) or its LIMIT.
 */
export function runQuery(
  sql: string,
  on: { header(h: QueryHeader): void; rows(rows: unknown[][]): void },
  properties: Record<string, string> = {},
): { done: Promise<void>; stop(): Promise<void> } {
  const abort = new AbortController();
  let queryId: string | undefined;
  let stopped = false;
  const done = (async () => {
    const res = await request("/query-stream", {
      ...json({ sql, properties }),
      signal: abort.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        const rows: unknown[][] = [];
        for (const line of lines) {
          if (line.trim() === "") continue;
          const item = JSON.parse(line) as unknown;
          if (Array.isArray(item)) rows.push(item);
          else if ((item as { queryId?: string }).queryId !== undefined && queryId === undefined) {
            queryId = (item as QueryHeader).queryId;
            on.header(item as QueryHeader);
          } else if ((item as { message?: string }).message !== undefined)
            throw new ApiError(500, (item as { message: string }).message);
        }
        if (rows.length > 0) on.rows(rows);
      }
    } catch (e) {
      if (!stopped) throw e;
    }
  })();
  return {
    done,
    async stop() {
      stopped = true;
      if (queryId !== undefined) await request("/close-query", json({ queryId })).catch(() => undefined);
      abort.abort();
      await done.catch(() => undefined);
    },
  };
}

/** A pull query's whole answer. */
export async function pull(sql: string): Promise<{ header: QueryHeader; rows: unknown[][] }> {
  let header: QueryHeader | undefined;
  const rows: unknown[][] = [];
  await runQuery(sql, { header: (h) => (header = h), rows: (r) => rows.push(...r) }).done;
  if (!header) throw new ApiError(500, "the server sent no header");
  return { header, rows };
}

/** A SQL string literal. */
export const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
/** A quoted SQL identifier. */
export const identifier = (s: string) => `\`${s.replaceAll("`", "``")}\``;
