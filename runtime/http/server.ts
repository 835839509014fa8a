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
 * | `POST /inserts-stream` | JSON lines: `{"target": "..."}`, then one row object per line | one ack line per row (`routes/inserts.ts`) |
 * | `POST /ksql/terminate`, `GET /clusterStatus`, `GET /is_valid_property/{name}` | | cluster administration (`routes/admin.ts`) |
 * | `POST /esql/wait` | `{queryId, stage, token, timeoutMs}` | between instances: waits for a stage to fold past a position token (`routes/consistency.ts`) |
 * | `GET /status`, `GET /status/{commandId}` | | the outcome of the commands run |
 * | `GET /info`, `GET /healthcheck` | | server info (ksqlDB's version, esql's as `esqlVersion`), health |
 * | `GET /metrics` | | Prometheus text: records processed, processing errors and lag per query, pull latency histogram |
 * | `GET /`, `GET /console/*`, `GET /esql/stats[/{queryId}]` | | the web console (option `console`) and its lag and rate history (`routes/console.ts`) |
 * | `POST /deploy/plan`, `/deploy/apply`, `/deploy/rollback`, `GET /deploy/status` | | esql's deploys to this service (`routes/deploy.ts`) |
 *
 * Errors are `{"@type", "error_code", "message"}` (plus `statementText` and `position` when the SQL is
 * wrong). Bad JSON, unknown endpoints and oversized bodies get error bodies; no request can crash the
 * server or show a stack trace.
 *
 * Hostile clients: bodies are checked before anything runs (content type: 415; size, JSON nesting, shape
 * against a schema, SQL length: 400 or 413), a connection must send its request headers within
 * `headersTimeoutMs` and its whole request within `requestTimeoutMs` (responses, push streams included,
 * are not limited; nor is an insert stream's body once its target is known), idle connections close, and the push-query limit is counted before anything awaits,
 * so concurrent requests cannot overshoot it; pull queries are never counted.
 *
 * The server owns the engine's processing loop: persistent queries are drained in the background. Statements
 * run alone (they change the catalog and start or stop queries); queries (pull and push) run concurrently
 * with each other and with the drain, since they only read committed state (LevelDB snapshots) and logs.
 *
 * This module owns the connections, the background drain and the dispatch; the endpoints live in `routes/`
 * (one module per group, each a table of handlers by `"METHOD /path"`, routed by find-my-way) and share a {@link ServerContext}
 * (`context.ts`); bodies are read in `body.ts`, errors and answers written with `protocol.ts`.
 */
import { createServer, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2ServerResponse, type Http2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import type { Engine } from "../engine/engine.ts";
import { authorized } from "./auth.ts";
import { bodyReader } from "./body.ts";
import { CompilePool } from "./compile-pool.ts";
import FindMyWay, { type HTTPMethod } from "find-my-way";
import type { Handler, Routes, RunningPush, ServerContext } from "./context.ts";
import { Gate } from "./gate.ts";
import { ERR, errorBody, HttpError, send, type Req, type Res } from "./protocol.ts";
import { QueryHistory } from "./history.ts";
import { adminRoutes } from "./routes/admin.ts";
import { consistencyRoutes } from "./routes/consistency.ts";
import { consoleRoutes } from "./routes/console.ts";
import { DeployService } from "../deploy/service.ts";
import { deployRoutes } from "./routes/deploy.ts";
import { infoRoutes } from "./routes/info.ts";
import { insertRoutes } from "./routes/inserts.ts";
import { ksqlRoutes } from "./routes/ksql.ts";
import { metricsRoutes, PullLatency } from "./routes/metrics.ts";
import { queryRoutes } from "./routes/queries.ts";

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
  /**
   * Serve the web console at `/` (default false; `esql serve` turns it on unless `--no-console`): its files,
   * and `GET /esql/stats` with the history it charts (sampled every `consoleSampleMs`, default 5 s).
   */
  readonly console?: boolean;
  readonly consoleSampleMs?: number;
  /** Where the built console is (default: `console/dist` in the package). */
  readonly consoleDir?: string;
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

/** The methods a route may have: a path known for another method answers 405. */
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] as const;

/** The bytes an HTTP/2 client sends first (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting requests, closes running push queries, stops the processing loop (not the engine). */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const engine = options.engine;
  const running = new Map<string, RunningPush>();
  let stopped = false;

  // Statements hold the gate alone; queries and the background drain share it (see the module comment).
  const gate = new Gate();
  let drainError: string | undefined;
  let failingSince = 0;
  let draining = false;
  // Records folded per second of draining (what `esql plan` estimates a rebuild's time with).
  const folded = { records: 0, ms: 0 };
  const interval = options.drainIntervalMs ?? 100;
  const loop = setInterval(
    () => {
      if (stopped || interval <= 0 || draining) return;
      draining = true;
      void gate
        .run(false, async () => {
          try {
            const began = performance.now();
            const n = await engine.drain();
            if (n > 0) {
              folded.records += n;
              folded.ms += performance.now() - began;
            }
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

  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  /** Requests whose body a route keeps open for as long as the client sends (exempt from the request timeout). */
  const longLived = new WeakSet<Req>();
  const ctx: ServerContext = {
    engine,
    options,
    gate,
    body: bodyReader({
      maxBody: options.maxBodyBytes ?? 1 << 20,
      requestTimeout,
      maxSql: options.maxSqlLength ?? 65_536,
    }),
    running,
    pullLatency: new PullLatency(),
    drainError: () => drainError,
    sqlParser: new CompilePool(),
    keepOpen: (req) => longLived.add(req),
    deploy: new DeployService(engine, {
      exclusive: (f) => gate.run(true, f),
      draining: interval > 0,
      // Measured over enough work to mean something (a few thousand records).
      processingRate: () => (folded.records >= 5000 && folded.ms > 0 ? (folded.records * 1000) / folded.ms : undefined),
    }),
  };
  const metrics = metricsRoutes(ctx);
  const history = options.console ? new QueryHistory(engine, options.consoleSampleMs) : undefined;
  const web = history ? consoleRoutes(ctx, history, options.consoleDir) : undefined;
  const routes: Routes = {
    ...ksqlRoutes(ctx),
    ...queryRoutes(ctx),
    ...insertRoutes(ctx),
    ...adminRoutes(ctx),
    ...consistencyRoutes(ctx),
    ...infoRoutes(ctx),
    ...metrics.routes,
    ...web?.routes,
    ...deployRoutes(ctx),
  };
  // A version an interrupted deployment was building (the service stopped or was killed): finish it. With several
  // instances, the one that applies finishes it (each would switch on its own otherwise).
  if (!engine.member) ctx.deploy.resumeInterrupted();
  // The router (find-my-way) holds each route's handler as its store; `/*` routes take any path under them.
  const router = FindMyWay();
  for (const [route, handler] of Object.entries(routes)) {
    const [method, path] = route.split(" ") as [HTTPMethod, string];
    router.on(method, path, () => undefined, handler);
  }
  const find = (method: string, path: string): Handler | undefined =>
    (router.find(method as HTTPMethod, path)?.store as Handler | undefined) ?? undefined;
  const handle = async (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = `${req.method} ${path}`;
    if (route !== "GET /healthcheck" && !web?.isPublic(route) && !authorized(options.auth, req)) {
      // The console asks for credentials in its own form: a challenge would make the browser ask too.
      if (req.headers["x-esql-console"] === undefined) res.setHeader("www-authenticate", 'Basic realm="esql", Bearer');
      throw new HttpError(
        401,
        errorBody(
          "generic_error",
          ERR.unauthorized,
          "Unauthorized: this server needs an API key (Authorization: Bearer ...) or basic credentials",
        ),
      );
    }
    const handler = find(req.method ?? "GET", path);
    if (handler) return handler(req, res);
    const exists = METHODS.some((m) => find(m, path) !== undefined);
    throw new HttpError(
      exists ? 405 : 404,
      errorBody(
        "generic_error",
        exists ? 40500 : ERR.notFound,
        exists ? `method ${req.method} not allowed on ${path}` : `unknown endpoint ${req.method} ${path}`,
      ),
    );
  };

  const onRequest = (req: Req, response: ServerResponse | Http2ServerResponse) => {
    const res = response as Res;
    // The whole request (body included) must arrive within the request timeout, but for a body a route keeps
    // open on purpose (`ctx.keepOpen`: an insert stream). Then 408, and the connection (HTTP/1.1) or the stream
    // (HTTP/2) is closed. Responses are not limited.
    const deadline = setTimeout(() => {
      if (req.complete || longLived.has(req)) return;
      send(res, 408, errorBody("generic_error", ERR.timeout, `the request did not arrive within ${requestTimeout} ms`));
      if ("stream" in req) req.stream.close();
      else req.socket.destroySoon();
    }, requestTimeout);
    const clear = () => clearTimeout(deadline);
    req.once("end", clear);
    req.once("close", clear);
    res.once("close", clear);
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) send(res, e.status, e.body);
      else
        send(res, 500, errorBody("generic_error", ERR.server, `internal error: ${(e as Error)?.message ?? String(e)}`));
      // A body we did not read keeps the connection (HTTP/1.1) or the stream's flow control window busy: drop it.
      if (!req.complete) {
        req.resume();
        // An HTTP/2 client still sending a body we refused has its stream reset (HTTP/1: the deadline above).
        if ("stream" in req) req.stream.close();
      }
    });
  };
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const http1 = createServer(
    {
      headersTimeout,
      // The request timeout is the deadline in onRequest, which an insert stream may be exempt from.
      requestTimeout: 0,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    onRequest,
  );
  // Node checks headersTimeout from a timer it starts when the server emits 'listening'. This server never
  // listens itself (the front below hands it connections), so it is told.
  http1.emit("listening");
  http1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // Node reports the headers timeout here too.
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
  // noDelay: what node:http's own server sets on the sockets it accepts (this front accepts them instead).
  const front = createNetServer({ noDelay: true }, (socket) => {
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
      metrics.close();
      history?.close();
      await ctx.deploy.close();
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
      await ctx.sqlParser.close();
    },
  };
}
