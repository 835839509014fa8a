/**
 * `POST /inserts-stream` over HTTP/2 (rows and acks interleaved, as ksqlDB's Java client streams them) and over
 * HTTP/1.1 chunked; `/ksql/terminate`, `/clusterStatus`, `/is_valid_property/{name}`.
 */
import { request } from "node:http";
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { PROPERTY_NAMES } from "../../src/plan/properties.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { openEngine } from "../fixtures/engine.ts";

/** Each ack carries the position token of the append that wrote its row (read your writes). */
const POSITION = expect.stringMatching(/^esql1\./);

let engine: Engine;
let server: RunningServer;
let session: ClientHttp2Session;

const ksql = async (text: string) => {
  const res = await fetch(server.url + "/ksql", { method: "POST", body: JSON.stringify({ ksql: text }) });
  return { status: res.status, body: (await res.json()) as any };
};

const pull = async (sql: string) => {
  const res = await fetch(server.url + "/query-stream", { method: "POST", body: JSON.stringify({ sql }) });
  return (await res.text())
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => JSON.parse(l) as unknown[]);
};

/** The response's JSON lines as they arrive: `next()` waits for the next one. */
function lineReader(stream: ClientHttp2Stream) {
  const lines: unknown[] = [];
  const waiting: ((v: unknown) => void)[] = [];
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() === "") continue;
      const v = JSON.parse(line) as unknown;
      const w = waiting.shift();
      if (w) w(v);
      else lines.push(v);
    }
  });
  return {
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise<unknown>((r) => waiting.push(r))),
  };
}

beforeAll(async () => {
  engine = await openEngine({ persistent: true });
  server = await startServer({ engine, drainIntervalMs: 20 });
  session = connect(server.url);
  const r = await ksql(`
    CREATE STREAM orders (id BIGINT KEY, product STRING, amount DOUBLE) WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
    CREATE TABLE per_product AS SELECT product, COUNT(*) AS n FROM orders GROUP BY product;`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
});
afterAll(async () => {
  session.close();
  await server.close();
  await engine.close();
});

describe("POST /inserts-stream", { timeout: 60_000 }, () => {
  it("acknowledges each row as it is written, over HTTP/2, and refuses rows that do not fit", async () => {
    const stream = session.request({ ":method": "POST", ":path": "/inserts-stream" });
    const acks = lineReader(stream);
    let status = 0;
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.write(`${JSON.stringify({ target: "orders" })}\n`);
    stream.write(`${JSON.stringify({ ID: 1, PRODUCT: "pen", AMOUNT: 2.5 })}\n`);
    // The ack comes while the request is still open.
    expect(await acks.next()).toEqual({ status: "ok", seq: 0, position: POSITION });
    expect(status).toBe(200);
    stream.write(`${JSON.stringify({ id: 2, product: "pen", amount: 4 })}\n`);
    expect(await acks.next()).toEqual({ status: "ok", seq: 1, position: POSITION });
    stream.write(`${JSON.stringify({ id: "three", product: "ink" })}\n`);
    stream.write(`${JSON.stringify({ id: 4, colour: "red" })}\n{not json\n`);
    stream.end(`${JSON.stringify({ id: 5, product: "ink", ROWTIME: 1_700_000_000_000 })}\n`);
    const bad = (await acks.next()) as Record<string, unknown>;
    expect(bad).toMatchObject({ status: "error", seq: 2, error_code: 40000 });
    expect(String(bad.message)).toContain("ID");
    expect(await acks.next()).toMatchObject({ status: "error", seq: 3, message: "ORDERS has no column colour" });
    expect(await acks.next()).toMatchObject({ status: "error", seq: 4 });
    expect(await acks.next()).toEqual({ status: "ok", seq: 5, position: POSITION });

    // The rows are in the stream's topic, in its formats, and the query folded them.
    let rows: unknown[][] = [];
    for (let i = 0; i < 200 && rows.length < 2; i++) {
      rows = await pull("SELECT * FROM per_product;");
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(rows).toEqual(
      expect.arrayContaining([
        ["pen", 2],
        ["ink", 1],
      ]),
    );
    const records = await engine.log.read("orders", 0, 0, 10);
    expect(records.map((r) => r.timestamp)).toContain(1_700_000_000_000);
  });

  it("streams over HTTP/1.1 chunked, and answers 400 for an unknown target", async () => {
    const post = (lines: string[]) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${server.url}/inserts-stream`, {
          method: "POST",
          headers: { "transfer-encoding": "chunked" },
        });
        req.on("response", (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on("error", reject);
        for (const l of lines) req.write(`${l}\n`);
        req.end();
      });
    const ok = await post([JSON.stringify({ target: "ORDERS" }), JSON.stringify({ ID: 9, PRODUCT: "cup" })]);
    expect(ok.status).toBe(200);
    expect(
      ok.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([{ status: "ok", seq: 0, position: POSITION }]);
    const unknown = await post([JSON.stringify({ target: "nope" })]);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text)).toMatchObject({ error_code: 40000, message: expect.stringContaining("nope") });
  });
});

describe("administration endpoints", { timeout: 60_000 }, () => {
  it("tells whether a property may be set: every property esql reads, Kafka Streams' with ksqlDB's prefix", async () => {
    // GET, as ksqlDB serves it (POST too, as esql first did).
    for (const method of ["GET", "POST"]) {
      const ok = await fetch(`${server.url}/is_valid_property/ksql.streams.auto.offset.reset`, { method });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toBe(true);
    }
    for (const name of PROPERTY_NAMES) {
      const ok = await fetch(`${server.url}/is_valid_property/${name}`);
      expect(ok.status, name).toBe(200);
    }
    for (const name of ["no.such.thing", "ksql.streams.ksql.output.topic.name.prefix", "ksql.service.id"]) {
      const bad = await fetch(`${server.url}/is_valid_property/${name}`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error_code: 40000, message: expect.stringContaining(name) });
    }
  });

  it("reports this instance and the partitions its queries hold", async () => {
    const res = await fetch(`${server.url}/clusterStatus`);
    const body = (await res.json()) as { clusterStatus: Record<string, any> };
    const hosts = Object.values(body.clusterStatus);
    expect(hosts).toHaveLength(1);
    expect(hosts[0].hostAlive).toBe(true);
    const q = hosts[0].activeStandbyPerQuery.CTAS_PER_PRODUCT_0;
    expect(q.activePartitions).toContainEqual({ topic: "orders", partition: 0 });
  });

  it("terminates the cluster: queries stopped, sources dropped, listed topics deleted", async () => {
    const res = await fetch(`${server.url}/ksql/terminate`, {
      method: "POST",
      headers: { "content-type": "application/vnd.ksql.v1+json" },
      body: JSON.stringify({ deleteTopicList: ["ord.*"] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ "@type": "currentStatus", commandStatus: { status: "SUCCESS" } });
    expect(engine.queries.size).toBe(0);
    expect([...engine.catalog.sources.values()].filter((s) => !s.name.startsWith("KSQL_"))).toEqual([]);
    const topics = await engine.log.listTopics();
    expect(topics).not.toContain("orders");
    expect(topics).toContain("PER_PRODUCT");
  });
});
