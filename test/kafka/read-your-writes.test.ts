/**
 * Read your writes on Kafka, across two instances of one service: an event written through instance A (its
 * position token in the answer), read back at once through instance B with the token. The table is re-keyed
 * (a repartition topic), so the write's partition and the row's partition belong to different instances as
 * often as not: the wait must hold each stage on both instances before the read. No stale read with the
 * token; stale reads without it.
 */
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { POSITION_HEADER } from "../../runtime/engine/consistency.ts";
import { startServer } from "../../runtime/http/server.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { eventually } from "../fixtures/eventually.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

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

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(new URL(path, url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe("read your writes on Kafka across instances", () => {
  const { brokers, tag: newTag } = useKafka("esql-ryw");
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it("writes through one instance and reads back through the other", async () => {
    const tag = newTag("ryw");
    const serviceId = `ryw-${tag}`;
    const instances: { engine: Engine; url: string }[] = [];
    for (const name of ["a", "b"]) {
      const log = new KafkaEventLog({ brokers, clientId: `esql-ryw-${name}` });
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const engine = await Engine.open({
        dataDir: tempDir(`esql-ryw-${name}-`),
        log,
        cluster: { serviceId, instanceId: name, advertisedUrl: url, sessionTimeoutMs: 6000 },
      });
      const server = await startServer({ engine, port, host: "127.0.0.1", drainIntervalMs: 50 });
      cleanup.push(async () => {
        await server.close();
        await engine.close();
        await log.close();
      });
      instances.push({ engine, url: server.url });
    }
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const created = await post(a.url, "/ksql", {
      ksql: `CREATE STREAM orders (id VARCHAR KEY, customer VARCHAR, amount INT) WITH (kafka_topic='orders_${tag}', partitions=4, value_format='JSON');
             CREATE TABLE per_customer WITH (kafka_topic='per_customer_${tag}') AS
               SELECT customer, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY customer;`,
    });
    expect(created.status, created.text).toBe(200);
    await eventually(
      async () =>
        instances.every((i) => i.engine.queries.size === 1 && new Set(i.engine.member!.map?.owners).size === 2),
      60_000,
      async () => JSON.stringify(instances.map((i) => [i.engine.queries.size, i.engine.member!.map])),
    );

    const customers = ["c0", "c1", "c2", "c3", "c4", "c5"];
    const want = new Map<string, number>();
    const round = async (i: number, withToken: boolean) => {
      const customer = customers[i % customers.length]!;
      const w = await post(a.url, "/ksql", {
        ksql: `INSERT INTO orders (id, customer, amount) VALUES ('o${i}', '${customer}', 1);`,
      });
      expect(w.status, w.text).toBe(200);
      want.set(customer, (want.get(customer) ?? 0) + 1);
      const token = w.headers.get(POSITION_HEADER)!;
      const r = await post(b.url, "/query-stream", {
        sql: `SELECT n FROM per_customer WHERE customer = '${customer}';`,
        properties: withToken ? { "esql.consistency.token": token } : {},
      });
      expect(r.status, r.text).toBe(200);
      const rows = (JSON.parse(r.text) as unknown[]).slice(1) as number[][];
      return (rows[0]?.[0] ?? 0) === want.get(customer);
    };
    let stale = 0;
    for (let i = 0; i < 100; i++) if (!(await round(i, true))) stale++;
    expect(stale).toBe(0);
    let staleWithout = 0;
    for (let i = 100; i < 160; i++) if (!(await round(i, false))) staleWithout++;
    expect(staleWithout).toBeGreaterThan(0);
  }, 240_000);
});
