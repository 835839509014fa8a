/**
 * Draining is one at a time: the server's background drain, a deploy and a caller may all call
 * `engine.drain()`; calls that overlap must not fold the same records twice.
 */
import { describe, expect, it } from "vitest";
import { PROCESSING_ERROR_SAMPLES } from "../../../runtime/engine/engine.ts";
import { openEngine } from "../../fixtures/engine.ts";

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe("concurrent drains", () => {
  it("fold every record exactly once when drain() calls overlap", async () => {
    const e = await openEngine();
    const script = `
      CREATE STREAM ev (id STRING KEY, amount INT) WITH (kafka_topic = 'ev', value_format = 'JSON', partitions = 4);
      CREATE TABLE totals AS SELECT id, COUNT(*) AS n, SUM(amount) AS total FROM ev GROUP BY id EMIT CHANGES;`;
    expect((await e.execute(script)).diagnostics).toEqual([]);
    const keys = 37;
    const perKey = 60;
    for (let round = 0; round < perKey; round++) {
      await e.log.append(
        "ev",
        Array.from({ length: keys }, (_, k) => ({
          key: Buffer.from(`k${k}`),
          value: json({ AMOUNT: 1 }),
          timestamp: round * 1000 + k,
        })),
      );
    }
    await Promise.all([e.drain(), e.drain(), e.drain()]);
    const rows = (await e.pull("SELECT id, n, total FROM totals;")).rows;
    expect(rows).toHaveLength(keys);
    for (const r of rows) expect([r[1], r[2]]).toEqual([perKey, perKey]);
  });
});

describe("processing errors in memory", () => {
  it("keeps a bounded sample of the latest errors and counts every record", async () => {
    const e = await openEngine();
    const script = `
      CREATE STREAM raw (id STRING KEY, amount INT) WITH (kafka_topic = 'raw', value_format = 'JSON', partitions = 1);
      CREATE STREAM copied AS SELECT id, amount FROM raw EMIT CHANGES;`;
    expect((await e.execute(script)).diagnostics).toEqual([]);
    const bad = PROCESSING_ERROR_SAMPLES * 2 + 50;
    await e.log.append(
      "raw",
      Array.from({ length: bad }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`{not json ${i}`) })),
    );
    await e.drain();
    expect(e.processingErrorCount).toBe(bad);
    expect(e.processingErrors.length).toBeLessThanOrEqual(PROCESSING_ERROR_SAMPLES);
    expect(e.processingErrors.reduce((n, x) => n + (x.more ?? 1), 0)).toBe(bad);
  });
});
