/**
 * `esql serve`: opens (or resumes) an engine in a data folder, on the embedded log there or on Kafka
 * (`brokers`), and serves ksqlDB's REST API (see `runtime/http/server.ts`) until SIGINT/SIGTERM. On Kafka
 * the deployed statements live in the cluster's command topic and the state stores in the data folder
 * (restored from their changelog topics when missing or behind); the server's background loop drains the
 * persistent queries as new records arrive.
 *
 * The `.esql` files given are deployed when the data folder has nothing deployed yet; otherwise the
 * engine resumes what it deployed before and the files are not run again (statements go through
 * `POST /ksql` from then on).
 */
import type { FunctionRegistry } from "../functions/types.ts";
import { PROCESSING_LOG_STREAM } from "../../runtime/engine/engine.ts";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer } from "../../runtime/http/server.ts";
import { LogError, type EventLog } from "../../runtime/log/types.ts";
import { renderDiagnostic } from "../diagnostics/render.ts";
import { artifactSources, plansOf, readArtifact } from "./artifact.ts";
import { collectEsqlFiles, readSource, UsageError } from "./files.ts";
import type { ClusterOptions } from "../../runtime/cluster/member.ts";
import { openKafkaLog } from "./kafka.ts";
import { EXIT, useColor } from "./output.ts";

export interface ServeOptions {
  readonly data: string;
  /** The built-in and user functions (default: the built-ins). */
  readonly functions?: FunctionRegistry;
  /** A plan file of `esql compile`: deploy its statements with their compiled plans (instead of `.esql` files). */
  readonly plan?: string;
  /** Kafka bootstrap addresses: run on this cluster instead of the embedded log. */
  readonly brokers?: readonly string[];
  /**
   * Run as one instance of a service sharing the deployment (Kafka; see `src/cli/kafka.ts`). Without an
   * advertised URL, the instance advertises `http://<host>:<port>` when the port is fixed.
   */
  readonly cluster?: ClusterOptions;
  /** `processing.guarantee = exactly_once`: outputs, state and offsets in one Kafka transaction per batch. */
  readonly exactlyOnce?: boolean;
  /**
   * An open log to run on instead (tests, embedding: e.g. a `NamespacedLog` over Kafka); the caller
   * closes it. Not with `brokers`.
   */
  readonly log?: EventLog;
  readonly port: number;
  readonly host: string;
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  readonly until?: Promise<void>;
  /** Called once the server listens (tests read the port from it). */
  readonly onListening?: (url: string) => void;
  readonly readOnly?: boolean;
  /** Serve the web console at `/` (default true; `--no-console`). */
  readonly console?: boolean;
  readonly maxPushQueries?: number;
  /** Server limits (see `ServerOptions` in `runtime/http/server.ts`). */
  readonly maxSqlLength?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** Credentials from the environment (never from the command line, where `ps` would show them). */
function authFromEnv(): { apiKeys?: string[]; basic?: { user: string; password: string }[] } | undefined {
  const keys = (process.env.ESQL_API_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const basic = (process.env.ESQL_BASIC_AUTH ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.includes(":"))
    .map((p) => ({ user: p.slice(0, p.indexOf(":")), password: p.slice(p.indexOf(":") + 1) }));
  if (keys.length === 0 && basic.length === 0) return undefined;
  return { ...(keys.length ? { apiKeys: keys } : {}), ...(basic.length ? { basic } : {}) };
}

export async function runServe(
  paths: readonly string[],
  options: ServeOptions,
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Promise<number> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new UsageError(`--port must be a port number (0-65535), found ${options.port}`);
  const artifact = options.plan ? readArtifact(options.plan) : undefined;
  if (artifact && paths.length > 0) throw new UsageError("give .esql files or --plan, not both");
  const files = paths.length > 0 ? collectEsqlFiles(paths) : [];
  if (paths.length > 0 && files.length === 0) throw new UsageError(`no .esql files in ${paths.join(", ")}`);
  const sources = artifact ? artifactSources(artifact) : files.map(readSource);
  const plans = artifact ? plansOf(artifact) : undefined;
  // On Kafka the engine does not own the log: it is closed after the engine, in the `finally` below.
  // Loaded only when asked for: kafkajs is not needed on the embedded log.
  if (options.brokers && options.log) throw new Error("internal: runServe takes brokers or a log, not both");
  const kafka = await openKafkaLog(options.brokers ? { brokers: options.brokers } : {});
  const cluster =
    options.cluster && !options.cluster.advertisedUrl && options.port !== 0
      ? { ...options.cluster, advertisedUrl: `http://${options.host}:${options.port}` }
      : options.cluster;
  let engine: Engine;
  try {
    engine = await Engine.open({
      dataDir: options.data,
      ...(kafka ? { log: kafka } : options.log ? { log: options.log } : {}),
      ...(options.functions ? { functions: options.functions } : {}),
      ...(cluster ? { cluster, onClusterEvent: (m: string) => err.write(`${m}\n`) } : {}),
      ...(options.exactlyOnce ? { properties: { "processing.guarantee": "exactly_once" } } : {}),
      onRestore: (p) => {
        if (p.done) err.write(`restored ${p.topic}[${p.partition}] from ${p.read} changelog records\n`);
      },
    });
  } catch (e) {
    await kafka?.close();
    if (e instanceof LogError && e.code === "LOCKED") {
      err.write(`esql: the data folder ${options.data} is in use by another esql process\n`);
    } else {
      err.write(
        `esql: cannot open ${kafka ? `Kafka at ${options.brokers!.join(",")} with ` : ""}the data folder ${options.data}: ${(e as Error).message}\n`,
      );
    }
    return EXIT.failed;
  }
  for (const w of engine.warnings) err.write(`esql: warning: ${w}\n`);
  let code: number = EXIT.ok;
  try {
    // The processing log stream is always there: anything else means statements were deployed before.
    if ([...engine.catalog.sources.keys()].every((name) => name === PROCESSING_LOG_STREAM)) {
      const color = useColor(err);
      for (const file of sources) {
        const r = await engine.execute(file.text, plans ? { plans } : {});
        for (const d of r.diagnostics) err.write(renderDiagnostic(d, file, { color }) + "\n\n");
        if (r.diagnostics.length > 0) code = EXIT.failed;
      }
    } else if (sources.length > 0) {
      out.write(`${options.data} already has deployed statements: resuming them (files not run again)\n`);
    }
    for (const [flag, value] of [
      ["--max-push-queries", options.maxPushQueries],
      ["--max-sql-length", options.maxSqlLength],
      ["--headers-timeout-ms", options.headersTimeoutMs],
      ["--request-timeout-ms", options.requestTimeoutMs],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1))
        throw new UsageError(`${flag} must be a positive number, found ${value}`);
    }
    const auth = authFromEnv();
    const server = await startServer({
      engine,
      port: options.port,
      host: options.host,
      ...(options.readOnly ? { readOnly: true } : {}),
      console: options.console ?? true,
      ...(options.maxPushQueries !== undefined ? { maxPushQueries: options.maxPushQueries } : {}),
      ...(options.maxSqlLength !== undefined ? { maxSqlLength: options.maxSqlLength } : {}),
      ...(options.headersTimeoutMs !== undefined ? { headersTimeoutMs: options.headersTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(auth ? { auth } : {}),
      // One JSON line per change of state, for log collectors. A failure to reach the log on Kafka (code IO:
      // a broker away, a connection refused) says what processing waits for until `processing_resumed`.
      onEvent: (e) => {
        const failed = e.event === "processing_failed";
        const waitingFor =
          failed && options.brokers && e.code === "IO" ? { waitingFor: `Kafka at ${options.brokers.join(",")}` } : {};
        err.write(
          `${JSON.stringify({ time: new Date().toISOString(), level: failed ? "warn" : "info", ...e, ...waitingFor })}\n`,
        );
      },
    });
    const on = options.brokers
      ? `Kafka at ${options.brokers.join(",")}, state in ${options.data}`
      : `data in ${options.data}`;
    out.write(
      `esql serving ksqlDB's REST API${(options.console ?? true) ? " and the web console" : ""} at ${server.url} (${on}); Ctrl-C stops\n`,
    );
    options.onListening?.(server.url);
    await (options.until ??
      new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      }));
    await server.close();
  } finally {
    await engine.close();
    await kafka?.close();
  }
  return code;
}
