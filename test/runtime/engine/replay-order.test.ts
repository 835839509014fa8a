/**
 * Replay is exact: the same events give the same tables for 1, 2, 4 and 8 partitions, caught up from
 * history or folded as they arrive, and nothing is dropped as late on catch-up through a repartition.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedLog, Engine } from "../../../src/index.ts";
import { encodeRecord, sourceForTopic } from "../../../runtime/testing/records.ts";
import {
  closers,
  expected,
  scenario,
  statements,
  tableLines,
  TABLES,
  toInput,
  type ScenarioEvent,
} from "../../fixtures/replay-scenario.ts";

const dir = mkdtempSync(join(tmpdir(), "esql-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function append(engine: Engine, topic: string, events: readonly ScenarioEvent[]): Promise<void> {
  const source = sourceForTopic(engine.catalog, topic)!;
  await engine.log.append(
    topic,
    events.map((e) => encodeRecord(source, toInput(e))),
  );
}

/** Folds the scenario over `partitions` partitions; `chunk` > 0 drains after every `chunk` events (live). */
async function fold(seed: number, partitions: number, chunk = 0) {
  const s = scenario(seed, 2000, 20, 12);
  const close = closers(s);
  const folder = mkdtempSync(join(dir, `p${partitions}-`));
  const log = await EmbeddedLog.open(join(folder, "log"));
  const engine = await Engine.open({ dataDir: folder, log, persistent: false });
  try {
    const r = await engine.execute(statements(partitions));
    expect(r.diagnostics).toEqual([]);
    const all = [...s.events, ...close.events];
    if (!chunk) {
      await append(engine, "payments", s.payments);
      await append(engine, "events", all);
    } else {
      // As they happen: both streams arrive together, a few at a time, each few folded before the next.
      let paid = 0;
      const payments = [...s.payments].sort((a, b) => a.ts - b.ts);
      for (let i = 0; i < all.length; i += chunk) {
        const last = i + chunk >= all.length;
        const until = Math.max(...all.slice(i, i + chunk).map((e) => e.ts));
        let taken = paid;
        while (taken < payments.length && (last || payments[taken]!.ts <= until)) taken++;
        await append(engine, "payments", payments.slice(paid, taken));
        paid = taken;
        await append(engine, "events", all.slice(i, i + chunk));
        await engine.drain();
      }
    }
    await engine.drain();
    const tables: Record<string, string[]> = {};
    for (const t of TABLES) tables[t] = await tableLines(engine, t, close.after);
    let late = 0;
    for (const q of engine.queries.values()) for (const t of q.tasks) late += t.metrics.lateDropped;
    return { tables, late, want: expected(s, all, close.after) };
  } finally {
    await engine.close();
    await log.close();
  }
}

describe("replay is exact", { timeout: 180_000 }, () => {
  for (const seed of [1, 7]) {
    it(`seed ${seed}: every partition count, caught up or live, gives the tables a direct fold gives`, async () => {
      const one = await fold(seed, 1);
      expect(one.late).toBe(0);
      expect(one.tables.HOURLY_BY_CATEGORY).toEqual(one.want.HOURLY_BY_CATEGORY);
      expect(one.tables.TOTALS_BY_CATEGORY).toEqual(one.want.TOTALS_BY_CATEGORY);
      expect(one.tables.PAID_BY_CART).toEqual(one.want.PAID_BY_CART);
      for (const t of TABLES) expect(one.tables[t]!.length, t).toBeGreaterThan(0);
      for (const [partitions, chunk] of [
        [2, 0],
        [4, 0],
        [8, 0],
        [4, 150],
      ] as const) {
        const other = await fold(seed, partitions, chunk);
        expect(other.late, `${partitions} partitions: late records`).toBe(0);
        for (const t of TABLES) expect(other.tables[t], `${t} over ${partitions} partitions`).toEqual(one.tables[t]);
      }
    });
  }
});
