/**
 * The query server: ksqlDB's REST API over HTTP/1.1 and HTTP/2 (cleartext, prior knowledge: what ksqlDB's
 * Java client speaks) on one port. The first bytes of a connection decide: the HTTP/2 connection preface
 * goes to a `node:http2` server, anything else to a `node:http` server; both serve every endpoint with the
 * same handlers (Node's compatibility API gives them one request/response shape).
 *
 * | endpoint | body | answer |
 * |---|---|---|
 * | `POST /ksql` | `{"ksql": "...", "streamsProperties": {...}}` | a JSON array, one entity per statement |
 * | `POST /query` | `{"ksql": "SELECT ...", "streamsProperties": {...}}` | a chunked JSON array: `{"header"}`, `{"row"}`s, `{"finalMessage"}` |
 * | `POST /query-stream` | `{"sql": "SELECT ...", "properties": {...}}` | `application/vnd.ksqlapi.delimited.v1` (default): the header object, then one JSON array per row, a line each; with `Accept: application/json`: one JSON array of the header and the rows |
 * | `POST /close-query` | `{"queryId": "..."}` | closes a running push query |
 * | `GET /info`, `GET /healthcheck` | | server info, health |
 * | `GET /metrics` | | Prometheus text: records processed, processing errors and lag per query, pull latency histogram |
 *
 * Errors are `{"@type", "error_code", "message"}` (plus `statementText` and `position` when the SQL is
 * wrong). Bad JSON, unknown endpoints and oversized bodies get error bodies; no request can crash the
 * server or show a stack trace.
 *
 * The server owns the engine's processing loop: persistent queries are drained in the background. Statements
 * run alone (they change the catalog and start or stop queries); queries (pull and push) run concurrently
 * with each other and with the drain, since they only read committed state (LevelDB snapshots) and logs.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { parseScript } from "../../src/parse.ts";
import { formatType, type SqlType } from "../../src/types/sqltype.ts";
import type { Engine } from "../engine/engine.ts";
import { isTombstone, type PushQuery, type QueryColumn } from "../engine/push.ts";
import { formatDecimal, stringifyExact } from "../serde/index.ts";
import { toPlain } from "../testing/values.ts";

export interface ServerOptions {
  readonly engine: Engine;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Largest accepted request body (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** How often persistent queries are drained (default 100 ms); 0: never (the caller drains the engine itself, between requests). */
  readonly drainIntervalMs?: number;
  /**
   * Authentication. When set, every request but `GET /healthcheck` needs `Authorization: Bearer <api key>`
   * with one of `apiKeys`, or HTTP Basic credentials from `basic`; others get 401.
   */
  readonly auth?: {
    readonly apiKeys?: readonly string[];
    readonly basic?: readonly { readonly user: string; readonly password: string }[];
  };
  /** Refuse statements that change anything (CREATE, DROP, INSERT, TERMINATE, SET, ...) on `/ksql`: 403. */
  readonly readOnly?: boolean;
  /** The most push queries streaming at once (default 32); one more gets 429. */
  readonly maxPushQueries?: number;
}

/** A request or response of either protocol (Node's HTTP/2 compatibility API mirrors node:http). */
type Req = IncomingMessage | Http2ServerRequest;
/** What the handlers use of a response: the part `ServerResponse` and `Http2ServerResponse` share. */
interface Res {
  readonly headersSent: boolean;
  /** HTTP/2 only: the stream the response is written to. */
  readonly stream?: { readonly destroyed: boolean; readonly closed: boolean };
  /** HTTP/1 only. */
  readonly destroyed?: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  setHeader(name: string, value: string): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

/** Whether the client is gone (reset stream, closed connection): nothing more can be written. */
function gone(res: Res): boolean {
  return res.stream ? res.stream.destroyed || res.stream.closed : res.destroyed === true;
}

/** The bytes an HTTP/2 client sends first (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Upper bounds (seconds) of the pull latency histogram's buckets. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Many shared holders or one exclusive holder at a time; a waiting exclusive request holds back new shared
 * ones, so a statement is not starved by a steady stream of queries.
 */
class Gate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { exclusive: boolean; go: () => void }[] = [];

  run<T>(exclusive: boolean, f: () => Promise<T>): Promise<T> {
    return new Promise<void>((go) => {
      if (this.waiting.length === 0 && this.free(exclusive)) this.take(exclusive, go);
      else this.waiting.push({ exclusive, go });
    })
      .then(f)
      .finally(() => {
        if (exclusive) this.exclusive = false;
        else this.shared--;
        this.wake();
      });
  }

  /** Resolves when nothing holds the gate and nothing waits. */
  async idle(): Promise<void> {
    await this.run(true, async () => {});
  }

  private free(exclusive: boolean): boolean {
    return !this.exclusive && (!exclusive || this.shared === 0);
  }

  private take(exclusive: boolean, go: () => void): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
    go();
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.free(this.waiting[0]!.exclusive)) {
      const w = this.waiting.shift()!;
      this.take(w.exclusive, w.go);
      if (w.exclusive) return;
    }
  }
}

/** Statements a read-only server still runs: they look, they do not change. */
const READ_ONLY_KINDS = new Set(["Show", "Describe", "Explain", "Print", "QueryStatement"]);

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting requests, closes running push queries, stops the processing loop (not the engine). */
  close(): Promise<void>;
}

export const SERVER_VERSION = "0.1.0";

/** Compares secrets in constant time (no early exit that would leak how much matched). */
function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** ksqlDB's error codes (HTTP status × 100 + detail). */
const ERR = {
  badRequest: 40000,
  badStatement: 40001,
  unauthorized: 40100,
  forbidden: 40300,
  tooMany: 42900,
  notFound: 40400,
  tooLarge: 41300,
  server: 50000,
} as const;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

function errorBody(
  type: string,
  code: number,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { "@type": type, error_code: code, message, ...extra };
}

/**
 * A value as ksqlDB's REST API writes it: DECIMAL as a JSON number, the rest as plain JSON data; a BIGINT
 * beyond ±2^53 stays a bigint, which {@link stringifyExact} writes as an exact JSON number.
 */
export function restValue(v: unknown, type: SqlType): unknown {
  if (type.kind === "DECIMAL" && typeof v === "bigint") return Number(formatDecimal(v, type.scale));
  return toPlain(v, type, true);
}

/** ksqlDB's schema text: "`ID` BIGINT KEY, `NAME` STRING". */
export function schemaText(columns: readonly QueryColumn[]): string {
  return columns.map((c) => `\`${c.name}\` ${formatType(c.type)}${c.key ? " KEY" : ""}`).join(", ");
}

/** A diagnostic as a statement error body, with ksqlDB's "Line: l, Col: c: " prefix. */
function statementError(d: Diagnostic, statementText: string): Record<string, unknown> {
  return errorBody("statement_error", ERR.badStatement, `Line: ${d.span.line}, Col: ${d.span.col}: ${d.message}`, {
    statementText,
    position: { line: d.span.line, col: d.span.col, endLine: d.span.endLine, endCol: d.span.endCol },
    code: d.code,
    entities: [],
  });
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const engine = options.engine;
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const running = new Map<string, { query: PushQuery; stop: () => void; done: Promise<unknown> }>();
  let commandSeq = 0;
  let stopped = false;

  // Statements hold the gate alone; queries and the background drain share it (see the module comment).
  const gate = new Gate();
  let drainError: string | undefined;
  let draining = false;
  const interval = options.drainIntervalMs ?? 100;
  const loop = setInterval(
    () => {
      if (stopped || interval <= 0 || draining) return;
      draining = true;
      void gate
        .run(false, async () => {
          try {
            await engine.drain();
            drainError = undefined;
          } catch (e) {
            drainError = (e as Error).message;
          }
        })
        .finally(() => (draining = false));
    },
    interval > 0 ? interval : 60_000,
  );

  // Pull query latency (compile + read, until the rows are ready to write), as a Prometheus histogram.
  const latency = { counts: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0 };
  const observePull = (seconds: number) => {
    latency.count++;
    latency.sum += seconds;
    const i = LATENCY_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) latency.counts[i]!++;
  };

  const readJson = async (req: Req): Promise<Record<string, unknown>> => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBody)
      throw new HttpError(
        413,
        errorBody(
          "generic_error",
          ERR.tooLarge,
          `request body of ${declared} bytes exceeds the limit of ${maxBody} bytes`,
        ),
      );
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += (c as Buffer).length;
      if (size > maxBody)
        throw new HttpError(
          413,
          errorBody("generic_error", ERR.tooLarge, `request body exceeds the limit of ${maxBody} bytes`),
        );
      chunks.push(c as Buffer);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `request body is not valid JSON: ${(e as Error).message}`),
      );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "request body must be a JSON object"));
    }
    return parsed as Record<string, unknown>;
  };

  const stringField = (body: Record<string, unknown>, name: string): string => {
    const v = body[name];
    if (typeof v !== "string")
      throw new HttpError(
        400,
        errorBody(
          "generic_error",
          ERR.badRequest,
          `expected the field "${name}" to be a string, found ${v === undefined ? "nothing" : typeof v}`,
        ),
      );
    return v;
  };
  const propsField = (body: Record<string, unknown>, name: string): Record<string, string> => {
    const v = body[name];
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v))
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, `expected "${name}" to be an object`));
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
  };

  const send = (res: Res, status: number, body: unknown) => {
    if (gone(res)) return;
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  /** POST /ksql: runs each statement; stops at the first error (as ksqlDB does). */
  const ksql = async (req: Req, res: Res) => {
    const body = await readJson(req);
    const text = stringField(body, "ksql");
    const props = propsField(body, "streamsProperties");
    const entities: unknown[] = [];
    // A script with a syntax error runs nothing.
    const parsed = parseScript(text, { variables: engine.variables });
    const syntax = parsed.diagnostics.find((d) => d.severity === "error");
    if (syntax) throw new HttpError(400, statementError(syntax, text));
    if (options.readOnly) {
      const write = parsed.statements.find((p) => !READ_ONLY_KINDS.has(p.statement.kind));
      if (write) {
        throw new HttpError(
          403,
          errorBody(
            "statement_error",
            ERR.forbidden,
            "This server is read-only: statements that change streams, tables, queries or properties are refused.",
            { statementText: write.text },
          ),
        );
      }
    }
    await gate.run(true, async () => {
      const saved = { ...engine.properties };
      Object.assign(engine.properties, props);
      try {
        const r = await engine.execute(text);
        for (const x of r.results) {
          if (x.kind === "error") {
            throw new HttpError(400, { ...statementError(x.diagnostics[0]!, x.text), entities });
          }
          if (x.rows) {
            throw new HttpError(
              400,
              errorBody(
                "statement_error",
                ERR.badStatement,
                "The following statement types should be issued to the websocket endpoint '/query': SELECT",
                { statementText: x.text, entities },
              ),
            );
          }
          commandSeq++;
          entities.push({
            "@type": "currentStatus",
            statementText: x.text,
            commandId: `esql/${commandSeq}`,
            commandStatus: { status: "SUCCESS", message: x.message },
            commandSequenceNumber: commandSeq,
            warnings: [],
          });
        }
      } finally {
        for (const k of Object.keys(engine.properties)) if (!(k in saved)) delete engine.properties[k];
        Object.assign(engine.properties, saved);
      }
    });
    send(res, 200, entities);
  };

  /** Starts a SELECT (pull or push) for /query and /query-stream; errors as HttpError. */
  const startQuery = async (
    sql: string,
    props: Record<string, string>,
  ): Promise<{ query: PushQuery; pull: boolean; finalMessage?: string }> => {
    if (running.size >= (options.maxPushQueries ?? 32)) {
      throw new HttpError(
        429,
        errorBody(
          "generic_error",
          ERR.tooMany,
          `too many push queries running (at most ${options.maxPushQueries ?? 32}); close one first`,
        ),
      );
    }
    const t0 = performance.now();
    const r = await gate.run(false, () => engine.subscribe(sql, props));
    if (!r.ok) throw new HttpError(400, statementError(r.diagnostics[0]!, sql));
    if (r.pull) observePull((performance.now() - t0) / 1000);
    return { query: r.query, pull: r.pull, ...(r.finalMessage ? { finalMessage: r.finalMessage } : {}) };
  };

  const pumpRows = async (
    res: Res,
    query: PushQuery,
    /** Writes one row; false when the client's buffer is full (wait for it to drain). */
    write: (row: unknown[], tombstone: boolean) => boolean,
  ): Promise<"done" | "closed"> => {
    let closed = false;
    const stop = () => {
      closed = true;
      void query.close();
    };
    let finished!: () => void;
    running.set(query.id, { query, stop, done: new Promise<void>((r) => (finished = r)) });
    res.on("close", stop);
    try {
      for (;;) {
        const r = await query.next();
        if (r.done || closed) return closed ? "closed" : "done";
        const more = write(
          r.value.map((v, i) => restValue(v, query.columns[i]!.type)),
          isTombstone(r.value),
        );
        // A slow client slows the query down instead of filling memory.
        if (!more && !closed && !gone(res)) {
          await new Promise<void>((resolve) => {
            res.once("drain", resolve);
            res.once("close", resolve);
          });
        }
        if (gone(res)) closed = true;
      }
    } finally {
      running.delete(query.id);
      res.off("close", stop);
      await query.close().finally(finished);
    }
  };

  /**
   * A pull query's rows are all in memory already: one response with a length (no chunks, no bookkeeping of
   * a running query), which is what keeps a key lookup's cost close to the lookup itself.
   */
  const writeAll = async (
    res: Res,
    q: PushQuery,
    contentType: string,
    head: string,
    row: (row: unknown[], tombstone: boolean) => string,
    tail: string,
  ) => {
    const parts = [head];
    try {
      for (let r = await q.next(); !r.done; r = await q.next()) {
        parts.push(
          row(
            r.value.map((v, i) => restValue(v, q.columns[i]!.type)),
            isTombstone(r.value),
          ),
        );
      }
    } finally {
      await q.close();
    }
    parts.push(tail);
    const text = parts.join("");
    if (gone(res)) return;
    res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  /** POST /query: a chunked JSON array. */
  const query = async (req: Req, res: Res) => {
    const body = await readJson(req);
    const {
      query: q,
      pull,
      finalMessage,
    } = await startQuery(stringField(body, "ksql"), propsField(body, "streamsProperties"));
    const header = `[${JSON.stringify({ header: { queryId: q.id, schema: schemaText(q.columns) } })}`;
    const rowText = (row: unknown[], tombstone: boolean) =>
      `,\n${stringifyExact({ row: { columns: row, ...(tombstone ? { tombstone: true } : {}) } })}`;
    if (pull)
      return writeAll(
        res,
        q,
        "application/json",
        header,
        rowText,
        finalMessage === undefined ? "]\n" : `,\n${JSON.stringify({ finalMessage })}]\n`,
      );
    res.writeHead(200, { "content-type": "application/json" });
    res.write(header);
    let end: "done" | "closed";
    try {
      end = await pumpRows(res, q, (row, tombstone) => res.write(rowText(row, tombstone)));
    } catch (e) {
      // The status line is gone: the error becomes the array's last element.
      if (!gone(res))
        res.end(
          `,\n${JSON.stringify({ errorMessage: errorBody("generic_error", ERR.server, (e as Error).message) })}]\n`,
        );
      return;
    }
    if (gone(res)) return;
    const final = end === "closed" ? undefined : pull ? finalMessage : "Limit Reached";
    res.end(final === undefined ? "]\n" : `,\n${JSON.stringify({ finalMessage: final })}]\n`);
  };

  /**
   * POST /query-stream: delimited JSON lines (`application/vnd.ksqlapi.delimited.v1`, the default), or one
   * JSON array `[header, row, ...]` when the client accepts `application/json` and not the delimited type.
   */
  const queryStream = async (req: Req, res: Res) => {
    const body = await readJson(req);
    const accept = String(req.headers.accept ?? "");
    const json = /application\/json/i.test(accept) && !/delimited/i.test(accept);
    const { query: q, pull } = await startQuery(stringField(body, "sql"), propsField(body, "properties"));
    const contentType = json ? "application/json" : "application/vnd.ksqlapi.delimited.v1";
    const header = JSON.stringify({
      queryId: q.id,
      columnNames: q.columns.map((c) => c.name),
      columnTypes: q.columns.map((c) => formatType(c.type)),
    });
    if (pull)
      return writeAll(
        res,
        q,
        contentType,
        json ? `[${header}` : `${header}\n`,
        (row) => (json ? `,\n${stringifyExact(row)}` : `${stringifyExact(row)}\n`),
        json ? "]\n" : "",
      );
    res.writeHead(200, { "content-type": contentType });
    res.write(json ? `[${header}` : `${header}\n`);
    try {
      await pumpRows(res, q, (row) => res.write(json ? `,\n${stringifyExact(row)}` : `${stringifyExact(row)}\n`));
    } catch (e) {
      const error = JSON.stringify(errorBody("generic_error", ERR.server, (e as Error).message));
      if (!gone(res)) res.end(json ? `,\n${error}]\n` : `${error}\n`);
      return;
    }
    if (!gone(res)) res.end(json ? "]\n" : undefined);
  };

  const closeQuery = async (req: Req, res: Res) => {
    const body = await readJson(req);
    const id = stringField(body, "queryId");
    const q = running.get(id);
    if (!q) throw new HttpError(400, errorBody("generic_error", ERR.badRequest, `no running query with id ${id}`));
    q.stop();
    send(res, 200, {});
  };

  /** GET /metrics: Prometheus text exposition format 0.0.4. */
  const metrics = async (res: Res) => {
    const label = (v: string | number) => String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    const family = (name: string, type: string, help: string, samples: string[]) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...samples,
    ];
    const processed: string[] = [];
    const errors: string[] = [];
    const lag: string[] = [];
    const dropped: string[] = [];
    await gate.run(false, async () => {
      for (const [id, q] of engine.queries) {
        let recordsIn = 0;
        let errs = 0;
        for (const t of q.tasks) {
          recordsIn += t.metrics.recordsIn;
          errs += t.metrics.errors;
          const topics = t.inputTopics;
          for (let i = 0; i < topics.length; i++) {
            try {
              const behind = (await engine.log.endOffset(topics[i]!, t.partition)) - (await t.currentPosition(i));
              lag.push(
                `esql_consumer_lag{query_id="${label(id)}",stage="${label(t.stage.id)}",topic="${label(topics[i]!)}",partition="${t.partition}"} ${Math.max(0, behind)}`,
              );
            } catch {
              // a topic that is gone has no lag to show
            }
          }
        }
        processed.push(`esql_records_processed_total{query_id="${label(id)}"} ${recordsIn}`);
        errors.push(`esql_processing_errors_total{query_id="${label(id)}"} ${errs}`);
        for (const [key, n] of engine.drops(id).byOperator) {
          const [operator, reason] = key.split("/");
          dropped.push(
            `esql_records_dropped_total{query_id="${label(id)}",operator="${label(operator!)}",reason="${label(reason!)}"} ${n}`,
          );
        }
      }
    });
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS.map((b, i) => {
      cumulative += latency.counts[i]!;
      return `esql_pull_query_latency_seconds_bucket{le="${b}"} ${cumulative}`;
    });
    const text =
      [
        ...family(
          "esql_records_processed_total",
          "counter",
          "Input records processed by each persistent query.",
          processed,
        ),
        ...family(
          "esql_processing_errors_total",
          "counter",
          "Records that failed to decode or evaluate, per query.",
          errors,
        ),
        ...family(
          "esql_records_dropped_total",
          "counter",
          "Records a persistent query did not fold, per operator and reason (late, null-key, undecodable, ...); kept across restarts.",
          dropped,
        ),
        ...family(
          "esql_consumer_lag",
          "gauge",
          "Records of each input partition a persistent query's task has not processed yet.",
          lag,
        ),
        ...family(
          "esql_pull_query_latency_seconds",
          "histogram",
          "Time from a pull query's arrival to its rows being ready to send.",
          [
            ...buckets,
            `esql_pull_query_latency_seconds_bucket{le="+Inf"} ${latency.count}`,
            `esql_pull_query_latency_seconds_sum ${latency.sum}`,
            `esql_pull_query_latency_seconds_count ${latency.count}`,
          ],
        ),
        ...family("esql_push_queries_running", "gauge", "Push queries streaming now.", [
          `esql_push_queries_running ${running.size}`,
        ]),
      ].join("\n") + "\n";
    if (gone(res)) return;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(text);
  };

  const authorized = (req: Req): boolean => {
    const auth = options.auth;
    if (!auth) return true;
    const header = req.headers.authorization ?? "";
    const [scheme, value = ""] = header.split(" ", 2) as [string, string | undefined];
    if (/^bearer$/i.test(scheme)) return (auth.apiKeys ?? []).some((k) => safeEqual(k, value));
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i < 0) return false;
      const user = decoded.slice(0, i);
      const password = decoded.slice(i + 1);
      return (auth.basic ?? []).some((c) => safeEqual(c.user, user) && safeEqual(c.password, password));
    }
    return false;
  };

  const handle = async (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0];
    const route = `${req.method} ${path}`;
    if (route !== "GET /healthcheck" && !authorized(req)) {
      res.setHeader("www-authenticate", 'Basic realm="esql", Bearer');
      throw new HttpError(
        401,
        errorBody(
          "generic_error",
          ERR.unauthorized,
          "Unauthorized: this server needs an API key (Authorization: Bearer ...) or basic credentials",
        ),
      );
    }
    switch (route) {
      case "POST /ksql":
        return ksql(req, res);
      case "POST /query":
        return query(req, res);
      case "POST /query-stream":
        return queryStream(req, res);
      case "POST /close-query":
        return closeQuery(req, res);
      case "GET /info":
        return send(res, 200, {
          KsqlServerInfo: {
            version: SERVER_VERSION,
            kafkaClusterId: "esql",
            ksqlServiceId: "esql_",
            serverStatus: "RUNNING",
          },
        });
      case "GET /healthcheck": {
        const healthy = drainError === undefined;
        return send(res, healthy ? 200 : 503, {
          isHealthy: healthy,
          details: { engine: { isHealthy: healthy, ...(drainError ? { error: drainError } : {}) } },
        });
      }
      case "GET /metrics":
        await metrics(res);
        return;
      default: {
        const known = [
          "/ksql",
          "/query",
          "/query-stream",
          "/close-query",
          "/info",
          "/healthcheck",
          "/metrics",
        ].includes(path ?? "");
        throw new HttpError(
          known ? 405 : 404,
          errorBody(
            "generic_error",
            known ? 40500 : ERR.notFound,
            known ? `method ${req.method} not allowed on ${path}` : `unknown endpoint ${req.method} ${path}`,
          ),
        );
      }
    }
  };

  const onRequest = (req: Req, response: ServerResponse | Http2ServerResponse) => {
    const res = response as Res;
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) send(res, e.status, e.body);
      else
        send(res, 500, errorBody("generic_error", ERR.server, `internal error: ${(e as Error)?.message ?? String(e)}`));
      // A body we did not read keeps the connection (HTTP/1.1) or the stream's flow control window busy: drop it.
      if (!req.complete) req.resume();
    });
  };
  const http1 = createServer(onRequest);
  http1.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  const http2 = createHttp2Server({ maxSessionMemory: 16 }, onRequest);
  const sessions = new Set<Http2Session>();
  http2.on("session", (s: Http2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    // A protocol error ends that client's session, never the server.
    s.on("error", () => s.destroy());
  });
  http2.on("sessionError", () => {});
  http2.on("streamError", () => {});
  // One port for both: the first bytes of a connection tell HTTP/2 (prior knowledge) from HTTP/1.x.
  // Every connection, to end them on close (the inner servers never listen, so they do not track them).
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    socket.setTimeout(30_000, () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const h2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2 && head.length < H2_PREFACE.length) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(head);
      // The HTTP/2 session reads what is buffered itself; the HTTP/1 parser needs the stream flowing.
      if (h2) http2.emit("connection", socket);
      else {
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const server = front;
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    async close() {
      stopped = true;
      clearInterval(loop);
      // Push queries free their stores and internal topics before the engine may close.
      const pumps = [...running.values()];
      for (const q of pumps) q.stop();
      await Promise.allSettled(pumps.map((q) => q.done));
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
      await gate.idle();
    },
  };
}
