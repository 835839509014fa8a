/**
 * CREATE OR REPLACE over the REST API: an incompatible redefinition is a 400 `statement_error` whose message
 * names the change and points to `esql apply` (as ksqlDB answers a refused upgrade); a compatible one runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;

const ksql = async (statements: string) => {
  const res = await fetch(server.url + "/ksql", {
    method: "POST",
    body: JSON.stringify({ ksql: statements }),
    headers: { "content-type": "application/json" },
  });
  return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> };
};

beforeAll(async () => {
  dir = tempDir("esql-http-replace-");
  engine = await openEngine({ dataDir: dir });
  server = await startServer({ engine, drainIntervalMs: 20 });
});
afterAll(async () => {
  await server.close();
});

describe("CREATE OR REPLACE over REST", () => {
  it("refuses an aggregation change with a 400 statement_error naming it; accepts a HAVING change", async () => {
    const created = await ksql(
      `CREATE STREAM orders (id STRING KEY, product STRING, price DOUBLE)
         WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
       CREATE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product;`,
    );
    expect(created.status).toBe(200);
    const refused = await ksql(
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MIN(price) AS top FROM orders GROUP BY product;",
    );
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ "@type": "statement_error", error_code: 40001, code: "ESQL-S039" });
    expect(refused.body.message).toBe(
      "Line: 1, Col: 25: CREATE OR REPLACE cannot change the aggregation of table REVENUE: MAX(PRICE) became MIN(PRICE); " +
        "the stored state would be misread. Use `esql apply`, which rebuilds it as a new version.",
    );
    const accepted = await ksql(
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product HAVING MAX(price) > 1;",
    );
    expect(accepted.status).toBe(200);
  });
});
