import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../fixtures/eventually.ts";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;

const post = async (path: string, body: unknown, raw?: string) => {
  const res = await fetch(server.url + path, {
    method: "POST",
    body: raw ?? JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  return { status: res.status, text: await res.text() };
};

beforeAll(async () => {
  dir = tempDir("esql-http-");
  engine = await openEngine({ dataDir: dir });
  server = await startServer({ engine, maxBodyBytes: 64 * 1024, drainIntervalMs: 20 });
});
afterAll(async () => {
  await server.close();
});

describe("query server", () => {
  it("runs statements, pull and push queries", async () => {
    const r = await post("/ksql", {
      ksql: `CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
             CREATE TABLE t AS SELECT k, SUM(v) AS total FROM s GROUP BY k;
             INSERT INTO s (k, v) VALUES ('a', 1); INSERT INTO s (k, v) VALUES ('a', 2);`,
    });
    expect(r.status).toBe(200);
    const entities = JSON.parse(r.text);
    expect(entities).toHaveLength(4);
    expect(entities[0]["@type"]).toBe("currentStatus");
    // the background loop folds the inserts
    let rows: unknown[] = [];
    await eventually(
      async () => {
        const q = await post("/query", { ksql: "SELECT * FROM t WHERE k = 'a';" });
        expect(q.status).toBe(200);
        rows = JSON.parse(q.text) as unknown[];
        return (rows[1] as { row: { columns: unknown[] } } | undefined)?.row.columns[1] === 3;
      },
      10_000,
      async () => `rows ${JSON.stringify(rows)}`,
      50,
    );
    expect(rows).toEqual([
      { header: expect.objectContaining({ schema: "`K` STRING KEY, `TOTAL` INTEGER" }) },
      { row: { columns: ["a", 3] } },
    ]);

    const push = await post("/query", {
      ksql: "SELECT k, v FROM s EMIT CHANGES LIMIT 2;",
      streamsProperties: { "auto.offset.reset": "earliest" },
    });
    const lines = JSON.parse(push.text);
    expect(lines.slice(1)).toEqual([
      { row: { columns: ["a", 1] } },
      { row: { columns: ["a", 2] } },
      { finalMessage: "Limit Reached" },
    ]);

    const stream = await post("/query-stream", {
      sql: "SELECT v FROM s EMIT CHANGES LIMIT 1;",
      properties: { "auto.offset.reset": "earliest" },
    });
    const parts = stream.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(parts[0].columnNames).toEqual(["V"]);
    expect(parts[1]).toEqual([1]);
  });

  it("closes a push query on /close-query and when the client goes away", async () => {
    const res = await fetch(server.url + "/query-stream", {
      method: "POST",
      body: JSON.stringify({ sql: "SELECT * FROM s EMIT CHANGES;" }),
      headers: { "content-type": "application/json" },
    });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = JSON.parse(first.split("\n")[0]!).queryId;
    const c = await post("/close-query", { queryId: id });
    expect(c.status).toBe(200);
    for (;;) if ((await reader.read()).done) break;
    const again = await post("/close-query", { queryId: id });
    expect(again.status).toBe(400);
    // a client that disconnects
    const req = request(server.url + "/query", { method: "POST" });
    req.on("error", () => {});
    req.end(JSON.stringify({ ksql: "SELECT * FROM s EMIT CHANGES;" }));
    const metrics = async () => (await fetch(server.url + "/metrics")).text();
    // The push query runs; then the client goes away, and the server closes the query.
    await eventually(async () => /esql_push_queries_running 1\b/.test(await metrics()), 10_000, metrics, 20);
    req.destroy();
    await eventually(async () => /esql_push_queries_running 0\b/.test(await metrics()), 10_000, metrics, 20);
    expect(await metrics()).toMatch(/esql_push_queries_running 0/);
  });

  it("answers hostile requests with error bodies", async () => {
    const bad = await post("/ksql", undefined, "{not json");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ "@type": "generic_error", error_code: 40000 });
    expect((await post("/ksql", [1, 2])).status).toBe(400);
    expect((await post("/ksql", { ksql: 42 })).status).toBe(400);
    const sqlErr = await post("/ksql", {
      ksql: "CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='JSON', partitions=1);\nSELEKT 1;",
    });
    expect(sqlErr.status).toBe(400);
    const body = JSON.parse(sqlErr.text);
    expect(body["@type"]).toBe("statement_error");
    expect(body.position.line).toBe(2);
    expect(body.message).not.toMatch(/at .*\.ts/);
    const unknown = await post("/nope", {});
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text).error_code).toBe(40400);
    expect((await fetch(server.url + "/ksql")).status).toBe(405);
    const big = await post("/ksql", { ksql: "x".repeat(100_000) });
    expect(big.status).toBe(413);
    const pullErr = await post("/query", { ksql: "SELECT nope FROM s;" });
    expect(pullErr.status).toBe(400);
    expect(JSON.parse(pullErr.text).message).toMatch(/Line: 1, Col: \d+/);
    // garbage on the socket
    await new Promise<void>((resolve) => {
      const sock = connect(server.port, "127.0.0.1", () => sock.end("GARBAGE\r\n\r\n"));
      sock.on("data", () => {});
      sock.on("close", () => resolve());
      sock.on("error", () => resolve());
    });
    const health = await fetch(server.url + "/healthcheck");
    expect(await health.json()).toMatchObject({ isHealthy: true });
    const info = await fetch(server.url + "/info");
    expect(((await info.json()) as { KsqlServerInfo: { serverStatus: string } }).KsqlServerInfo.serverStatus).toBe(
      "RUNNING",
    );
    const metrics = await (await fetch(server.url + "/metrics")).text();
    expect(metrics).toMatch(/esql_records_processed_total\{query_id="CTAS_T_\d+"\} \d+/);
  });
});
