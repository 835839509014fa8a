/** The server's guards: authentication (API keys, basic), read-only mode, and the limit on push queries. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";
import { eventually } from "../fixtures/eventually.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const post = async (path: string, body: unknown, authorization?: string) => {
  const res = await fetch(server.url + path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
  });
  return {
    status: res.status,
    json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined,
    res,
  };
};

beforeAll(async () => {
  dir = tempDir("esql-http-sec-");
  engine = await openEngine({ dataDir: dir });
  await engine.execute(`CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
    CREATE TABLE t AS SELECT k, SUM(v) AS total FROM s GROUP BY k;
    INSERT INTO s (k, v) VALUES ('a', 1);`);
  await engine.drain();
  server = await startServer({
    engine,
    drainIntervalMs: 20,
    readOnly: true,
    maxPushQueries: 1,
    auth: { apiKeys: ["k-123"], basic: [{ user: "ana", password: "s3cret" }] },
  });
});
afterAll(async () => {
  await server.close();
});

describe("server guards", () => {
  it("refuses requests without valid credentials (401 with an error body), but not the health check", async () => {
    for (const auth of [
      undefined,
      "Bearer wrong",
      basic("ana", "nope"),
      basic("bob", "s3cret"),
      "Basic !!!",
      "Token k-123",
    ]) {
      const r = await post("/ksql", { ksql: "SHOW STREAMS;" }, auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.json?.["@type"]).toBe("generic_error");
      expect(r.json?.error_code).toBe(40100);
      expect(r.res.headers.get("www-authenticate")).toMatch(/Basic/);
    }
    const health = await fetch(server.url + "/healthcheck");
    expect(health.status).toBe(200);
    expect((await fetch(server.url + "/info")).status).toBe(401);
  });

  it("accepts an API key or basic credentials", async () => {
    expect((await post("/ksql", { ksql: "SHOW STREAMS;" }, "Bearer k-123")).status).toBe(200);
    expect((await post("/ksql", { ksql: "SHOW STREAMS;" }, basic("ana", "s3cret"))).status).toBe(200);
  });

  it("in read-only mode refuses statements that change anything (403) and still answers queries", async () => {
    for (const ksql of [
      "CREATE STREAM x (a INT) WITH (kafka_topic = 'x', value_format = 'JSON', partitions = 1);",
      "INSERT INTO s (k, v) VALUES ('b', 2);",
      "DROP TABLE t;",
      "SHOW STREAMS; TERMINATE ALL;",
      "SET 'auto.offset.reset' = 'latest';",
    ]) {
      const r = await post("/ksql", { ksql }, "Bearer k-123");
      expect(r.status, ksql).toBe(403);
      expect(r.json?.error_code).toBe(40300);
      expect(String(r.json?.message)).toMatch(/read-only/);
    }
    const pull = await post("/query", { ksql: "SELECT * FROM t WHERE k = 'a';" }, "Bearer k-123");
    expect(pull.status).toBe(200);
    expect(pull.json).toContainEqual({ row: { columns: ["a", 1] } });
  });

  it("limits the push queries streaming at once (429), and frees the slot when the client goes away", async () => {
    const first = new AbortController();
    const streaming = await fetch(server.url + "/query-stream", {
      method: "POST",
      body: JSON.stringify({ sql: "SELECT * FROM s EMIT CHANGES;" }),
      headers: { authorization: "Bearer k-123", "content-type": "application/json" },
      signal: first.signal,
    });
    expect(streaming.status).toBe(200);
    const second = await post("/query-stream", { sql: "SELECT * FROM s EMIT CHANGES;" }, "Bearer k-123");
    expect(second.status).toBe(429);
    expect(second.json?.error_code).toBe(42900);
    first.abort();
    // The aborted stream's slot frees once the server sees the close: then the key may query again.
    let again = 429;
    await eventually(
      async () => {
        const r = await fetch(server.url + "/query", {
          method: "POST",
          body: JSON.stringify({ ksql: "SELECT * FROM t WHERE k = 'a';" }),
          headers: { authorization: "Bearer k-123", "content-type": "application/json" },
        });
        again = r.status;
        await r.text();
        return again !== 429;
      },
      10_000,
      async () => `the key's slot to free (last status ${again})`,
      50,
    );
    expect(again).toBe(200);
  });
});
