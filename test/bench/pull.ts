/**
 * Pull-query latency on a table of many keys: 32 concurrent HTTP clients doing key lookups against the query
 * server, next to the same lookups made in process (`engine.pull`) with the same concurrency.
 *
 * The table: one event per key appended straight to the embedded log (4 partitions), folded by a
 * `GROUP BY` aggregate (what a projection is), drained before anything is timed. The HTTP clients run in a
 * worker thread (plain `node:http`, one keep-alive agent with one socket per client) so that the server's
 * thread does only the server's work, as with clients on other machines. Each lookup asks for a random key
 * on `POST /query-stream` and checks that exactly one row came back. Two key distributions: uniformly random
 * over every key, and a cached working set (random keys among the first `hotKeys`, which stay in LevelDB's
 * and the operating system's caches once read).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer } from "../../runtime/http/server.ts";
import type { ProduceRecord } from "../../runtime/log/types.ts";

export interface LatencyFigures {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly perSecond: number;
}

export interface PullBenchResult {
  readonly keys: number;
  readonly hotKeys: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly buildSeconds: number;
  /** Uniformly random keys over all of them. */
  readonly uniform: { readonly http: LatencyFigures; readonly inProcess: LatencyFigures };
  /** Random keys among the first `hotKeys`. */
  readonly cached: { readonly http: LatencyFigures; readonly inProcess: LatencyFigures };
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function figures(latencies: number[], seconds: number): LatencyFigures {
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    perSecond: sorted.length / seconds,
  };
}

const keyOf = (i: number) => `acc-${i}`;

/** The HTTP clients, as plain JavaScript for a worker thread (no TypeScript loader needed there). */
const CLIENTS = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { port, range, concurrency, seconds } = workerData;
const latencies = [];
let failures = 0;
const lookup = (agent) => new Promise((resolve) => {
  const id = "acc-" + Math.floor(Math.random() * range);
  const body = JSON.stringify({ sql: "SELECT * FROM balances WHERE id = '" + id + "';" });
  const t0 = performance.now();
  const req = http.request({ host: "127.0.0.1", port, path: "/query-stream", method: "POST", agent,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (d) => (text += d));
    res.on("end", () => {
      const lines = text.trim().split("\\n");
      if (res.statusCode !== 200 || lines.length !== 2 || !lines[1].startsWith('["' + id + '"')) failures++;
      latencies.push(performance.now() - t0);
      resolve();
    });
  });
  req.on("error", () => { failures++; resolve(); });
  req.end(body);
});
(async () => {
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (performance.now() < end) await lookup(agent);
    agent.destroy();
  }));
  parentPort.postMessage({ latencies, failures });
})();
`;

export async function benchPull(
  options: {
    keys?: number;
    hotKeys?: number;
    concurrency?: number;
    seconds?: number;
    log?: (line: string) => void;
  } = {},
): Promise<PullBenchResult> {
  const keys = options.keys ?? 1_000_000;
  const hotKeys = Math.min(keys, options.hotKeys ?? 10_000);
  const concurrency = options.concurrency ?? 32;
  const seconds = options.seconds ?? 10;
  const dir = mkdtempSync(join(tmpdir(), "esql-bench-pull-"));
  const engine = await Engine.open({ dataDir: dir, persistent: false });
  try {
    const t0 = performance.now();
    await engine.execute(`
      CREATE STREAM payments (id STRING KEY, name STRING, amount DOUBLE)
        WITH (kafka_topic = 'payments', value_format = 'JSON', partitions = 4);
      CREATE TABLE balances AS
        SELECT id, LATEST_BY_OFFSET(name) AS name, SUM(amount) AS total, COUNT(*) AS n
        FROM payments GROUP BY id;`);
    let batch: ProduceRecord[] = [];
    for (let i = 0; i < keys; i++) {
      batch.push({
        key: Buffer.from(keyOf(i)),
        value: Buffer.from(`{"NAME":"holder ${i}","AMOUNT":${(i % 1000) / 10}}`),
        timestamp: 1_700_000_000_000 + i,
      });
      if (batch.length === 20_000) {
        await engine.log.append("payments", batch);
        batch = [];
      }
    }
    if (batch.length > 0) await engine.log.append("payments", batch);
    const folded = await engine.drain();
    if (folded < keys) throw new Error(`folded ${folded} of ${keys} events`);
    const buildSeconds = (performance.now() - t0) / 1000;
    options.log?.(`  table built in ${buildSeconds.toFixed(1)} s`);

    // Over HTTP: the server drains in the background as `esql serve` does (nothing new arrives here).
    const server = await startServer({ engine, maxPushQueries: 64 });
    const overHttp = async (range: number): Promise<LatencyFigures> => {
      const worker = new Worker(CLIENTS, {
        eval: true,
        workerData: { port: server.port, range, concurrency, seconds },
      });
      const r = await new Promise<{ latencies: number[]; failures: number }>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      await worker.terminate();
      if (r.failures > 0) throw new Error(`${r.failures} HTTP lookups failed`);
      return figures(r.latencies, seconds);
    };
    let http: { uniform: LatencyFigures; cached: LatencyFigures };
    try {
      const uniform = await overHttp(keys);
      await overHttp(hotKeys); // warms the working set's blocks
      http = { uniform, cached: await overHttp(hotKeys) };
    } finally {
      await server.close();
    }

    // In process, the same lookups with the same concurrency.
    const inProcess = async (range: number): Promise<LatencyFigures> => {
      const latencies: number[] = [];
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            const id = keyOf(Math.floor(Math.random() * range));
            const t = performance.now();
            const r = await engine.pull(`SELECT * FROM balances WHERE id = '${id}';`);
            latencies.push(performance.now() - t);
            if (r.rows.length !== 1 || r.rows[0]![0] !== id)
              throw new Error(`in-process lookup of ${id}: ${r.diagnostics[0]?.message ?? `${r.rows.length} rows`}`);
          }
        }),
      );
      return figures(latencies, seconds);
    };
    const uniform = { http: http.uniform, inProcess: await inProcess(keys) };
    const cached = { http: http.cached, inProcess: await inProcess(hotKeys) };
    return { keys, hotKeys, concurrency, seconds, buildSeconds, uniform, cached };
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
