/**
 * No silent drops: every record a query does not fold is counted per query, operator and reason, the counts
 * survive restarts (they are committed with the offsets), and the processing log names each record.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { DROPS_LOGGED_PER_BATCH } from "../../../runtime/query/drops.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const MIN = 60_000;

/** The processing log's entries with a reason, as [topic, partition, offset, reason] sorted by offset. */
async function droppedInLog(e: Engine): Promise<unknown[][]> {
  const log = await e.pull(
    `SELECT TOPIC, \`PARTITION\`, \`OFFSET\`, REASON, OPERATION, COALESCE(MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE, MESSAGE->RECORDPROCESSINGERROR->ERRORMESSAGE, MESSAGE->SERIALIZATIONERROR->ERRORMESSAGE) FROM KSQL_PROCESSING_LOG;`,
  );
  expect(log.diagnostics).toEqual([]);
  return log.rows.filter((r) => r[3] !== null).sort((a, b) => (a[2] as number) - (b[2] as number));
}

const WINDOWED = `
  CREATE STREAM orders (id STRING KEY, amount INT) WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
  CREATE TABLE per_minute AS SELECT id, COUNT(*) AS n FROM orders
    WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY id EMIT CHANGES;`;

describe("dropped records", () => {
  it("counts a windowed aggregation's late records per query and reason, and logs each with topic, partition, offset and reason", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-drops-") });
    try {
      expect((await e.execute(WINDOWED)).diagnostics).toEqual([]);
      await e.log.append("orders", [
        { key: Buffer.from("a"), value: json({ AMOUNT: 1 }), timestamp: 10 * MIN },
        { key: Buffer.from("a"), value: json({ AMOUNT: 2 }), timestamp: 12 * MIN },
        // Window [10, 11) closed at stream time 12 min: late.
        { key: Buffer.from("a"), value: json({ AMOUNT: 3 }), timestamp: 10 * MIN + 5 },
        { key: Buffer.from("b"), value: json({ AMOUNT: 4 }), timestamp: 12 * MIN + 1 },
      ]);
      await e.drain();
      const qid = e.catalog.source("PER_MINUTE")!.writtenBy!;
      const drops = e.drops(qid);
      expect(drops.total).toBe(1);
      expect([...drops.byReason]).toEqual([["late", 1]]);
      expect([...drops.byOperator]).toEqual([["aggregate/late", 1]]);
      expect(e.recordsIn(qid)).toBe(4);
      expect(e.processingSummary(qid)).toBe("4 records in, 1 dropped (1 late)");
      // Late records are the query's semantics, not errors.
      expect(e.processingErrors).toEqual([]);
      const log = await droppedInLog(e);
      expect(log.map((r) => r.slice(0, 5))).toEqual([["orders", 0, 2, "late", "aggregate"]]);
      expect(String(log[0]![5])).toMatch(
        /event time 1970-01-01T00:10:00.005Z is in the window 1970-01-01T00:10:00.000Z .. 1970-01-01T00:11:00.000Z/,
      );
    } finally {
      await e.close();
    }
  });

  it("drops a table record without key, and an undecodable JSON record, each with its reason", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-drops-") });
    try {
      const r = await e.execute(`
        CREATE TABLE users (id STRING PRIMARY KEY, name STRING) WITH (kafka_topic = 'users', value_format = 'JSON', partitions = 1);
        CREATE TABLE names AS SELECT id, name FROM users EMIT CHANGES;`);
      expect(r.diagnostics).toEqual([]);
      await e.log.append("users", [
        { key: Buffer.from("u1"), value: json({ NAME: "Ann" }) },
        { key: null, value: json({ NAME: "Nobody" }) },
        { key: Buffer.from("u2"), value: Buffer.from("{not json") },
        { key: Buffer.from("u3"), value: json({ NAME: "Cy" }) },
      ]);
      await e.drain();
      const qid = e.catalog.source("NAMES")!.writtenBy!;
      expect([...e.drops(qid).byOperator].sort()).toEqual([
        ["source/null-key", 1],
        ["source/undecodable", 1],
      ]);
      expect((await e.table("NAMES")).rows.map((x) => x[0]).sort()).toEqual(["u1", "u3"]);
      const log = await droppedInLog(e);
      expect(log.map((x) => x.slice(0, 5))).toEqual([
        ["users", 0, 1, "null-key", "source"],
        ["users", 0, 2, "undecodable", "deserialize value"],
      ]);
      // An undecodable record is an error too; a record without key is not.
      expect(e.processingErrors.map((x) => x.offset)).toEqual([2]);
    } finally {
      await e.close();
    }
  });

  it("drops a record whose GROUP BY key is NULL", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-drops-") });
    try {
      const r = await e.execute(`
        CREATE STREAM clicks (page STRING, n INT) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);
        CREATE TABLE per_page AS SELECT page, COUNT(*) AS c FROM clicks GROUP BY page EMIT CHANGES;`);
      expect(r.diagnostics).toEqual([]);
      await e.log.append("clicks", [
        { key: null, value: json({ PAGE: "/", N: 1 }) },
        { key: null, value: json({ N: 2 }) },
      ]);
      await e.drain();
      const qid = e.catalog.source("PER_PAGE")!.writtenBy!;
      expect(e.drops(qid).byReason.get("null-key")).toBe(1);
      const log = await droppedInLog(e);
      // Dropped after the re-keying by PAGE: the entry names the internal record and the source record it came from.
      expect(log.map((x) => x.slice(2, 5))).toEqual([[1, "null-key", "aggregate"]]);
      expect(log[0]![0]).toMatch(/^_esql-CTAS_PER_PAGE_\d+-groupby-\d+-repartition$/);
      expect(log[0]![5]).toBe(
        "the GROUP BY key is NULL (a re-keyed record: it came from partition 0, offset 1 of the previous stage's input)",
      );
    } finally {
      await e.close();
    }
  });

  it("drops a stream record whose join key is NULL (inner join)", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-drops-") });
    try {
      const r = await e.execute(`
        CREATE TABLE users (id STRING PRIMARY KEY, name STRING) WITH (kafka_topic = 'users', value_format = 'JSON', partitions = 1);
        CREATE STREAM visits (vid STRING KEY, uid STRING) WITH (kafka_topic = 'visits', value_format = 'JSON', partitions = 1);
        CREATE STREAM named AS SELECT v.uid, u.name FROM visits v JOIN users u ON v.uid = u.id EMIT CHANGES;`);
      expect(r.diagnostics).toEqual([]);
      await e.log.append("users", [{ key: Buffer.from("u1"), value: json({ NAME: "Ann" }), timestamp: 1 }]);
      await e.log.append("visits", [
        { key: Buffer.from("v1"), value: json({ UID: "u1" }), timestamp: 2 },
        { key: Buffer.from("v2"), value: json({}), timestamp: 3 },
      ]);
      await e.drain();
      const qid = e.catalog.source("NAMED")!.writtenBy!;
      expect([...e.drops(qid).byOperator]).toEqual([["join/null-key", 1]]);
      const log = await droppedInLog(e);
      expect(log.map((x) => x.slice(3, 6))).toEqual([
        ["null-key", "join", expect.stringMatching(/^the join key is NULL/)],
      ]);
    } finally {
      await e.close();
    }
  });

  it("keeps the counts across restarts, and they go on growing", async () => {
    const dataDir = tempDir("esql-drops-");
    let e = await openEngine({ persistent: true, dataDir });
    let qid: string;
    try {
      expect((await e.execute(WINDOWED)).diagnostics).toEqual([]);
      await e.log.append("orders", [
        { key: Buffer.from("a"), value: json({ AMOUNT: 1 }), timestamp: 10 * MIN },
        { key: Buffer.from("a"), value: json({ AMOUNT: 2 }), timestamp: 12 * MIN },
        { key: Buffer.from("a"), value: json({ AMOUNT: 3 }), timestamp: 10 * MIN },
        { key: Buffer.from("a"), value: Buffer.from("oops") },
      ]);
      await e.drain();
      qid = e.catalog.source("PER_MINUTE")!.writtenBy!;
      expect(e.processingSummary(qid)).toBe("4 records in, 2 dropped (1 late, 1 undecodable)");
    } finally {
      await e.close();
    }
    e = await openEngine({ persistent: true, dataDir });
    try {
      expect(e.processingSummary(qid)).toBe("4 records in, 2 dropped (1 late, 1 undecodable)");
      await e.drain();
      expect(e.processingSummary(qid)).toBe("4 records in, 2 dropped (1 late, 1 undecodable)");
      await e.log.append("orders", [{ key: Buffer.from("b"), value: json({ AMOUNT: 1 }), timestamp: 11 * MIN }]);
      await e.drain();
      expect(e.processingSummary(qid)).toBe("5 records in, 3 dropped (2 late, 1 undecodable)");
    } finally {
      await e.close();
    }
    e = await openEngine({ persistent: true, dataDir });
    try {
      expect([...e.drops(qid).byOperator].sort()).toEqual([
        ["aggregate/late", 2],
        ["source/undecodable", 1],
      ]);
    } finally {
      await e.close();
    }
  });

  it("restores the counts from the changelog when the local state is lost", async () => {
    const dataDir = tempDir("esql-drops-");
    let e = await openEngine({ persistent: true, dataDir, changelogs: true });
    let qid: string;
    try {
      expect((await e.execute(WINDOWED)).diagnostics).toEqual([]);
      await e.log.append("orders", [
        { key: Buffer.from("a"), value: json({ AMOUNT: 1 }), timestamp: 10 * MIN },
        { key: Buffer.from("a"), value: json({ AMOUNT: 2 }), timestamp: 12 * MIN },
        { key: Buffer.from("a"), value: json({ AMOUNT: 3 }), timestamp: 10 * MIN },
      ]);
      await e.drain();
      qid = e.catalog.source("PER_MINUTE")!.writtenBy!;
      expect(e.processingSummary(qid)).toBe("3 records in, 1 dropped (1 late)");
    } finally {
      await e.close();
    }
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    e = await openEngine({ persistent: true, dataDir, changelogs: true });
    try {
      expect(e.processingSummary(qid)).toBe("3 records in, 1 dropped (1 late)");
    } finally {
      await e.close();
    }
  });

  it("counts every record of a flood but logs only the first few per batch, with a summary entry for the rest", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-drops-") });
    try {
      expect((await e.execute(WINDOWED)).diagnostics).toEqual([]);
      const late = 3 * DROPS_LOGGED_PER_BATCH;
      await e.log.append("orders", [
        { key: Buffer.from("a"), value: json({ AMOUNT: 1 }), timestamp: 60 * MIN },
        ...Array.from({ length: late }, (_, i) => ({
          key: Buffer.from("a"),
          value: json({ AMOUNT: i }),
          timestamp: MIN,
        })),
      ]);
      await e.drain();
      const qid = e.catalog.source("PER_MINUTE")!.writtenBy!;
      expect(e.drops(qid).byReason.get("late")).toBe(late);
      const log = await droppedInLog(e);
      expect(log).toHaveLength(DROPS_LOGGED_PER_BATCH + 1);
      const summary = log.find((r) => String(r[5]).includes("more record(s)"))!;
      expect(summary.slice(0, 4)).toEqual(["orders", 0, DROPS_LOGGED_PER_BATCH + 1, "late"]);
      expect(String(summary[5])).toContain(
        `${late - DROPS_LOGGED_PER_BATCH} more record(s) of this batch dropped (late), orders[0] offsets ${DROPS_LOGGED_PER_BATCH + 1}..${late}`,
      );
    } finally {
      await e.close();
    }
  });
});
