/**
 * Window retention over a long replay: 1M JSON events spread over 30 days of event time, 1,000 keys, folded by
 * an hourly tumbling COUNT/SUM with `RETENTION 1 DAY`. Without retention the store would keep every window the
 * replay creates (keys × hours); with it, about one day of windows. Prints the store's entries and its size on
 * disk after the replay, next to the number of windows created.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Engine } from "../../runtime/engine/engine.ts";
import type { ProduceRecord } from "../../runtime/log/types.ts";

export interface RetentionBenchResult {
  readonly events: number;
  readonly keys: number;
  readonly days: number;
  readonly windowsCreated: number;
  readonly storeEntries: number;
  readonly timeIndexEntries: number;
  readonly stateBytes: number;
  readonly eventsPerSecond: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function bytesUnder(path: string): number {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    n += e.isDirectory() ? bytesUnder(p) : statSync(p).size;
  }
  return n;
}

export async function benchRetention(events = 1_000_000, keys = 1_000, days = 30): Promise<RetentionBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "esql-bench-retention-"));
  const engine = await Engine.open({ dataDir: dir, persistent: false, processingLogStream: false });
  try {
    await engine.execute(`
      CREATE STREAM events (k STRING KEY, amount DOUBLE)
        WITH (kafka_topic = 'events', value_format = 'JSON', partitions = 1);`);
    const start = Date.UTC(2024, 0, 1);
    const step = (days * DAY) / events;
    const hours = new Set<string>();
    const batch: ProduceRecord[] = [];
    for (let i = 0; i < events; i++) {
      const ts = start + Math.floor(i * step);
      const k = `k${i % keys}`;
      hours.add(`${k}/${Math.floor(ts / HOUR)}`);
      batch.push({ key: Buffer.from(k), value: Buffer.from(`{"AMOUNT":${(i % 997) / 10}}`), timestamp: ts });
      if (batch.length === 10_000) {
        await engine.log.append("events", batch);
        batch.length = 0;
      }
    }
    if (batch.length > 0) await engine.log.append("events", batch);

    const t0 = performance.now();
    await engine.execute(`
      CREATE TABLE hourly AS SELECT k, COUNT(*) AS n, SUM(amount) AS total
        FROM events WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 1 DAY, GRACE PERIOD 0 SECONDS)
        GROUP BY k EMIT CHANGES;`);
    const processed = await engine.drain();
    const ms = performance.now() - t0;
    if (processed < events) throw new Error(`processed ${processed} of ${events}`);
    let storeEntries = 0;
    let timeIndexEntries = 0;
    let stateBytes = 0;
    for (const q of engine.queries.values())
      for (const t of q.tasks) {
        for await (const _ of t.stateStore.iterate("agg")) storeEntries++;
        for await (const _ of t.stateStore.iterate("aggtime")) timeIndexEntries++;
      }
    await engine.close();
    // The state stores (`state/`), not the topics (`log/`).
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory() && e.name !== "log") stateBytes += bytesUnder(join(dir, e.name));
    return {
      events,
      keys,
      days,
      windowsCreated: hours.size,
      storeEntries,
      timeIndexEntries,
      stateBytes,
      eventsPerSecond: (events / ms) * 1000,
    };
  } finally {
    await engine.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
