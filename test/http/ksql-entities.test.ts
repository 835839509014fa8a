/**
 * `POST /ksql` answers as ksqlDB does: each listing, description and plan as ksqlDB's entity (`@type`, fields
 * its clients read), SELECT refused with 40002, CREATE ... IF NOT EXISTS of an existing source a warning,
 * `commandSequenceNumber` the command-topic position (kept across restarts, only for commands that change
 * state), session variables and `ksql.streams.` properties honoured, a DOUBLE written as ksqlDB writes it, and
 * `/info`'s version one that version-gated clients read. Requests are built as ksqlDB's clients build them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { openEngine } from "../fixtures/engine.ts";
import { tempDir } from "../fixtures/temp.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;

type Entity = Record<string, any>;

/** As ksqlDB's CLI and most drivers send statements. */
const ksql = async (text: string, extra: Record<string, unknown> = {}) => {
  const res = await fetch(server.url + "/ksql", {
    method: "POST",
    headers: { "content-type": "application/vnd.ksql.v1+json", accept: "application/vnd.ksql.v1+json" },
    body: JSON.stringify({ ksql: text, streamsProperties: {}, ...extra }),
  });
  return { status: res.status, body: (await res.json()) as any };
};

const one = async (text: string): Promise<Entity> => {
  const r = await ksql(text);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body).toHaveLength(1);
  return r.body[0] as Entity;
};

beforeAll(async () => {
  dir = tempDir();
  engine = await openEngine({ dataDir: dir, persistent: true });
  server = await startServer({ engine, drainIntervalMs: 20 });
  const r = await ksql(`
    CREATE STREAM moves (account STRING KEY, amount DOUBLE, tags ARRAY<STRING>, at STRUCT<x INT, y DECIMAL(4, 1)>)
      WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);
    CREATE TABLE totals AS SELECT account, SUM(amount) AS total, COUNT(*) AS n FROM moves GROUP BY account;
    CREATE TYPE point AS STRUCT<x INT, y INT>;
    INSERT INTO moves (account, amount) VALUES ('alice', 15.0);`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
});
afterAll(async () => {
  await server.close();
  await engine.close();
});

describe("POST /ksql entities", { timeout: 60_000 }, () => {
  it("lists streams, tables, queries, topics, properties, variables, functions and types", async () => {
    const streams = await one("SHOW STREAMS;");
    expect(streams).toMatchObject({ "@type": "streams", statementText: "SHOW STREAMS;", warnings: [] });
    expect(streams.streams).toContainEqual({
      type: "STREAM",
      name: "MOVES",
      topic: "moves",
      keyFormat: "KAFKA",
      valueFormat: "JSON",
      isWindowed: false,
    });
    const tables = await one("LIST TABLES;");
    expect(tables["@type"]).toBe("tables");
    expect(tables.tables).toEqual([
      { type: "TABLE", name: "TOTALS", topic: "TOTALS", keyFormat: "KAFKA", valueFormat: "JSON", isWindowed: false },
    ]);
    const queries = await one("SHOW QUERIES;");
    expect(queries["@type"]).toBe("queries");
    expect(queries.queries).toEqual([
      {
        queryString: expect.stringContaining("CREATE TABLE totals AS SELECT"),
        sinks: ["TOTALS"],
        sinkKafkaTopics: ["TOTALS"],
        id: "CTAS_TOTALS_0",
        statusCount: { RUNNING: 1 },
        queryType: "PERSISTENT",
        state: "RUNNING",
      },
    ]);
    const topics = await one("SHOW TOPICS;");
    expect(topics["@type"]).toBe("kafka_topics");
    expect(topics.topics).toContainEqual({ name: "moves", replicaInfo: [1, 1] });
    expect(topics.topics.some((t: Entity) => String(t.name).startsWith("_"))).toBe(false);
    // EXTENDED adds consumer counts; ALL adds the internal topics (the command topic, changelogs).
    const extended = await one("SHOW TOPICS EXTENDED;");
    expect(extended["@type"]).toBe("kafka_topics_extended");
    expect(extended.topics.some((t: Entity) => String(t.name).startsWith("_"))).toBe(false);
    const all = await one("LIST ALL TOPICS;");
    expect(all["@type"]).toBe("kafka_topics");
    expect(all.topics.some((t: Entity) => String(t.name).startsWith("_"))).toBe(true);
    expect(all.topics).toContainEqual({ name: "moves", replicaInfo: [1, 1] });

    const props = await ksql("SHOW PROPERTIES;", { streamsProperties: { "auto.offset.reset": "earliest" } });
    expect(props.body[0]["@type"]).toBe("properties");
    expect(props.body[0].properties).toContainEqual({ name: "auto.offset.reset", scope: "KSQL", value: "earliest" });

    const vars = await ksql("SHOW VARIABLES;", { sessionVariables: { who: "carol" } });
    expect(vars.body[0]).toMatchObject({ "@type": "variables", variables: [{ name: "WHO", value: "carol" }] });

    const fns = await one("SHOW FUNCTIONS;");
    expect(fns["@type"]).toBe("function_names");
    expect(fns.functions).toContainEqual({ name: "COUNT", type: "AGGREGATE", category: "AGGREGATE" });
    expect(fns.functions).toContainEqual(expect.objectContaining({ name: "EXPLODE", type: "TABLE" }));

    const types = await one("SHOW TYPES;");
    expect(types["@type"]).toBe("type_list");
    expect(types.types.POINT).toEqual({
      type: "STRUCT",
      fields: [
        { name: "X", schema: { type: "INTEGER", fields: null, memberSchema: null } },
        { name: "Y", schema: { type: "INTEGER", fields: null, memberSchema: null } },
      ],
      memberSchema: null,
    });
  });

  it("describes sources (fields with their schemas, queries, statistics) and functions", async () => {
    const d = await one("DESCRIBE moves;");
    expect(d["@type"]).toBe("sourceDescription");
    const s = d.sourceDescription;
    expect(s).toMatchObject({
      name: "MOVES",
      type: "STREAM",
      topic: "moves",
      keyFormat: "KAFKA",
      valueFormat: "JSON",
      partitions: 2,
      replication: 1,
      windowType: null,
      timestamp: "",
      extended: false,
      statistics: "",
      errorStats: "",
    });
    expect(s.readQueries.map((q: Entity) => q.id)).toEqual(["CTAS_TOTALS_0"]);
    expect(s.writeQueries).toEqual([]);
    expect(s.fields).toEqual([
      { name: "ACCOUNT", schema: { type: "STRING", fields: null, memberSchema: null }, type: "KEY" },
      { name: "AMOUNT", schema: { type: "DOUBLE", fields: null, memberSchema: null } },
      {
        name: "TAGS",
        schema: { type: "ARRAY", fields: null, memberSchema: { type: "STRING", fields: null, memberSchema: null } },
      },
      {
        name: "AT",
        schema: {
          type: "STRUCT",
          fields: [
            { name: "X", schema: { type: "INTEGER", fields: null, memberSchema: null } },
            {
              name: "Y",
              schema: { type: "DECIMAL", fields: null, memberSchema: null, parameters: { precision: 4, scale: 1 } },
            },
          ],
          memberSchema: null,
        },
      },
    ]);

    // EXTENDED: the writing query and what it processed.
    let ext: Entity = {};
    for (let i = 0; i < 200 && !/Records in\s+: 1\b/.test(ext.statistics ?? ""); i++) {
      ext = (await one("DESCRIBE EXTENDED totals;")).sourceDescription;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(ext.extended).toBe(true);
    expect(ext.writeQueries.map((q: Entity) => [q.id, q.state])).toEqual([["CTAS_TOTALS_0", "RUNNING"]]);
    expect(ext.statistics).toMatch(/Records in\s+: 1/);
    expect(ext.statement).toContain("CREATE TABLE totals AS SELECT");

    const all = await one("DESCRIBE TABLES;");
    expect(all["@type"]).toBe("source_descriptions");
    expect(all.sourceDescriptions.map((x: Entity) => x.name)).toEqual(["TOTALS"]);

    const f = await one("DESCRIBE FUNCTION substring;");
    expect(f).toMatchObject({ "@type": "describe_function", name: "SUBSTRING", type: "SCALAR" });
    expect(f.functions).toContainEqual(
      expect.objectContaining({
        returnType: "STRING",
        argumentTypes: ["STRING", "INTEGER", "INTEGER"],
        arguments: [
          { name: "str", type: "STRING", description: "", isVariadic: false },
          { name: "pos", type: "INTEGER", description: "", isVariadic: false },
          { name: "len", type: "INTEGER", description: "", isVariadic: false },
        ],
      }),
    );
    const concat = await one("DESCRIBE FUNCTION concat;");
    expect(concat.functions[0].arguments[0]).toMatchObject({ type: "STRING", isVariadic: true });
  });

  it("explains a running query, a statement and a SELECT", async () => {
    const q = (await one("EXPLAIN CTAS_TOTALS_0;")).queryDescription;
    expect(q).toMatchObject({ id: "CTAS_TOTALS_0", queryType: "PERSISTENT", state: "RUNNING", sinks: ["TOTALS"] });
    expect(q.topology).toContain("Sub-topology");
    expect(q.fields.map((f: Entity) => f.name)).toEqual(["ACCOUNT", "TOTAL", "N"]);
    const select = (await one("EXPLAIN SELECT * FROM totals WHERE account = 'alice';")).queryDescription;
    expect(select.queryType).toBe("PULL");
    expect(select.executionPlan).not.toBe("");
    expect(select.logicalPlan).not.toBe("");
  });
});

describe("POST /ksql statements", { timeout: 60_000 }, () => {
  it("refuses a SELECT with 40002 before running anything", async () => {
    const r = await ksql(
      "CREATE STREAM never_made (a INT) WITH (kafka_topic='nm', value_format='JSON', partitions=1); SELECT * FROM totals;",
    );
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      "@type": "statement_error",
      error_code: 40002,
      statementText: "SELECT * FROM totals;",
    });
    expect(engine.catalog.source("NEVER_MADE")).toBeUndefined();
  });

  it("answers CREATE ... IF NOT EXISTS of an existing source with ksqlDB's warning, and records nothing", async () => {
    const before = await engine.log.endOffset(engine.commandTopic, 0);
    const e = await one(
      "CREATE STREAM IF NOT EXISTS moves (account STRING KEY, amount DOUBLE) WITH (kafka_topic = 'moves', value_format = 'JSON');",
    );
    expect(e).toMatchObject({
      "@type": "warning_entity",
      message: "Cannot add stream MOVES: A stream with the same name already exists.",
    });
    expect(await engine.log.endOffset(engine.commandTopic, 0)).toBe(before);
  });

  it("numbers commands by their command-topic offset, only those that change state, across restarts", async () => {
    const a = await one(
      "CREATE STREAM seq_a (v INT) WITH (kafka_topic = 'seq_a', value_format = 'JSON', partitions = 1);",
    );
    expect(a["@type"]).toBe("currentStatus");
    expect(a.commandId).toBe("stream/SEQ_A/create");
    expect(a.commandStatus.status).toBe("SUCCESS");
    expect(a.commandSequenceNumber).toBe((await engine.log.endOffset(engine.commandTopic, 0)) - 1);
    await one("SHOW STREAMS;");
    await one("DESCRIBE seq_a;");
    const b = await one(
      "CREATE STREAM seq_b (v INT) WITH (kafka_topic = 'seq_b', value_format = 'JSON', partitions = 1);",
    );
    expect(b.commandSequenceNumber).toBe(a.commandSequenceNumber + 1);
    // /status knows the command.
    const st = await fetch(`${server.url}/status/stream/SEQ_A/create`);
    expect(await st.json()).toMatchObject({ status: "SUCCESS" });

    // A restarted server continues the numbering.
    await server.close();
    await engine.close();
    engine = await openEngine({ dataDir: dir, persistent: true });
    server = await startServer({ engine, drainIntervalMs: 20 });
    const c = await one("DROP STREAM seq_b;");
    expect(c.commandSequenceNumber).toBe(b.commandSequenceNumber + 1);
  });

  it("substitutes sessionVariables on /ksql and /query-stream", async () => {
    const r = await ksql(
      "CREATE STREAM ${name} (v INT) WITH (kafka_topic = '${topic}', value_format = 'JSON', partitions = 1);",
      {
        sessionVariables: { name: "var_made", topic: "var_topic" },
      },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(engine.catalog.source("VAR_MADE")?.topic).toBe("var_topic");
    // Request-scoped: the server keeps none of them.
    expect(engine.variables.has("NAME")).toBe(false);
    const res = await fetch(server.url + "/query-stream", {
      method: "POST",
      body: JSON.stringify({
        sql: "SELECT * FROM ${t} WHERE account = '${who}';",
        sessionVariables: { t: "totals", who: "alice" },
      }),
    });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split("\n");
    expect(JSON.parse(lines[0]!).columnNames).toEqual(["ACCOUNT", "TOTAL", "N"]);
  });

  it("reads ksql.streams.-prefixed properties and writes a DOUBLE as ksqlDB does", async () => {
    // A push query from the earliest offset, as ksqlDB's docs set it: with the prefix.
    const res = await fetch(server.url + "/query-stream", {
      method: "POST",
      body: JSON.stringify({
        sql: "SELECT account, amount FROM moves EMIT CHANGES LIMIT 1;",
        properties: { "ksql.streams.auto.offset.reset": "earliest" },
      }),
    });
    const text = await res.text();
    expect(text.trim().split("\n")[1]).toBe('["alice",15.0]');
  });

  it("reports a ksqlDB version in /info, esql's own beside it", async () => {
    const info = (await (await fetch(server.url + "/info")).json()) as { KsqlServerInfo: Record<string, string> };
    expect(info.KsqlServerInfo.version).toMatch(/^0\.\d+\.\d+$/);
    expect(info.KsqlServerInfo.esqlVersion).toMatch(/^\d+\.\d+\.\d+/);
  });
});
