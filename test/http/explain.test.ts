/** EXPLAIN over the REST API answers ksqlDB's `queryDescription` with the topology plan the query runs. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { openEngine } from "../fixtures/engine.ts";

let engine: Engine;
let server: RunningServer;

interface QueryDescription {
  "@type": string;
  queryDescription: {
    id: string;
    statementText: string;
    fields: { name: string; schema: { type: string } }[];
    sources: string[];
    sinks: string[];
    topology: string;
    state: string;
  };
}

const ksql = async (text: string) => {
  const res = await fetch(server.url + "/ksql", {
    method: "POST",
    body: JSON.stringify({ ksql: text }),
    headers: { "content-type": "application/vnd.ksql.v1+json" },
  });
  return { status: res.status, body: (await res.json()) as QueryDescription[] };
};

beforeAll(async () => {
  engine = await openEngine({ persistent: true });
  server = await startServer({ engine, drainIntervalMs: 20 });
});
afterAll(async () => {
  await server.close();
  await engine.close();
});

describe("EXPLAIN over HTTP", () => {
  it("describes a running query by its id, and a statement before it runs", async () => {
    expect(
      (
        await ksql(`
      CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 2);
      CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;`)
      ).status,
    ).toBe(200);
    const id = [...engine.queries.keys()][0]!;
    const running = await ksql(`EXPLAIN ${id};`);
    expect(running.status).toBe(200);
    const d = running.body[0]!;
    expect(d["@type"]).toBe("queryDescription");
    expect(d.queryDescription.id).toBe(id);
    expect(d.queryDescription.state).toBe("RUNNING");
    expect(d.queryDescription.sources).toEqual(["CLICKS"]);
    expect(d.queryDescription.sinks).toEqual(["PER_PAGE"]);
    expect(d.queryDescription.fields.map((f) => `${f.name} ${f.schema.type}`)).toEqual(["PAGE STRING", "N BIGINT"]);
    // The topology is the running plan's: sub-topologies, the repartition, the aggregation.
    expect(d.queryDescription.topology).toContain("Sub-topology 1");
    expect(d.queryDescription.topology).toContain(`into _esql-${id}-groupby-0-repartition`);
    expect(d.queryDescription.topology).toContain("Aggregate: GROUP BY PAGE; COUNT()");

    const planned = await ksql(
      `EXPLAIN CREATE TABLE per_user AS SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id;`,
    );
    expect(planned.status).toBe(200);
    expect(planned.body[0]!.queryDescription.topology).toContain("Aggregate: GROUP BY USER_ID");
    expect(planned.body[0]!.queryDescription.topology).not.toContain("Repartition");
    expect(engine.catalog.source("PER_USER")).toBeUndefined();
  });
});
