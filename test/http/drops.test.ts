/** Dropped records over the REST API: `/metrics` per query, operator and reason; DESCRIBE EXTENDED's statistics. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";
import { eventually } from "../fixtures/eventually.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;

const ksql = async (text: string) => {
  const res = await fetch(server.url + "/ksql", {
    method: "POST",
    body: JSON.stringify({ ksql: text }),
    headers: { "content-type": "application/json" },
  });
  return {
    status: res.status,
    body: (await res.json()) as { sourceDescription?: { writeQueries: { id: string }[]; statistics: string } }[],
  };
};

beforeAll(async () => {
  dir = tempDir("esql-http-drops-");
  engine = await openEngine({ persistent: true, dataDir: dir });
  server = await startServer({ engine, drainIntervalMs: 20 });
});
afterAll(async () => {
  await server.close();
  await engine.close();
});

describe("dropped records over HTTP", () => {
  it("are in /metrics per query, operator and reason, and in DESCRIBE EXTENDED", async () => {
    const r = await ksql(`
      CREATE STREAM clicks (page STRING KEY, n INT) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);
      CREATE TABLE per_minute AS SELECT page, COUNT(*) AS c FROM clicks
        WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY page EMIT CHANGES;`);
    expect(r.status).toBe(200);
    await engine.log.append("clicks", [
      { key: Buffer.from("/"), value: Buffer.from('{"N": 1}'), timestamp: 600_000 },
      { key: Buffer.from("/"), value: Buffer.from('{"N": 1}'), timestamp: 720_000 },
      { key: Buffer.from("/"), value: Buffer.from('{"N": 1}'), timestamp: 600_001 },
      { key: Buffer.from("/"), value: Buffer.from("{broken") },
    ]);
    const qid = engine.catalog.source("PER_MINUTE")!.writtenBy!;
    // The background loop folds them: wait until DESCRIBE EXTENDED's statistics count all four (committed) records.
    let d: { writeQueries: { id: string }[]; statistics: string } | undefined;
    await eventually(
      async () => {
        d = (await ksql("DESCRIBE EXTENDED per_minute;")).body[0]?.sourceDescription;
        return /Records in\s+: 4\b/.test(d?.statistics ?? "");
      },
      10_000,
      async () => `the statistics to count 4 records: ${d?.statistics}`,
      25,
    );
    expect(d?.writeQueries.map((q) => q.id)).toEqual([qid]);
    expect(d?.statistics).toMatch(/Records dropped\s+: 2 dropped \(1 late, 1 undecodable\)/);
    expect(d?.statistics).toMatch(/aggregate: late\s+: 1/);
    const metrics = await (await fetch(server.url + "/metrics")).text();
    expect(metrics).toContain("# TYPE esql_records_dropped_total counter");
    expect(metrics).toContain(`esql_records_dropped_total{query_id="${qid}",operator="aggregate",reason="late"} 1`);
    expect(metrics).toContain(`esql_records_dropped_total{query_id="${qid}",operator="source",reason="undecodable"} 1`);
  });
});
