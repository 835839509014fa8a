/**
 * The REPL's backend on a running `esql serve` (or any server speaking ksqlDB's REST API): statements on
 * `POST /ksql`, SELECTs on `POST /query-stream`, cancelling on `POST /close-query`.
 *
 * SET and UNSET, DEFINE and UNDEFINE stay in the session and go with every request (`streamsProperties`,
 * `sessionVariables`: the server applies them to that request only, as ksqlDB does). SHOW, DESCRIBE and EXPLAIN answer ksqlDB's entities, rendered as the local REPL
 * renders the engine's (`entities.ts`). `ESQL_API_KEY` in the environment is sent as `Authorization: Bearer <key>`.
 */
import type { Print } from "../../ast/nodes.ts";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import { functions as builtinFunctions } from "../../functions/registry.ts";
import { parseScript } from "../../parse.ts";
import type { CompletionNames, Output, ReplBackend, RunningQuery } from "./backend.ts";
import { isDescribeEntity, renderEntity } from "./entities.ts";
import { positionMessage } from "./backend.ts";
import { POSITION_HEADER } from "../../../runtime/engine/consistency.ts";

export class RemoteBackend implements ReplBackend {
  readonly variables = new Map<string, string>();
  private readonly properties: Record<string, string> = {};

  private constructor(
    private readonly base: string,
    readonly description: string,
  ) {}

  static async connect(url: string): Promise<RemoteBackend> {
    const base = url.replace(/\/+$/, "");
    const backend = new RemoteBackend(base, `server ${base}`);
    const res = await backend.request("GET", "/info");
    if (!res.ok) throw new Error(`${base}/info answered ${res.status}: ${await res.text()}`);
    return backend;
  }

  private headers(): Record<string, string> {
    const key = process.env.ESQL_API_KEY;
    return { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) };
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers(),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, {
        cause: e,
      });
    }
  }

  async execute(text: string): Promise<Output[]> {
    const st = parseScript(text, { variables: this.variables }).statements[0]?.statement;
    // Session state the server does not keep between requests.
    if (st?.kind === "SetProperty") {
      this.properties[st.name] = st.value;
      return [{ kind: "message", text: `Property ${st.name} set to ${st.value}` }];
    }
    if (st?.kind === "UnsetProperty") {
      delete this.properties[st.name];
      return [{ kind: "message", text: `Property ${st.name} unset` }];
    }
    const res = await this.request("POST", "/ksql", {
      ksql: text,
      streamsProperties: this.properties,
      sessionVariables: Object.fromEntries(this.variables),
    });
    const body = (await res.json().catch(() => undefined)) as unknown;
    if (!res.ok) return [errorOutput(body, res.status, text)];
    if (st?.kind === "Define") this.variables.set(st.name, st.value);
    if (st?.kind === "Undefine") this.variables.delete(st.name);
    const entities = Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
    const position = res.headers.get(POSITION_HEADER);
    return [
      ...entities.flatMap((e): Output[] => {
        // SHOW, DESCRIBE, EXPLAIN: the server's entities, rendered as the local REPL renders the engine's.
        if (isDescribeEntity(e)) return renderEntity(e);
        if (e["@type"] === "warning_entity") return [{ kind: "message", text: String(e.message) }];
        const status = e.commandStatus as { message?: string } | undefined;
        return [{ kind: "message", text: status?.message ?? JSON.stringify(e) }];
      }),
      ...(position ? [{ kind: "message" as const, text: positionMessage(position) }] : []),
    ];
  }

  async query(text: string): Promise<{ ok: true; query: RunningQuery } | { ok: false; outputs: Output[] }> {
    const st = parseScript(text, { variables: this.variables }).statements[0]?.statement;
    const pull = st?.kind === "QueryStatement" && st.query.emit === undefined;
    const ac = new AbortController();
    const res = await this.request(
      "POST",
      "/query-stream",
      { sql: text, properties: this.properties, sessionVariables: Object.fromEntries(this.variables) },
      ac.signal,
    );
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => undefined)) as unknown;
      return { ok: false, outputs: [errorOutput(body, res.status, text)] };
    }
    const lines = jsonLines(res.body);
    const first = await lines.next();
    if (first.done)
      return { ok: false, outputs: [{ kind: "failure", message: "the server ended the query without a header" }] };
    const header = first.value as { queryId?: string; columnNames?: string[] };
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      if (!pull && header.queryId)
        await this.request("POST", "/close-query", { queryId: header.queryId }).catch(() => undefined);
      ac.abort();
    };
    const rows: AsyncIterator<unknown[]> = {
      next: async () => {
        let n: IteratorResult<unknown>;
        try {
          n = await lines.next();
        } catch (e) {
          if (closed) return { done: true, value: undefined };
          throw e;
        }
        if (n.done) return { done: true, value: undefined };
        if (!Array.isArray(n.value)) {
          const message = (n.value as { message?: unknown }).message;
          throw new Error(typeof message === "string" ? message : JSON.stringify(n.value));
        }
        return { done: false, value: n.value };
      },
    };
    return { ok: true, query: { columns: (header.columnNames ?? []).map((name) => ({ name })), pull, rows, close } };
  }

  async print(p: Print): Promise<Output> {
    return {
      kind: "failure",
      message: `PRINT '${p.topic}' needs the log: run esql repl with --data or --brokers (the server's REST API has no PRINT)`,
    };
  }

  async names(): Promise<CompletionNames> {
    return { sources: [], columns: new Map(), functions: builtinFunctions.all().map((f) => f.name), topics: [] };
  }

  async close(): Promise<void> {}
}

/** A server error body as diagnostics (when it has a position) or a failure. */
function errorOutput(body: unknown, status: number, text: string): Output {
  const b = (body ?? {}) as {
    message?: string;
    position?: { line: number; col: number; endLine: number; endCol: number };
    code?: string;
  };
  const message = (b.message ?? `the server answered ${status}`).replace(/^Line: \d+, Col: \d+: /, "");
  if (!b.position) return { kind: "failure", message };
  const p = b.position;
  const d: Diagnostic = {
    severity: "error",
    code: b.code ?? "SERVER",
    message,
    span: { start: offsetOf(text, p.line, p.col), end: offsetOf(text, p.endLine, p.endCol), ...p },
  };
  return { kind: "diagnostics", diagnostics: [d] };
}

function offsetOf(text: string, line: number, col: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) at = text.indexOf("\n", at) + 1;
  return at + col - 1;
}

/** The JSON documents of a delimited-JSON body, one per line. */
async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line !== "") yield JSON.parse(line);
    }
  }
  if (buffered.trim() !== "") yield JSON.parse(buffered);
}
