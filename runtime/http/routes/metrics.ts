/**
 * `GET /metrics`: Prometheus text (records processed, errors, drops, lag, pull latency, event loop delay), written
 * by prom-client. Each family reads the engine when scraped; lag is read first (it may need the broker).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Routes, ServerContext } from "../context.ts";
import type { TaskMetrics } from "../../processors/types.ts";
import { gone, type Req, type Res } from "../protocol.ts";

/** How long `/metrics` waits for the log to tell each partition's end offset (a broker call on Kafka). */
const LAG_DEADLINE_MS = 500;

/** Upper bounds (seconds) of the pull latency histogram's buckets. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Pull query latency (compile + read, until the rows are ready to write), as a Prometheus histogram. */
export class PullLatency {
  readonly histogram = new Histogram({
    name: "esql_pull_query_latency_seconds",
    help: "Time from a pull query's arrival to its rows being ready to send.",
    buckets: LATENCY_BUCKETS,
    registers: [],
  });

  observe(seconds: number): void {
    this.histogram.observe(seconds);
  }
}

/** One input partition's lag. */
interface Lag {
  readonly labels: { query_id: string; stage: string; topic: string; partition: number };
  readonly behind: number;
}

/** The metrics route, and `close` to stop watching the event loop. */
export function metricsRoutes(ctx: ServerContext): { routes: Routes; close: () => void } {
  const { engine, running } = ctx;
  // How late the event loop runs (anything synchronous delays every request): max and p99 per scrape.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const registry = new Registry();
  const registers = [registry];
  /** The lag read for the scrape under way (before the registry collects). */
  let scraped: { lag: Lag[]; unknown: number } = { lag: [], unknown: 0 };

  /** A counter per persistent query, summed over its tasks' metrics when scraped. */
  const perQuery = (name: string, help: string, of: (m: TaskMetrics) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["query_id"],
      registers,
      collect() {
        this.reset();
        for (const [id, q] of engine.queries)
          this.inc(
            { query_id: id },
            q.tasks.reduce((n, t) => n + of(t.metrics), 0),
          );
      },
    });
  perQuery("esql_records_processed_total", "Input records processed by each persistent query.", (m) => m.recordsIn);
  perQuery("esql_processing_errors_total", "Records that failed to decode or evaluate, per query.", (m) => m.errors);
  new Counter({
    name: "esql_records_dropped_total",
    help: "Records a persistent query did not fold, per operator and reason (late, null-key, undecodable, ...); kept across restarts.",
    labelNames: ["query_id", "operator", "reason"],
    registers,
    collect() {
      this.reset();
      for (const id of engine.queries.keys()) {
        for (const [key, n] of engine.drops(id).byOperator) {
          const [operator, reason] = key.split("/");
          this.inc({ query_id: id, operator: operator!, reason: reason! }, n);
        }
      }
    },
  });
  new Gauge({
    name: "esql_consumer_lag",
    help: "Records of each input partition a persistent query's task has not processed yet.",
    labelNames: ["query_id", "stage", "topic", "partition"],
    registers,
    collect() {
      this.reset();
      for (const l of scraped.lag) this.set(l.labels, l.behind);
    },
  });
  new Gauge({
    name: "esql_consumer_lag_unknown",
    help: `Input partitions whose lag could not be read within ${LAG_DEADLINE_MS} ms (broker away or slow), or whose topic is gone.`,
    registers,
    collect() {
      this.set(scraped.unknown);
    },
  });
  registry.registerMetric(ctx.pullLatency.histogram);
  new Gauge({
    name: "esql_push_queries_running",
    help: "Push queries streaming now.",
    registers,
    collect() {
      this.set(running.size);
    },
  });
  new Gauge({
    name: "esql_event_loop_delay_max_seconds",
    help: "Longest delay of the server's event loop since the previous scrape (synchronous work delays every request).",
    registers,
    collect() {
      this.set(loopDelay.max / 1e9);
    },
  });
  new Gauge({
    name: "esql_event_loop_delay_p99_seconds",
    help: "99th percentile of the event loop's delay since the previous scrape.",
    registers,
    collect() {
      this.set(loopDelay.percentile(99) / 1e9);
    },
  });

  /**
   * Each input partition's lag. It needs the log (a broker call on Kafka), so each partition's read races a
   * deadline: a broker that is away costs the scrape half a second, and its partitions are counted as unknown.
   * No gate: a statement stuck on the broker must not hold the scrape.
   */
  const readLag = async (): Promise<{ lag: Lag[]; unknown: number }> => {
    const lag: Lag[] = [];
    const reads: Promise<void>[] = [];
    for (const [id, q] of engine.queries) {
      for (const t of q.tasks) {
        t.inputTopics.forEach((topic, i) =>
          reads.push(
            (async () => {
              const behind = (await engine.log.endOffset(topic, t.partition)) - (await t.currentPosition(i));
              lag.push({
                labels: { query_id: id, stage: t.stage.id, topic, partition: t.partition },
                behind: Math.max(0, behind),
              });
            })().catch(() => {
              // a topic that is gone has no lag to show
            }),
          ),
        );
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(reads),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, LAG_DEADLINE_MS))),
    ]).finally(() => clearTimeout(timer));
    // Reads that finish after the deadline no longer change what this scrape shows.
    const shown = [...lag];
    return { lag: shown, unknown: reads.length - shown.length };
  };

  /** GET /metrics: Prometheus text exposition format 0.0.4. */
  const metrics = async (_req: Req, res: Res) => {
    scraped = await readLag();
    const text = await registry.metrics();
    loopDelay.reset();
    if (gone(res)) return;
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(text);
  };

  return { routes: { "GET /metrics": metrics }, close: () => loopDelay.disable() };
}
