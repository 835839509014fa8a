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
 * Hostile clients: bodies are checked before anything runs (content type: 415; size, JSON nesting, shape
 * against a schema, SQL length: 400 or 413), a connection must send its request headers within
 * `headersTimeoutMs` and its whole request within `requestTimeoutMs` (responses, push streams included,
 * are not limited), idle connections close, and the push-query limit is counted before anything awaits,
 * so concurrent requests cannot overshoot it; pull queries are never counted.
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
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { parseScript } from "../../src/parse.ts";
import { formatType, type SqlType } from "../../src/types/sqltype.ts";
import type { Engine } from "../engine/engine.ts";
import { explainEntity } from "./explain.ts";
import { isTombstone, type PushQuery, type QueryColumn } from "../engine/push.ts";
import { formatDecimal, stringifyExact } from "../serde/index.ts";
import { toPlain } from "../testing/values.ts";
import { z } from "zod";

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
  /** The most push queries streaming at once (default 32); one more gets 429. Pull queries are not counted. */
  readonly maxPushQueries?: number;
  /**
   * Longest SQL text of one request, in characters (default 65536); longer gets 400 before it is parsed,
   * so no request keeps the compiler (and with it every other request) busy for long.
   */
  readonly maxSqlLength?: number;
  /** Time (ms) a connection has to send a request's headers (default 10 s); then 408 and closed. */
  readonly headersTimeoutMs?: number;
  /** Time (ms) a connection has to send a whole request, body included (default 30 s). Responses are not limited. */
  readonly requestTimeoutMs?: number;
  /** Time (ms) an HTTP/1.1 connection stays open waiting for its next request (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /** Time (ms) an HTTP/2 session without open streams stays open (default 60 s). */
  readonly sessionIdleTimeoutMs?: number;
  /**
   * Told when background processing starts failing (a broker that is away, a disk error: `error`, and the
   * log's error `code` when it has one) and when it works again (`downMs`); `esql serve` logs them as JSON lines.
   */
  readonly onEvent?: (
    e:
      | { readonly event: "processing_failed"; readonly error: string; readonly code?: string }
      | { readonly event: "processing_resumed"; readonly downMs: number },
  ) => void;
}

/** Deepest nesting of arrays and objects accepted in a request body (ksqlDB's bodies need 3). */
const MAX_JSON_DEPTH = 32;

/** Whether `text` nests arrays/objects deeper than `limit` (a linear scan that skips strings). */
function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Content types a JSON endpoint accepts: none at all (ksqlDB's Java client sends none), `application/json`,
 * any `application/...+json` (`application/vnd.ksql.v1+json`, what ksqlDB's CLI and docs send),
 * `application/vnd.ksqlapi.delimited.v1`, and `text/plain` (what `fetch` and many HTTP libraries send for a
 * string body). ksqlDB itself reads any body as JSON; a form, multipart, XML or binary body here is a client
 * mistake, answered 415.
 */
function jsonContentType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === "") return true;
  const type = header.split(";", 1)[0]!.trim().toLowerCase();
  return (
    type === "application/json" ||
    /^application\/[a-z0-9.+-]*\+json$/.test(type) ||
    type === "application/vnd.ksqlapi.delimited.v1" ||
    type === "text/plain"
  );
}

/** Property values as ksqlDB's clients send them: strings, numbers, booleans (null: not set). */
const Properties = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullish();
/** The request bodies, per endpoint; fields not listed are ignored (as ksqlDB does). */
const Bodies = {
  ksql: z.object({
    ksql: z.string(),
    streamsProperties: Properties,
    sessionVariables: Properties,
    requestProperties: Properties,
    commandSequenceNumber: z.number().nullish(),
  }),
  query: z.object({ ksql: z.string(), streamsProperties: Properties, sessionVariables: Properties }),
  queryStream: z.object({
    sql: z.string(),
    properties: Properties,
    sessionVariables: Properties,
    requestProperties: Properties,
  }),
  closeQuery: z.object({ queryId: z.string() }),
} as const;

/** Property values as the engine takes them (strings); nulls left out. */
function propertyStrings(p: z.infer<typeof Properties>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p ?? {})) if (v !== null) out[k] = String(v);
  return out;
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

/** How long `/metrics` waits for the log to tell each partition's end offset (a broker call on Kafka). */
const LAG_DEADLINE_MS = 500;

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
  timeout: 40800,
  tooLarge: 41300,
  mediaType: 41500,
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
  let failingSince = 0;
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
            if (drainError !== undefined)
              options.onEvent?.({ event: "processing_resumed", downMs: Date.now() - failingSince });
            drainError = undefined;
          } catch (e) {
            if (drainError === undefined) {
              failingSince = Date.now();
              const code = (e as { code?: unknown }).code;
              options.onEvent?.({
                event: "processing_failed",
                error: (e as Error).message,
                ...(typeof code === "string" ? { code } : {}),
              });
            }
            drainError = (e as Error).message;
          }
        })
        .finally(() => (draining = false));
    },
    interval > 0 ? interval : 60_000,
  );

  // How late the event loop runs (anything synchronous delays every request): max and p99 per scrape.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  // Pull query latency (compile + read, until the rows are ready to write), as a Prometheus histogram.
  const latency = { counts: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0 };
  const observePull = (seconds: number) => {
    latency.count++;
    latency.sum += seconds;
    const i = LATENCY_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) latency.counts[i]!++;
  };

  const maxSql = options.maxSqlLength ?? 65_536;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;

  /** The body's bytes, within the size limit and the request deadline. */
  const readBytes = async (req: Req): Promise<Buffer> => {
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
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              408,
              errorBody("generic_error", ERR.timeout, `the request body did not arrive within ${requestTimeout} ms`),
            ),
          ),
        requestTimeout,
      );
    });
    const read = (async () => {
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > maxBody)
          throw new HttpError(
            413,
            errorBody("generic_error", ERR.tooLarge, `request body exceeds the limit of ${maxBody} bytes`),
          );
        chunks.push(c);
      }
    })();
    try {
      await Promise.race([read, deadline]);
    } finally {
      clearTimeout(timer);
      read.catch(() => {});
    }
    return Buffer.concat(chunks);
  };

  /** Reads a JSON body and checks it against `schema`: 415, 413, 408 or 400 with the reason. */
  const readBody = async <T>(req: Req, schema: z.ZodType<T>): Promise<T> => {
    const type = req.headers["content-type"];
    if (!jsonContentType(type))
      throw new HttpError(
        415,
        errorBody(
          "generic_error",
          ERR.mediaType,
          `unsupported content type '${String(type).slice(0, 100)}': send application/json (or application/vnd.ksql.v1+json)`,
        ),
      );
    const text = (await readBytes(req)).toString("utf8");
    if (nestedDeeperThan(text, MAX_JSON_DEPTH))
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `request body nests deeper than ${MAX_JSON_DEPTH} levels`),
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `request body is not valid JSON: ${(e as Error).message}`),
      );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "request body must be a JSON object"));
    }
    const checked = schema.safeParse(parsed);
    if (!checked.success) {
      const reasons = checked.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length > 0 ? `"${i.path.join(".")}"` : "body"}: ${i.message}`);
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `invalid request body: ${reasons.join("; ")}`),
      );
    }
    return checked.data;
  };

  /** Refuses SQL text over the length limit before it reaches the compiler. */
  const checkSqlLength = (sql: string) => {
    if (sql.length > maxSql)
      throw new HttpError(
        400,
        errorBody(
          "generic_error",
          ERR.badRequest,
          `the SQL text is ${sql.length} characters long, more than the limit of ${maxSql}`,
        ),
      );
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
    const body = await readBody(req, Bodies.ksql);
    const text = body.ksql;
    checkSqlLength(text);
    const props = propertyStrings(body.streamsProperties);
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
          const explained = x.compiled ? explainEntity(engine, x.compiled, x.text) : undefined;
          if (explained) {
            entities.push(explained);
            continue;
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

  /**
   * Push queries admitted: counted when the engine knows the statement is a push query, before it starts
   * anything (so concurrent requests cannot all pass the check), and released when its rows stop.
   */
  let pushSlots = 0;
  const maxPush = options.maxPushQueries ?? 32;

  /**
   * Starts a SELECT (pull or push) for /query and /query-stream; errors as HttpError. A push query holds a
   * slot until {@link pumpRows} ends it.
   */
  const startQuery = async (
    res: Res,
    sql: string,
    props: Record<string, string>,
  ): Promise<{ query: PushQuery; pull: boolean; finalMessage?: string }> => {
    checkSqlLength(sql);
    const t0 = performance.now();
    let admitted = false;
    const admitPush = () => {
      if (pushSlots >= maxPush) return false;
      pushSlots++;
      admitted = true;
      return true;
    };
    const r = await gate.run(false, () => engine.subscribe(sql, props, { admitPush }));
    if (!r.ok) {
      if (admitted) pushSlots--;
      if (r.refused)
        throw new HttpError(
          429,
          errorBody(
            "generic_error",
            ERR.tooMany,
            `too many push queries running (at most ${maxPush}); close one first`,
          ),
        );
      throw new HttpError(400, statementError(r.diagnostics[0]!, sql));
    }
    if (r.pull) observePull((performance.now() - t0) / 1000);
    else if (gone(res)) {
      // The client left while the query started: nobody will pump it.
      pushSlots--;
      await r.query.close();
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "the client went away"));
    }
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
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resolve();
            };
            res.on("drain", done);
            res.on("close", done);
          });
        }
        if (gone(res)) closed = true;
      }
    } finally {
      running.delete(query.id);
      pushSlots--;
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
    const body = await readBody(req, Bodies.query);
    const { query: q, pull, finalMessage } = await startQuery(res, body.ksql, propertyStrings(body.streamsProperties));
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
    const body = await readBody(req, Bodies.queryStream);
    const accept = String(req.headers.accept ?? "");
    const json = /application\/json/i.test(accept) && !/delimited/i.test(accept);
    const { query: q, pull } = await startQuery(res, body.sql, propertyStrings(body.properties));
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
    const id = (await readBody(req, Bodies.closeQuery)).queryId;
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
    // Counters are read at once; lag needs the log (a broker call on Kafka), so each partition's read races a
    // deadline: a broker that is away costs the scrape half a second, and its partitions are counted as unknown.
    // No gate: a statement stuck on the broker must not hold the scrape.
    const lag: string[] = [];
    const dropped: string[] = [];
    const reads: Promise<void>[] = [];
    for (const [id, q] of engine.queries) {
      let recordsIn = 0;
      let errs = 0;
      for (const t of q.tasks) {
        recordsIn += t.metrics.recordsIn;
        errs += t.metrics.errors;
        t.inputTopics.forEach((topic, i) =>
          reads.push(
            (async () => {
              const behind = (await engine.log.endOffset(topic, t.partition)) - (await t.currentPosition(i));
              lag.push(
                `esql_consumer_lag{query_id="${label(id)}",stage="${label(t.stage.id)}",topic="${label(topic)}",partition="${t.partition}"} ${Math.max(0, behind)}`,
              );
            })().catch(() => {
              // a topic that is gone has no lag to show
            }),
          ),
        );
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
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(reads),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, LAG_DEADLINE_MS))),
    ]).finally(() => clearTimeout(timer));
    const lagSamples = [...lag].sort();
    const unknownLag = reads.length - lagSamples.length;
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
          lagSamples,
        ),
        ...family(
          "esql_consumer_lag_unknown",
          "gauge",
          `Input partitions whose lag could not be read within ${LAG_DEADLINE_MS} ms (broker away or slow), or whose topic is gone.`,
          [`esql_consumer_lag_unknown ${unknownLag}`],
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
        ...family(
          "esql_event_loop_delay_max_seconds",
          "gauge",
          "Longest delay of the server's event loop since the previous scrape (synchronous work delays every request).",
          [`esql_event_loop_delay_max_seconds ${loopDelay.max / 1e9}`],
        ),
        ...family(
          "esql_event_loop_delay_p99_seconds",
          "gauge",
          "99th percentile of the event loop's delay since the previous scrape.",
          [`esql_event_loop_delay_p99_seconds ${loopDelay.percentile(99) / 1e9}`],
        ),
      ].join("\n") + "\n";
    loopDelay.reset();
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
      if (!req.complete) {
        req.resume();
        // An HTTP/2 client still sending a body we refused has its stream reset (HTTP/1: Node's requestTimeout).
        if ("stream" in req) req.stream.close();
      }
    });
  };
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const http1 = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(requestTimeout, headersTimeout),
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    onRequest,
  );
  // Node checks headersTimeout and requestTimeout (which end at the request's last byte: a streaming
  // response is not limited) from a timer it starts when the server emits 'listening'. This server never
  // listens itself (the front below hands it connections), so it is told.
  http1.emit("listening");
  http1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // Node reports the headers and request timeouts here too.
    const status =
      err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "408 Request Timeout"
        : err.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });
  const http2 = createHttp2Server({ maxSessionMemory: 16, settings: { maxConcurrentStreams: 256 } }, onRequest);
  const sessions = new Set<Http2Session>();
  const sessionIdle = options.sessionIdleTimeoutMs ?? 60_000;
  http2.on("session", (s: Http2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    // A protocol error ends that client's session, never the server.
    s.on("error", () => s.destroy());
    // A session that goes quiet with no stream open is closed; one with a quiet push stream is not.
    let open = 0;
    s.on("stream", (stream) => {
      open++;
      stream.once("close", () => open--);
    });
    s.setTimeout(sessionIdle, () => {
      if (open === 0) s.close();
    });
  });
  http2.on("sessionError", () => {});
  http2.on("streamError", () => {});
  // One port for both: the first bytes of a connection tell HTTP/2 (prior knowledge) from HTTP/1.x.
  // Every connection, to end them on close (the inner servers never listen, so they do not track them).
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    // The first bytes (which tell the protocol) must come within the headers timeout, however slowly.
    const undecided = setTimeout(() => socket.destroy(), headersTimeout);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const h2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2 && head.length < H2_PREFACE.length) return;
      socket.off("data", onData);
      clearTimeout(undecided);
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
    socket.on("close", () => {
      clearTimeout(undecided);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    // A deep accept queue: in a burst of connections, the kernel must not drop a health check's SYN (the
    // client would retry only after a second). The kernel caps it at net.core.somaxconn.
    front.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1", backlog: 4096 }, () => resolve());
  });
  const server = front;
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    async close() {
      stopped = true;
      clearInterval(loop);
      loopDelay.disable();
      // Push queries free their stores and internal topics before the engine may close.
      const pumps = [...running.values()];
      for (const q of pumps) q.stop();
      await Promise.allSettled(pumps.map((q) => q.done));
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      http1.close(() => {});
      await closed;
      await gate.idle();
    },
  };
}
