/**
 * Third-party ksqlDB clients, unchanged, against `esql serve` running the bank example: `ksqldb-js` (axios over
 * HTTP/1.1 for statements and pull queries, HTTP/2 for push queries and inserts; it parses every chunk it
 * receives as one JSON document) and `ksqldb-client` (everything over one HTTP/2 session). Each lists, describes,
 * creates, inserts, runs a pull query and a push query (rows streamed, then stopped the client's way) and uses
 * the administration endpoints it knows.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServe } from "../../src/cli/serve.ts";
import { eventually } from "../fixtures/eventually.ts";
import { tempDir } from "../fixtures/temp.ts";

const require = createRequire(import.meta.url);

/** The part of ksqldb-js's API used here (the package has no types). */
interface KsqlDbJs {
  ksql(sql: string): Promise<any>;
  pull(sql: string): Promise<unknown[]>;
  push(sql: string, cb: (chunk: string) => void): Promise<string>;
  terminate(queryId: string): Promise<any>;
  createStream(name: string, columns: string[], topic: string, format: string, partitions: number): Promise<any>;
  createTableAs(
    name: string,
    source: string,
    select: string[],
    props: object,
    conditions: Record<string, string>,
  ): Promise<any>;
  insertStream(stream: string, rows: object[]): Promise<any[]>;
  inspectServerInfo(): Promise<any>;
  inspectServerHealth(): Promise<any>;
  inspectClusterStatus(): Promise<any>;
  inspectQueryStatus(commandId: string): Promise<any>;
  isValidProperty(name: string): Promise<any>;
}
const KsqlDbJs = require("ksqldb-js") as new (config: { ksqldbURL: string }) => KsqlDbJs;

/** The part of ksqldb-client's API used here. */
interface Result {
  data?: any;
  error?: any;
  status: number;
}
interface KsqldbClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listStreams(): Promise<any[]>;
  listTables(): Promise<any[]>;
  listTopics(): Promise<any[]>;
  listQueries(): Promise<any[]>;
  describeSource(name: string): Promise<any>;
  executeStatement(sql: string): Promise<Result>;
  insertInto(stream: string, row: object): Promise<Result>;
  query(sql: string): Promise<Result>;
  streamQuery(sql: string, cb: (d: { status: number; metadata?: any; rows?: any[] }) => void): Promise<Result>;
  terminatePushQuery(queryId: string): Promise<Result>;
}
const KsqldbClient = require("ksqldb-client") as new (options: { host: string; port: number }) => KsqldbClient;

const BANK = join(import.meta.dirname, "../../examples/bank/bank.esql");
let url = "";
let stop!: () => void;
let served: Promise<number>;

beforeAll(async () => {
  const dir = tempDir("esql-clients-");
  const until = new Promise<void>((r) => (stop = r));
  const sink = { write: () => true } as unknown as NodeJS.WriteStream;
  served = runServe(
    [BANK],
    { data: join(dir, "data"), port: 0, host: "127.0.0.1", until, onListening: (u) => (url = u) },
    sink,
    sink,
  );
  await eventually(
    async () => url !== "",
    30_000,
    async () => "the server to listen",
    20,
  );
}, 60_000);

afterAll(async () => {
  stop();
  expect(await served).toBe(0);
});

/** Waits until `f` gives a value that `ok` accepts, and returns it. */
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  await eventually(
    async () => ok((last = await f())),
    10_000,
    async () => `${what}; last: ${JSON.stringify(last)}`,
    50,
  );
  return last!;
}

describe("ksqldb-js", { timeout: 60_000 }, () => {
  it("lists, describes, creates, inserts, pulls, pushes and terminates", async () => {
    const client = new KsqlDbJs({ ksqldbURL: url });

    const streams = await client.ksql("LIST STREAMS;");
    expect(streams["@type"]).toBe("streams");
    expect(streams.streams.map((s: { name: string }) => s.name)).toContain("TRANSACTIONS");
    const described = await client.ksql("DESCRIBE balances;");
    expect(described["@type"]).toBe("sourceDescription");
    expect(described.sourceDescription.fields.map((f: { name: string }) => f.name)).toEqual([
      "ACCOUNT_ID",
      "BALANCE",
      "TRANSACTIONS",
      "LAST_TX",
    ]);

    const created = await client.createStream("js_pings", ["id VARCHAR KEY", "n INTEGER"], "js_pings", "json", 1);
    expect(created.status).toBe(200);
    expect(created.data[0].commandStatus.status).toBe("SUCCESS");
    const table = await client.createTableAs(
      "js_ping_counts",
      "js_pings",
      ["id", "COUNT(*) AS c"],
      {},
      { GROUP_BY: "id" },
    );
    expect(table.data[0].commandStatus.queryId).toMatch(/^CTAS_JS_PING_COUNTS/);

    expect(
      await client.insertStream("JS_PINGS", [
        { ID: "a", N: 1 },
        { ID: "b", N: 2 },
        { ID: "a", N: 3 },
      ]),
    ).toMatchObject([
      // ksqlDB's ack fields; esql adds each write's position token (read-your-writes), which the client passes on.
      { status: "ok", seq: 0, position: expect.any(String) },
      { status: "ok", seq: 1, position: expect.any(String) },
      { status: "ok", seq: 2, position: expect.any(String) },
    ]);

    const pulled = await until(
      () => client.pull("SELECT * FROM js_ping_counts WHERE id = 'a';"),
      (r) => r.length === 2 && (r[1] as unknown[])[1] === 2,
      "the pull query to see both rows of 'a'",
    );
    expect(pulled[0]).toMatchObject({ columnNames: ["ID", "C"], columnTypes: ["STRING", "BIGINT"] });
    expect(pulled[1]).toEqual(["a", 2]);

    // A push query: ksqldb-js hands each chunk it receives to the callback, parsed as one JSON document.
    const chunks: string[] = [];
    const queryId = await client.push("SELECT id, n FROM js_pings EMIT CHANGES;", (c) => chunks.push(c));
    expect(queryId).toMatch(/\S/);
    // Several rows at once: each still comes as its own chunk (HTTP/2 DATA frame).
    await client.insertStream(
      "JS_PINGS",
      Array.from({ length: 20 }, (_, i) => ({ ID: `p${i}`, N: 100 + i })),
    );
    await until(
      async () => chunks.length,
      (n) => n >= 21,
      "the push query to stream 20 rows",
    );
    expect(JSON.parse(chunks[0]!)).toMatchObject({ queryId, columnNames: ["ID", "N"] });
    expect(chunks.slice(1).map((c) => JSON.parse(c) as unknown)).toEqual(
      Array.from({ length: 20 }, (_, i) => [`p${i}`, 100 + i]),
    );
    // ksqldb-js stops a push query with TERMINATE <query id> on /ksql.
    const terminated = await client.terminate(queryId);
    expect(terminated).toMatchObject({ "@type": "terminate_query", queryId, wasTerminated: true });
    await expect(client.terminate(queryId)).rejects.toThrow(/queryId/i);

    const info = await client.inspectServerInfo();
    expect(info.data.KsqlServerInfo.version).toMatch(/^\d+\.\d+\.\d+/);
    expect((await client.inspectServerHealth()).data.isHealthy).toBe(true);
    const cluster = await client.inspectClusterStatus();
    expect(Object.values(cluster.data.clusterStatus as Record<string, { hostAlive: boolean }>)[0]!.hostAlive).toBe(
      true,
    );
    expect((await client.inspectQueryStatus("stream/JS_PINGS/create")).data.status).toBe("SUCCESS");
    expect((await client.isValidProperty("auto.offset.reset")).data).toBe(true);
    await expect(client.isValidProperty("no.such.property")).rejects.toMatchObject({ error_code: 40000 });
  });
});

describe("ksqldb-client", { timeout: 60_000 }, () => {
  it("lists, describes, creates, inserts, pulls, streams and closes a push query", async () => {
    const port = Number(new URL(url).port);
    const client = new KsqldbClient({ host: "127.0.0.1", port });
    await client.connect();
    try {
      expect((await client.listStreams()).map((s) => s.name)).toContain("TRANSACTIONS");
      expect((await client.listTables()).map((t) => t.name)).toEqual(
        expect.arrayContaining(["BALANCES", "DAILY_TOTALS"]),
      );
      expect((await client.listTopics()).map((t) => t.name)).toContain("transactions");
      expect((await client.listQueries()).map((q) => q.id)).toContain("CTAS_BALANCES_0");
      const balances = await client.describeSource("balances");
      expect(balances.name).toBe("BALANCES");
      expect(balances.fields[0]).toMatchObject({ name: "ACCOUNT_ID", type: "KEY" });

      const created = await client.executeStatement(
        "CREATE STREAM c_pongs (id VARCHAR KEY, amount DOUBLE) WITH (kafka_topic='c_pongs', value_format='json', partitions=1);",
      );
      expect(created.status).toBe(200);
      expect(created.data.rows[0].commandStatus.status).toBe("SUCCESS");
      const bad = await client.executeStatement("CREATE STREAM c_pongs2 (id VARCHAR KEY) WITH (kafka_topic=1);");
      expect(bad.status).toBe(400);
      expect(bad.error["@type"]).toBe("statement_error");

      // insertInto asks for application/json: the acks come as one JSON array, as ksqlDB answers it.
      const inserted = await client.insertInto("C_PONGS", { ID: "x", AMOUNT: 15 });
      expect(inserted).toMatchObject({ status: 200, data: { rows: [{ status: "ok", seq: 0 }] } });
      const refused = await client.insertInto("C_PONGS", { ID: "y", NOPE: 1 });
      expect(refused.error).toMatchObject({ status: "error", seq: 0 });

      const pulled = await until(
        () => client.query("SELECT * FROM c_pongs;"),
        (r) => r.data?.rows?.length === 1,
        "the pull query to see the row",
      );
      expect(pulled.data.rows).toEqual([{ ID: "x", AMOUNT: 15 }]);
      expect(pulled.data.metadata.columnTypes).toEqual(["STRING", "DOUBLE"]);

      // streamQuery parses each chunk (DATA frame) as one JSON document: the header, then one row each.
      const got: { status: number; metadata?: any; rows?: any[] }[] = [];
      const streaming = client.streamQuery("SELECT * FROM c_pongs EMIT CHANGES;", (d) => got.push(d));
      await until(
        async () => got.length,
        (n) => n >= 1,
        "the push query's header",
      );
      for (let i = 0; i < 10; i++) await client.insertInto("C_PONGS", { ID: `k${i}`, AMOUNT: i + 0.5 });
      await until(
        async () => got.length,
        (n) => n >= 11,
        "the push query to stream 10 rows",
      );
      expect(got.slice(1).map((d) => d.rows)).toEqual(
        Array.from({ length: 10 }, (_, i) => [{ ID: `k${i}`, AMOUNT: i + 0.5 }]),
      );
      const queryId = String(got[0]!.metadata.queryId);
      expect(await client.terminatePushQuery(queryId)).toMatchObject({ status: 200 });
      // The stream ends once the query is closed.
      expect((await streaming).data.metadata.queryId).toBe(queryId);
      expect((await client.terminatePushQuery(queryId)).status).toBe(400);
    } finally {
      await client.disconnect();
    }
  });
});
