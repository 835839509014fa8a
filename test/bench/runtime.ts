/**
 * Runtime throughput on the embedded log: 1M JSON events over 10k keys folded by a windowed COUNT/SUM,
 * against a loop that only runs JSON.parse over the same events in the same process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Engine } from "../../runtime/engine/engine.ts";
import type { ProduceRecord } from "../../runtime/log/types.ts";

export interface RuntimeBenchResult {
  readonly events: number;
  readonly keys: number;
  readonly parseOnlyPerSecond: number;
  readonly projectionPerSecond: number;
  readonly peakRssMb: number;
}

export async function benchRuntime(events = 1_000_000, keys = 10_000): Promise<RuntimeBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "esql-bench-"));
  const engine = await Engine.open({ dataDir: dir, persistent: false });
  try {
    await engine.execute(`
      CREATE STREAM events (k STRING KEY, kind STRING, amount DOUBLE)
        WITH (kafka_topic = 'events', value_format = 'JSON', partitions = 1);`);
    // Write the input once (not timed).
    const values: Buffer[] = [];
    const batch: ProduceRecord[] = [];
    for (let i = 0; i < events; i++) {
      const value = Buffer.from(
        JSON.stringify({ KIND: i % 3 === 0 ? "deposit" : "withdrawal", AMOUNT: (i % 997) / 10 }),
      );
      values.push(value);
      batch.push({ key: Buffer.from(`k${i % keys}`), value, timestamp: 1_700_000_000_000 + i });
      if (batch.length === 10_000) {
        await engine.log.append("events", batch);
        batch.length = 0;
      }
    }
    if (batch.length > 0) await engine.log.append("events", batch);

    // Baseline: JSON.parse of every event's value, nothing else.
    const t0 = performance.now();
    let sink = 0;
    for (const v of values) sink += (JSON.parse(v.toString("utf8")) as { AMOUNT: number }).AMOUNT > 50 ? 1 : 0;
    const parseMs = performance.now() - t0;
    if (sink < 0) console.log(sink);

    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const t1 = performance.now();
    await engine.execute(`
      CREATE TABLE per_minute AS
        SELECT k, COUNT(*) AS n, SUM(amount) AS total
        FROM events WINDOW TUMBLING (SIZE 1 MINUTE)
        GROUP BY k EMIT CHANGES;`);
    const processed = await engine.drain();
    const runMs = performance.now() - t1;
    clearInterval(timer);
    if (processed < events) throw new Error(`processed ${processed} of ${events}`);
    return {
      events,
      keys,
      parseOnlyPerSecond: (events / parseMs) * 1000,
      projectionPerSecond: (events / runMs) * 1000,
      peakRssMb: peak / 2 ** 20,
    };
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
