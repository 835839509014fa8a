/**
 * Pull queries that differ only in their literals share one compilation (`runtime/engine/prepared.ts`):
 * each must still answer for its own literals, and anything the template cannot stand for (converted
 * literals, LIMIT, a changed catalog, SQL errors) must answer as an uncached compile would.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";

let dir: string;
let engine: Engine;

beforeAll(async () => {
  dir = tempDir("esql-pull-cache-");
  engine = await openEngine({ dataDir: dir });
  const r = await engine.execute(`
    CREATE STREAM s (k STRING KEY, n INT, v INT, ts TIMESTAMP) WITH (kafka_topic='s', value_format='JSON', partitions=3);
    CREATE TABLE t AS SELECT k, SUM(v) AS total, LATEST_BY_OFFSET(n) AS n FROM s GROUP BY k;
    INSERT INTO s (k, n, v, ts) VALUES ('a', 1, 10, '2024-01-01T00:00:00');
    INSERT INTO s (k, n, v, ts) VALUES ('b', 2, 20, '2024-01-02T00:00:00');
    INSERT INTO s (k, n, v, ts) VALUES ('it''s', 3, 30, '2024-01-03T00:00:00');
    INSERT INTO s (k, n, v, ts) VALUES ('c', 4, 40, '2024-01-04T00:00:00');`);
  expect(r.diagnostics).toEqual([]);
  await engine.drain();
});

const rows = async (sql: string) => {
  const r = await engine.pull(sql);
  expect(r.diagnostics, sql).toEqual([]);
  return r.rows;
};

describe("pull statement cache", () => {
  it("answers each statement for its own literals", async () => {
    for (let round = 0; round < 2; round++) {
      expect(await rows("SELECT * FROM t WHERE k = 'a';")).toEqual([["a", 10, 1]]);
      expect(await rows("SELECT * FROM t WHERE k = 'b';")).toEqual([["b", 20, 2]]);
      expect(await rows("SELECT * FROM t WHERE k = 'it''s';")).toEqual([["it's", 30, 3]]);
      expect(await rows("SELECT * FROM t WHERE k = 'zz';")).toEqual([]);
      expect(await rows("SELECT k, total + 5 AS x FROM t WHERE k = 'c' AND total > 35;")).toEqual([["c", 45]]);
      expect(await rows("SELECT k, total + 1 AS x FROM t WHERE k = 'c' AND total > 45;")).toEqual([]);
      expect((await rows("SELECT k FROM t WHERE k IN ('a', 'c');")).map((r) => r[0]).sort()).toEqual(["a", "c"]);
      expect((await rows("SELECT k FROM t WHERE k IN ('b', 'it''s');")).map((r) => r[0]).sort()).toEqual(["b", "it's"]);
      expect(await rows("SELECT k, 'lit' AS l FROM t WHERE k = 'b';")).toEqual([["b", "lit"]]);
      expect(await rows("SELECT k, 'other' AS l FROM t WHERE k = 'b';")).toEqual([["b", "other"]]);
      expect(await rows("SELECT k FROM t WHERE n = 2;")).toEqual([["b"]]);
      expect(await rows("SELECT k FROM t WHERE n = 4;")).toEqual([["c"]]);
    }
  });

  it("keeps LIMIT and the same text on two lines apart", async () => {
    expect(await rows("SELECT k FROM t LIMIT 1;")).toHaveLength(1);
    expect(await rows("SELECT k FROM t LIMIT 3;")).toHaveLength(3);
    // Diagnostics keep their positions in the statement's own text, whatever the literals' lengths.
    const bad = await engine.pull("SELECT nope FROM t WHERE k = 'a-much-longer-key';");
    expect(bad.diagnostics[0]?.span.col).toBe(8);
    const bad2 = await engine.pull("SELECT k FROM t\nWHERE k = 'x' AND nope = 1;");
    expect(bad2.diagnostics[0]?.span.line).toBe(2);
  });

  it("finds a key written to another partition than Kafka's partitioner gives it (a lookup asks the likely one first)", async () => {
    const { partitionForKey } = await import("../../runtime/log/partition.ts");
    const key = Buffer.from("stray");
    const elsewhere = (partitionForKey(key, 3) + 1) % 3;
    await engine.log.append("s", [{ key, value: Buffer.from('{"N":9,"V":90}'), partition: elsewhere }]);
    await engine.drain();
    expect(await rows("SELECT * FROM t WHERE k = 'stray';")).toEqual([["stray", 90, 9]]);
    expect((await rows("SELECT k FROM t WHERE k IN ('stray', 'a');")).map((r) => r[0]).sort()).toEqual(["a", "stray"]);
  });

  it("does not reuse a statement compiled against another catalog", async () => {
    expect(await rows("SELECT * FROM t WHERE k = 'a';")).toEqual([["a", 10, 1]]);
    await engine.execute("DROP TABLE t; CREATE TABLE t AS SELECT k, COUNT(*) AS total FROM s GROUP BY k;");
    await engine.drain();
    expect(await rows("SELECT * FROM t WHERE k = 'a';")).toEqual([["a", 1]]);
  });
});
