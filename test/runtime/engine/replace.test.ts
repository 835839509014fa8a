/**
 * CREATE OR REPLACE through the Engine API on the embedded log: a redefinition that keeps the meaning of the
 * state runs in place (same query, state and offsets; the new definition applies to new records), anything
 * else is refused with a message that names the change and points to `esql apply`, and the running query is
 * left as it was. One case per class of change (src/semantic/replace.ts has the rules).
 */
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

const SOURCES = `
  CREATE STREAM orders (id STRING KEY, product STRING, price DOUBLE, qty INT)
    WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
  CREATE TABLE prices (product STRING PRIMARY KEY, list DOUBLE)
    WITH (kafka_topic = 'prices', value_format = 'JSON', partitions = 1);
  CREATE STREAM returns (id STRING KEY, product STRING, price DOUBLE, qty INT)
    WITH (kafka_topic = 'returns', value_format = 'JSON', partitions = 1);`;

async function open(): Promise<Engine> {
  return openEngine({ persistent: true, dataDir: tempDir("esql-replace-") });
}

async function run(e: Engine, sql: string): Promise<void> {
  const r = await e.execute(sql);
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
}

let nextId = 0;
async function order(e: Engine, product: string, price: number, qty = 1): Promise<void> {
  await e.log.append("orders", [
    {
      key: Buffer.from(`o${nextId++}`),
      value: Buffer.from(JSON.stringify({ PRODUCT: product, PRICE: price, QTY: qty })),
    },
  ]);
}

/** The JSON values written to a topic's partition 0, in order. */
async function written(e: Engine, topic: string): Promise<Record<string, unknown>[]> {
  const records = await e.log.read(topic, 0, 0, 1000);
  return records.map((r) => JSON.parse(r.value!.toString("utf8")) as Record<string, unknown>);
}

const REVENUE = "CREATE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product;";

describe("CREATE OR REPLACE refuses what it cannot run in place", () => {
  const cases: [string, string, string, RegExp][] = [
    [
      "an aggregate function change",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MIN(price) AS top FROM orders GROUP BY product;",
      /^CREATE OR REPLACE cannot change the aggregation of table REVENUE: MAX\(PRICE\) became MIN\(PRICE\); the stored state would be misread\. Use `esql apply`, which rebuilds it as a new version\.$/,
    ],
    [
      "an aggregate function's argument change",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price * qty) AS top FROM orders GROUP BY product;",
      /the aggregation of table REVENUE: MAX\(PRICE\) became MAX\(\(PRICE \* ~CAST\(QTY AS DOUBLE\)\)\)/,
    ],
    [
      "a new aggregate column",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price) AS top, COUNT(*) AS n FROM orders GROUP BY product;",
      /the aggregation of table REVENUE: COUNT\(\*\) was added; the stored state would be misread/,
    ],
    [
      "a GROUP BY change",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT id AS product, MAX(price) AS top FROM orders GROUP BY id;",
      /the GROUP BY of table REVENUE: GROUP BY PRODUCT became GROUP BY ID/,
    ],
    [
      "a window added",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY product;",
      /the window of table REVENUE: no window became WINDOW TUMBLING \(SIZE 60 SECONDS\)/,
    ],
    [
      "a window size change",
      "CREATE TABLE perminute AS SELECT product, COUNT(*) AS n FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY product;",
      "CREATE OR REPLACE TABLE perminute AS SELECT product, COUNT(*) AS n FROM orders WINDOW TUMBLING (SIZE 2 MINUTES) GROUP BY product;",
      /the window of table PERMINUTE: WINDOW TUMBLING \(SIZE 60 SECONDS\) became WINDOW TUMBLING \(SIZE 120 SECONDS\)/,
    ],
    [
      "a filter change in a windowed aggregation (ksqlDB refuses any)",
      "CREATE TABLE perminute AS SELECT product, COUNT(*) AS n FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY product;",
      "CREATE OR REPLACE TABLE perminute AS SELECT product, COUNT(*) AS n FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) WHERE qty > 0 GROUP BY product;",
      /cannot change the windowed query of table PERMINUTE/,
    ],
    [
      "a filter change in a join (ksqlDB refuses any)",
      "CREATE STREAM enriched AS SELECT o.product, o.id, o.price, p.list FROM orders o JOIN prices p ON o.product = p.product;",
      "CREATE OR REPLACE STREAM enriched AS SELECT o.product, o.id, o.price, p.list FROM orders o JOIN prices p ON o.product = p.product WHERE o.price > 1;",
      /cannot change the join query of stream ENRICHED: a query with a join is never replaced in place/,
    ],
    [
      "a stream turned into a join",
      "CREATE STREAM enriched AS SELECT product, id, price FROM orders PARTITION BY product;",
      "CREATE OR REPLACE STREAM enriched AS SELECT o.product AS product, o.id AS id, o.price AS price FROM orders o JOIN prices p ON o.product = p.product;",
      /cannot change the source of stream ENRICHED: FROM ORDERS became FROM ORDERS JOIN PRICES/,
    ],
    [
      "a source change",
      "CREATE STREAM big AS SELECT id, price FROM orders WHERE price > 10;",
      "CREATE OR REPLACE STREAM big AS SELECT id, price FROM returns WHERE price > 10;",
      /the source of stream BIG: FROM ORDERS became FROM RETURNS; its offsets belong to the old input/,
    ],
    [
      "a key change (PARTITION BY)",
      "CREATE STREAM big AS SELECT id, price FROM orders WHERE price > 10;",
      "CREATE OR REPLACE STREAM big AS SELECT product, price FROM orders WHERE price > 10 PARTITION BY product;",
      /the key columns of stream BIG: ID STRING became PRODUCT STRING/,
    ],
    [
      "a value column removed",
      "CREATE STREAM big AS SELECT id, product, price FROM orders;",
      "CREATE OR REPLACE STREAM big AS SELECT id, price FROM orders;",
      /the value columns of stream BIG: PRODUCT STRING, PRICE DOUBLE are changed, missing or moved \(new columns may only be added at the end\)/,
    ],
    [
      "a value column's type change",
      "CREATE STREAM big AS SELECT id, product, price FROM orders;",
      "CREATE OR REPLACE STREAM big AS SELECT id, product, CAST(price AS STRING) AS price FROM orders;",
      /the value columns of stream BIG: PRICE DOUBLE is changed/,
    ],
    [
      "a format change",
      "CREATE STREAM big AS SELECT id, price FROM orders;",
      "CREATE OR REPLACE STREAM big WITH (value_format = 'DELIMITED') AS SELECT id, price FROM orders;",
      /the value format of stream BIG: JSON became DELIMITED/,
    ],
    [
      "a table turned into an aggregation",
      "CREATE TABLE listed AS SELECT product, list FROM prices;",
      "CREATE OR REPLACE TABLE listed AS SELECT product, SUM(list) AS list FROM prices GROUP BY product;",
      /the kind of query of table LISTED: a stateless query became an aggregation/,
    ],
    [
      "a HAVING change in an aggregation of a table (ksqlDB refuses any)",
      "CREATE TABLE bylist AS SELECT list, COUNT(*) AS n FROM prices GROUP BY list;",
      "CREATE OR REPLACE TABLE bylist AS SELECT list, COUNT(*) AS n FROM prices GROUP BY list HAVING COUNT(*) > 1;",
      /cannot change the table aggregation of table BYLIST: an aggregation over a table is never replaced in place/,
    ],
    [
      "a WHERE of an aggregation that reads a new column (as ksqlDB)",
      REVENUE,
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders WHERE qty > 0 GROUP BY product;",
      /the input columns of the aggregation of table REVENUE: PRICE, PRODUCT became PRICE, PRODUCT, QTY/,
    ],
    [
      "a table functions query",
      "CREATE STREAM parts AS SELECT id, EXPLODE(ARRAY[price, price]) AS part FROM orders;",
      "CREATE OR REPLACE STREAM parts AS SELECT id, EXPLODE(ARRAY[price, price]) AS part FROM orders WHERE qty > 0;",
      /cannot change the table-function query of stream PARTS/,
    ],
    [
      "a declared source losing a column",
      "CREATE STREAM clicks (id STRING KEY, url STRING, ms BIGINT) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);",
      "CREATE OR REPLACE STREAM clicks (id STRING KEY, url STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);",
      /the value columns of stream CLICKS: MS BIGINT is changed, missing or moved/,
    ],
    [
      "a query's output turned into a declared source",
      "CREATE STREAM big AS SELECT id, price FROM orders;",
      "CREATE OR REPLACE STREAM big (id STRING KEY, price DOUBLE) WITH (kafka_topic = 'BIG', value_format = 'JSON');",
      /cannot change the definition of stream BIG: a query's output became a declared source/,
    ],
  ];
  it.each(cases)("%s", async (_name, original, replacement, message) => {
    const e = await open();
    try {
      await run(e, SOURCES + original);
      const before = e.catalog.source((/(?:STREAM|TABLE) (\w+)/.exec(original)![1] ?? "").toUpperCase())!;
      const r = await e.execute(replacement);
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]!.code).toBe("ESQL-S039");
      expect(r.diagnostics[0]!.message).toMatch(message);
      // Nothing changed: the catalog keeps the old definition.
      expect(e.catalog.source(before.name)).toEqual(before);
    } finally {
      await e.close();
    }
  });

  it("leaves the refused aggregation running with its state", async () => {
    const e = await open();
    try {
      await run(e, SOURCES + REVENUE);
      await order(e, "a", 5);
      await order(e, "a", 9);
      await e.drain();
      const r = await e.execute(
        "CREATE OR REPLACE TABLE revenue AS SELECT product, MIN(price) AS top FROM orders GROUP BY product;",
      );
      expect(r.diagnostics[0]!.message).toMatch(/MAX\(PRICE\) became MIN\(PRICE\)/);
      await order(e, "a", 7);
      await e.drain();
      expect((await e.pull("SELECT product, top FROM revenue;")).rows).toEqual([["a", 9]]);
    } finally {
      await e.close();
    }
  });
});

describe("CREATE OR REPLACE in place", () => {
  it("a stream's filter and an added column: keeps its offsets, applies to new records only, survives a restart", async () => {
    const dir = tempDir("esql-replace-");
    let e = await openEngine({ persistent: true, dataDir: dir });
    try {
      await run(e, SOURCES + "CREATE STREAM big AS SELECT id, price FROM orders WHERE price > 10;");
      const queryId = e.catalog.source("BIG")!.writtenBy;
      for (const p of [5, 20, 30]) await order(e, "a", p, 2);
      expect(await e.drain()).toBe(3);
      expect(await written(e, "BIG")).toEqual([{ PRICE: 20 }, { PRICE: 30 }]);

      await run(e, "CREATE OR REPLACE STREAM big AS SELECT id, price, qty FROM orders WHERE price > 1;");
      expect(e.catalog.source("BIG")!.writtenBy).toBe(queryId);
      // Nothing read again: the replaced query continues from the old one's offsets.
      expect(await e.drain()).toBe(0);
      for (const p of [5, 0.5]) await order(e, "b", p, 3);
      expect(await e.drain()).toBe(2);
      expect(await written(e, "BIG")).toEqual([{ PRICE: 20 }, { PRICE: 30 }, { PRICE: 5, QTY: 3 }]);
    } finally {
      await e.close();
    }
    // The command topic replays both statements: the catalog has the new definition, the offsets stay.
    e = await openEngine({ persistent: true, dataDir: dir });
    try {
      expect(e.catalog.source("BIG")!.columns.map((c) => c.name)).toEqual(["ID", "PRICE", "QTY"]);
      expect(await e.drain()).toBe(0);
      await order(e, "c", 50, 4);
      expect(await e.drain()).toBe(1);
      expect((await written(e, "BIG")).at(-1)).toEqual({ PRICE: 50, QTY: 4 });
    } finally {
      await e.close();
    }
  });

  it("an aggregation's WHERE, HAVING and an added non-aggregate column: keeps its state", async () => {
    const e = await open();
    try {
      await run(
        e,
        SOURCES + "CREATE TABLE revenue AS SELECT product, SUM(price) AS total FROM orders GROUP BY product;",
      );
      await order(e, "a", 3);
      await order(e, "a", 4);
      await order(e, "b", 1);
      await e.drain();
      await run(
        e,
        `CREATE OR REPLACE TABLE revenue AS SELECT product, SUM(price) AS total, AS_VALUE(product) AS name
           FROM orders WHERE price < 100 GROUP BY product HAVING SUM(price) > 2;`,
      );
      expect(await e.drain()).toBe(0);
      await order(e, "a", 5);
      await order(e, "a", 500);
      await e.drain();
      // The state went on from 7 (3 + 4): 12; the new WHERE skipped 500; HAVING hides b (total 1).
      expect((await e.pull("SELECT product, total, name FROM revenue;")).rows).toEqual([["a", 12, "a"]]);
    } finally {
      await e.close();
    }
  });

  it("a table over a table: a filter and an added column (rows written before read it as NULL)", async () => {
    const e = await open();
    try {
      await run(e, SOURCES + "CREATE TABLE listed AS SELECT product, list FROM prices;");
      await e.log.append("prices", [{ key: Buffer.from("a"), value: Buffer.from('{"LIST": 2}') }]);
      await e.drain();
      await run(
        e,
        "CREATE OR REPLACE TABLE listed AS SELECT product, list, list * 2 AS twice FROM prices WHERE list > 1;",
      );
      await e.log.append("prices", [{ key: Buffer.from("b"), value: Buffer.from('{"LIST": 3}') }]);
      await e.drain();
      const rows = (await e.pull("SELECT product, list, twice FROM listed;")).rows;
      expect([...rows].sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
        ["a", 2, null],
        ["b", 3, 6],
      ]);
    } finally {
      await e.close();
    }
  });

  it("a chain: a source gains a column, a query over it gains a computed column, its reader goes on", async () => {
    const e = await open();
    try {
      await run(
        e,
        `CREATE STREAM a (id INT KEY, col1 INT) WITH (kafka_topic = 'a', value_format = 'JSON', partitions = 1);
         CREATE STREAM b AS SELECT * FROM a;`,
      );
      const put = (id: number, value: object) =>
        e.log.append("a", [{ key: Buffer.from([0, 0, 0, id]), value: Buffer.from(JSON.stringify(value)) }]);
      await put(1, { COL1: 1 });
      await e.drain();
      await run(
        e,
        `CREATE OR REPLACE STREAM a (id INT KEY, col1 INT, col2 INT) WITH (kafka_topic = 'a', value_format = 'JSON', partitions = 1);
         CREATE STREAM c AS SELECT * FROM b;
         CREATE OR REPLACE STREAM b AS SELECT id, col1, col1 + 1 AS col1_add FROM a;`,
      );
      await put(1, { COL1: 20, COL2: 3 });
      await e.drain();
      expect(await written(e, "B")).toEqual([{ COL1: 1 }, { COL1: 20, COL1_ADD: 21 }]);
      // C was created over B's old columns and keeps them.
      expect(await written(e, "C")).toEqual([{ COL1: 1 }, { COL1: 20 }]);
    } finally {
      await e.close();
    }
  });

  it("a declared source gains a column at the end; queries created after read it", async () => {
    const e = await open();
    try {
      await run(e, SOURCES);
      await run(
        e,
        `CREATE OR REPLACE STREAM orders (id STRING KEY, product STRING, price DOUBLE, qty INT, note STRING)
           WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
         CREATE STREAM notes AS SELECT id, note FROM orders;`,
      );
      await e.log.append("orders", [{ key: Buffer.from("x"), value: Buffer.from('{"PRICE": 1, "NOTE": "hi"}') }]);
      await e.drain();
      expect(await written(e, "NOTES")).toEqual([{ NOTE: "hi" }]);
    } finally {
      await e.close();
    }
  });
});
