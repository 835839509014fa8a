/**
 * Queries against a deployment of three instances on a real broker, each serving ksqlDB's REST API: a
 * statement sent to one instance runs on all (command topic); a pull query for any key, sent to any
 * instance, is answered from whichever instance owns the key's partition; a scan gathers every
 * partition; a push query sees every change of a table exactly once.
 */
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { eventually } from "../fixtures/eventually.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";
import { encodeRecord, sourceForTopic } from "../../runtime/testing/records.ts";

const KEYS = 120;
const N = 3000;
const events = Array.from({ length: N }, (_, i) => ({
  key: `k${(i * 37) % KEYS}`,
  value: { AMOUNT: (i % 9) + 1, REGION: `r${i % 4}` },
  timestamp: 1_700_000_000_000 + i * 10,
}));

function totals() {
  const m = new Map<string, [number, number]>();
  for (const e of events) {
    const t = m.get(e.key) ?? [0, 0];
    t[0]++;
    t[1] += e.value.AMOUNT;
    m.set(e.key, t);
  }
  return m;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL(path, url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}

/** A pull query through `/query-stream` (JSON): the rows, without the header. */
async function pull(url: string, sql: string): Promise<unknown[][]> {
  const r = await post(url, "/query-stream", { sql, properties: {} });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return (r.json as unknown[]).slice(1) as unknown[][];
}

describe("queries across three instances on Kafka", () => {
  // Registered before the cleanup below, so it runs after it: the topics go once the instances are closed.
  const { brokers, tag: newTag } = useKafka("esql-pq");
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it("answer pull queries for every key from any instance and push every change exactly once", async () => {
    const tag = newTag("pq");
    const topic = `pq_${tag}`;
    const serviceId = `pq-${tag}`;
    const instances: { engine: Engine; server: RunningServer; url: string }[] = [];
    for (const name of ["a", "b", "c"]) {
      const log = new KafkaEventLog({ brokers, clientId: `esql-${name}` });
      const dataDir = tempDir(`esql-pq-${name}-`);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const engine = await Engine.open({
        dataDir,
        log,
        properties: { "ksql.streams.cache.max.bytes.buffering": "0" },
        cluster: { serviceId, instanceId: name, advertisedUrl: url, sessionTimeoutMs: 6000 },
      });
      const server = await startServer({ engine, port, host: "127.0.0.1", drainIntervalMs: 50 });
      cleanup.push(async () => {
        await server.close();
        await engine.close();
        await log.close();
      });
      instances.push({ engine, server, url: server.url });
    }
    const [a, b, c] = instances as [(typeof instances)[0], (typeof instances)[0], (typeof instances)[0]];

    // Statements go to A; B and C pick them up from the command topic.
    const created = await post(a.url, "/ksql", {
      ksql: `CREATE STREAM payments (account VARCHAR KEY, amount INT, region VARCHAR) WITH (kafka_topic='${topic}', partitions=8, value_format='JSON');
             CREATE TABLE per_account WITH (kafka_topic='per_account_${tag}') AS SELECT account, COUNT(*) AS c, SUM(amount) AS s FROM payments GROUP BY account;
             CREATE TABLE per_region WITH (kafka_topic='per_region_${tag}') AS SELECT region, COUNT(*) AS c FROM payments GROUP BY region;`,
      streamsProperties: {},
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    await eventually(
      async () =>
        instances.every((i) => i.engine.queries.size === 2 && new Set(i.engine.member!.map?.owners ?? []).size === 3),
      60_000,
      async () => JSON.stringify(instances.map((i) => [i.engine.queries.size, i.engine.member!.map])),
    );

    // A push query on C over every change of PER_REGION, started before the events exist.
    const changes: unknown[][] = [];
    const push = fetch(new URL("/query-stream", c.url), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/vnd.ksqlapi.delimited.v1" },
      body: JSON.stringify({
        sql: `SELECT region, c FROM per_region EMIT CHANGES LIMIT ${N};`,
        properties: { "auto.offset.reset": "earliest" },
      }),
    }).then(async (res) => {
      const text = await res.text();
      for (const line of text.split("\n").slice(1)) if (line.trim()) changes.push(JSON.parse(line) as unknown[]);
    });

    const source = sourceForTopic(a.engine.catalog, topic)!;
    await a.engine.log.append(
      topic,
      events.map((e) => encodeRecord(source, e)),
    );

    const want = totals();
    const expectedScan = [...want].map(([k, [n, s]]) => `${k}|${n}|${s}`).sort();
    const scan = async (url: string) => (await pull(url, "SELECT * FROM per_account;")).map((r) => r.join("|")).sort();
    await eventually(
      async () => JSON.stringify(await scan(b.url)) === JSON.stringify(expectedScan),
      90_000,
      async () => `${(await scan(b.url)).length} of ${expectedScan.length} rows`,
    );
    // Each instance holds only its share, yet a scan from any of them gathers the whole table.
    for (const i of instances) {
      expect((await i.engine.table("PER_ACCOUNT")).rows.length).toBeLessThan(KEYS);
      expect(await scan(i.url)).toEqual(expectedScan);
    }
    // Every key, from every instance.
    for (const i of instances) {
      for (const [k, [n, s]] of want) {
        expect(await pull(i.url, `SELECT account, c, s FROM per_account WHERE account = '${k}';`)).toEqual([[k, n, s]]);
      }
    }
    // LIMIT applies to the gathered rows.
    expect(await pull(c.url, "SELECT * FROM per_account LIMIT 5;")).toHaveLength(5);

    // The push query saw each count of each region exactly once: 1, 2, ... up to the region's total.
    await push;
    expect(changes).toHaveLength(N);
    const byRegion = new Map<string, number[]>();
    for (const [region, count] of changes as [string, number][])
      byRegion.set(region, [...(byRegion.get(region) ?? []), count]);
    for (const [region, counts] of byRegion) {
      const total = events.filter((e) => e.value.REGION === region).length;
      const seen = [...counts].sort((x, y) => x - y);
      const summary = `${region}: ${counts.length} changes, first ${counts.slice(0, 8).join(",")}, distinct ${new Set(counts).size}, max ${seen.at(-1)}`;
      expect(seen, summary).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
  }, 240_000);
});
