/**
 * The web console (`console/`, built by `scripts/console/build.ts` into `console/dist`): its files at `/` and
 * `/console/*`, and the two JSON endpoints it needs that ksqlDB's API has no equivalent of. Everything else
 * it shows comes from the same endpoints as any client (`/ksql`: SHOW, DESCRIBE, EXPLAIN; `/query-stream`
 * and `/close-query`: pull and push queries, the processing log as the stream `KSQL_PROCESSING_LOG`).
 *
 * | endpoint | answer |
 * |---|---|
 * | `GET /esql/stats` | every persistent query's counters now: records in, rate, lag per input partition, errors, drops by reason; the deployed objects' versions |
 * | `GET /esql/stats/{queryId}` | that query's samples over the last minutes (`history.ts`) |
 *
 * The console's files are the same for everyone and hold no data, so they are served without credentials
 * (a browser must load the sign-in form); the JSON endpoints, like every endpoint, need them.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { readLedger } from "../../deploy/ledger.ts";
import type { Routes, ServerContext } from "../context.ts";
import { rateOf, type QueryHistory } from "../history.ts";
import { ERR, errorBody, gone, HttpError, send, type Req, type Res } from "../protocol.ts";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/** The package's root folder (the one with package.json), from this module's place in the source or a build. */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Where the built console lives. */
export const CONSOLE_DIST = join(packageRoot(), "console", "dist");

/** The console's files by URL path, read once (a fixed set: no request names a path on disk). */
function loadAssets(dir: string): Map<string, { body: Buffer; type: string }> | undefined {
  if (!existsSync(join(dir, "index.html"))) return undefined;
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`/console/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  files.set("/", files.get("/console/index.html")!);
  return files;
}

/** The console's routes, and which of them need no credentials. */
export function consoleRoutes(
  ctx: ServerContext,
  history: QueryHistory,
  dir = CONSOLE_DIST,
): { routes: Routes; isPublic: (route: string) => boolean } {
  const { engine } = ctx;
  const assets = loadAssets(dir);

  const file = async (req: Req, res: Res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (!assets) {
      // A checkout where `npm install` did not build it (or the build failed).
      if (gone(res)) return;
      const text = "The web console is not built: run `npm run console:build` (npm install runs it), then restart.\n";
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const f = assets.get(path);
    if (!f) throw new HttpError(404, errorBody("generic_error", ERR.notFound, `unknown endpoint GET ${path}`));
    if (gone(res)) return;
    res.writeHead(200, { "content-type": f.type, "content-length": f.body.length, "cache-control": "no-cache" });
    (res as unknown as { end(b: Buffer): void }).end(f.body);
  };

  /** GET /esql/stats: the counters of every persistent query now, and the versions of deployed objects. */
  const stats = async (_req: Req, res: Res) => {
    const queries = [...engine.queries.keys()].map((id) => {
      const samples = history.of(id);
      const last = samples[samples.length - 1];
      return {
        id,
        recordsIn: engine.recordsIn(id),
        rate: rateOf(samples),
        errors: last?.errors ?? 0,
        dropped: Object.fromEntries(engine.drops(id).byReason),
        lag: last?.lag ?? {},
      };
    });
    const versions = [...readLedger(engine.catalog, engine.deploySteps).values()].map((o) => ({
      name: o.name,
      current: o.current,
      versions: o.versions.map((v) => ({
        version: v.version,
        alias: v.alias,
        state: v.state,
        ...(v.queryId ? { queryId: v.queryId } : {}),
      })),
    }));
    send(res, 200, { intervalMs: history.intervalMs, queries, versions });
  };

  /** GET /esql/stats/{queryId}: its samples over the last minutes, oldest first. */
  const queryStats = async (req: Req, res: Res) => {
    const id = decodeURIComponent((req.url ?? "").split("?")[0]!.slice("/esql/stats/".length));
    if (!engine.queries.has(id))
      throw new HttpError(404, errorBody("generic_error", ERR.notFound, `no running query with id ${id}`));
    send(res, 200, { id, intervalMs: history.intervalMs, samples: history.of(id) });
  };

  const routes: Routes = {
    "GET /": file,
    "GET /console/*": file,
    "GET /esql/stats": stats,
    "GET /esql/stats/*": queryStats,
  };
  return { routes, isPublic: (route) => route === "GET /" || route.startsWith("GET /console/") };
}
