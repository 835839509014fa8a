import { beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../../runtime/engine/engine.ts";
import { isTombstone, type PushQuery } from "../../../runtime/engine/push.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

async function take(q: PushQuery, n: number, timeoutMs = 5000): Promise<unknown[][]> {
  const out: unknown[][] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) {
    const r = await Promise.race([
      q.next(),
      new Promise<"timeout">((res) => setTimeout(() => res("timeout"), deadline - Date.now())),
    ]);
    if (r === "timeout" || r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("push queries", () => {
  let dir: string;
  let engine: Engine;
  beforeAll(async () => {
    dir = tempDir("esql-push-");
    engine = await openEngine({ dataDir: dir });
    const r = await engine.execute(`
      CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=2);
      CREATE TABLE counts AS SELECT k, COUNT(*) AS c FROM s GROUP BY k;
      INSERT INTO s (k, v) VALUES ('a', 1);
      INSERT INTO s (k, v) VALUES ('b', 2);`);
    expect(r.diagnostics).toEqual([]);
    await engine.drain();
  });

  const subscribe = async (sql: string, props: Record<string, string> = {}) => {
    const s = await engine.subscribe(sql, props);
    if (!s.ok) throw new Error(s.diagnostics[0]!.message);
    return s.query;
  };

  it("streams from earliest with a filter and projection, ends at LIMIT and cleans up", async () => {
    const q = await subscribe("SELECT k, v * 10 AS x FROM s WHERE v > 0 EMIT CHANGES LIMIT 3;", {
      "auto.offset.reset": "earliest",
    });
    expect(q.columns.map((c) => c.name)).toEqual(["K", "X"]);
    const first = await take(q, 2);
    expect(first.map(String).sort()).toEqual(["a,10", "b,20"]);
    await engine.execute("INSERT INTO s (k, v) VALUES ('c', 3);");
    const rest = await take(q, 1);
    expect(rest).toEqual([["c", 30]]);
    expect((await q.next()).done).toBe(true);
    // the transient query's internal topics and stores are gone
    const topics = await engine.log.listTopics();
    expect(topics.filter((t) => t.includes(q.id))).toEqual([]);
  });

  it("from latest sees only new rows; aggregations emit changes; return() stops it", async () => {
    const q = await subscribe("SELECT k, COUNT(*) AS n FROM s GROUP BY k EMIT CHANGES;");
    await engine.execute("INSERT INTO s (k, v) VALUES ('a', 5);");
    const rows = await take(q, 1);
    expect(rows).toEqual([["a", 1]]);
    await q.return!();
    expect((await q.next()).done).toBe(true);
  });

  it("subscribes to a table's changes as persistent queries run", async () => {
    await engine.drain();
    const q = await subscribe("SELECT * FROM counts EMIT CHANGES;");
    await engine.execute("INSERT INTO s (k, v) VALUES ('z', 1);");
    await engine.drain();
    const rows = await take(q, 1);
    expect(rows).toEqual([["z", 1]]);
    await q.close();
  });

  it("errors are diagnostics; execute() refuses push queries with a diagnostic", async () => {
    const s = await engine.subscribe("SELECT nope FROM s EMIT CHANGES;");
    expect(s.ok).toBe(false);
    const r = await engine.execute("SELECT * FROM s EMIT CHANGES;");
    expect(r.diagnostics[0]!.code).toBe("RUN003");
  });

  it("shows a deleted key of a table as a tombstone row (key kept, values null)", async () => {
    await engine.execute(
      "CREATE TABLE tt (id INT PRIMARY KEY, v STRING) WITH (kafka_topic='tt', value_format='JSON', partitions=1);",
    );
    const q = await subscribe("SELECT id, v FROM tt EMIT CHANGES LIMIT 2;", { "auto.offset.reset": "earliest" });
    await engine.execute("INSERT INTO tt (id, v) VALUES (7, 'x');");
    const key = Buffer.alloc(4);
    key.writeInt32BE(7);
    await engine.log.append("tt", [{ key, value: null }]);
    const rows = await take(q, 2);
    expect(rows).toEqual([
      [7, "x"],
      [7, null],
    ]);
    expect(rows.map(isTombstone)).toEqual([false, true]);
  });
});
