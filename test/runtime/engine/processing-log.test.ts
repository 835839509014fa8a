import { describe, expect, it } from "vitest";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

describe("the processing log", () => {
  it("is a stream: records that cannot be decoded or evaluated are there with topic, partition, offset and reason; the query goes on", async () => {
    const dir = tempDir("esql-plog-");
    const e = await openEngine({ persistent: true, dataDir: dir });
    try {
      const r = await e.execute(`
        CREATE STREAM s (id STRING KEY, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
        CREATE STREAM t AS SELECT id, 10 / n AS q FROM s;`);
      expect(r.diagnostics).toEqual([]);
      await e.log.append("s", [
        { key: Buffer.from("a"), value: Buffer.from('{"N": 0}') },
        { key: Buffer.from("b"), value: Buffer.from("not json") },
        { key: Buffer.from("c"), value: Buffer.from('{"N": 5}') },
      ]);
      await e.drain();
      const log = await e.pull("SELECT TOPIC, `PARTITION`, `OFFSET`, OPERATION, MESSAGE FROM KSQL_PROCESSING_LOG;");
      expect(log.diagnostics).toEqual([]);
      const rows = [...log.rows].sort((a, b) => (a[2] as number) - (b[2] as number));
      expect(rows.map((x) => x.slice(0, 4))).toEqual([
        ["s", 0, 0, "/"],
        ["s", 0, 1, "deserialize value"],
      ]);
      expect(String(rows[1]![4])).toMatch(/invalid JSON/);
      // The query went on: the division by zero gives NULL, the undecodable record is skipped, the last one is fine.
      const out = await e.pull("SELECT ID, Q FROM t;");
      expect(out.rows).toEqual([
        ["a", null],
        ["c", 2],
      ]);
    } finally {
      await e.close();
    }
  });
});
