/** `GET /metrics`: Prometheus text (records processed, errors, drops, lag, pull latency, event loop delay). */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Routes, ServerContext } from "../context.ts";
import { gone, type Req, type Res } from "../protocol.ts";

/** How long `/metrics` waits for the log to tell each partition's end offset (a broker call on Kafka). */
const LAG_DEADLINE_MS = 500;

/** Upper bounds (seconds) of the pull latency histogram's buckets. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Pull query latency (compile + read, until the rows are ready to write), as a Prometheus histogram. */
export class PullLatency {
  readonly counts = LATENCY_BUCKETS.map(() => 0);
  count = 0;
  sum = 0;

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    const i = LATENCY_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) this.counts[i]!++;
  }
}

/** The metrics route, and `close` to stop watching the event loop. */
export function metricsRoutes(ctx: ServerContext): { routes: Routes; close: () => void } {
  const { engine, running } = ctx;
  // How late the event loop runs (anything synchronous delays every request): max and p99 per scrape.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  /** GET /metrics: Prometheus text exposition format 0.0.4. */
  const metrics = async (_req: Req, res: Res) => {
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
      cumulative += ctx.pullLatency.counts[i]!;
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
            `esql_pull_query_latency_seconds_bucket{le="+Inf"} ${ctx.pullLatency.count}`,
            `esql_pull_query_latency_seconds_sum ${ctx.pullLatency.sum}`,
            `esql_pull_query_latency_seconds_count ${ctx.pullLatency.count}`,
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

  return { routes: { "GET /metrics": metrics }, close: () => loopDelay.disable() };
}
