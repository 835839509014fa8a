import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
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
      const log = await e.pull(
        "SELECT TOPIC, `PARTITION`, `OFFSET`, OPERATION, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE FROM KSQL_PROCESSING_LOG;",
      );
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

  it("has ksqlDB's name and schema: LOGGER, LEVEL, TIME and MESSAGE with its TYPE and error structs", async () => {
    const e = await openEngine({ persistent: true, dataDir: tempDir("esql-plog-") });
    try {
      const r = await e.execute(`
        CREATE STREAM s (id STRING KEY, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
        CREATE STREAM t AS SELECT id, 10 / n AS q FROM s;`);
      expect(r.diagnostics).toEqual([]);
      const before = Date.now();
      await e.log.append("s", [
        { key: Buffer.from("a"), value: Buffer.from('{"N": 0}') },
        { key: Buffer.from("b"), value: Buffer.from("not json") },
      ]);
      await e.drain();
      // A query written for ksqlDB's processing log (its documented columns and struct fields).
      const log = await e.pull(`
        SELECT LOGGER, LEVEL, \`TIME\`, MESSAGE->\`TYPE\`,
               MESSAGE->DESERIALIZATIONERROR->TARGET, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE,
               MESSAGE->DESERIALIZATIONERROR->\`topic\`, MESSAGE->RECORDPROCESSINGERROR->ERRORMESSAGE,
               MESSAGE->PRODUCTIONERROR, MESSAGE->SERIALIZATIONERROR, MESSAGE->KAFKASTREAMSTHREADERROR
        FROM KSQL_PROCESSING_LOG;`);
      expect(log.diagnostics).toEqual([]);
      const byType = new Map(log.rows.map((row) => [row[3], row]));
      const processing = byType.get(1)!;
      expect(processing[0]).toMatch(/^processing\.CSAS_T_\d+\./);
      expect(processing[1]).toBe("ERROR");
      expect(processing[2] as number).toBeGreaterThanOrEqual(before);
      expect(processing.slice(4, 7)).toEqual([null, null, null]);
      expect(String(processing[7])).toMatch(/zero/i);
      const decode = byType.get(0)!;
      expect(decode[0]).toBe(`${String(processing[0] as string).replace(/\.[^.]*$/, "")}.deserialize value`);
      expect(decode.slice(4, 5)).toEqual(["value"]);
      expect(String(decode[5])).toMatch(/invalid JSON/);
      expect(decode[6]).toBe("s");
      expect(decode.slice(7)).toEqual([null, null, null, null]);
      const described = await e.execute("DESCRIBE KSQL_PROCESSING_LOG;");
      expect(described.diagnostics).toEqual([]);
    } finally {
      await e.close();
    }
  });

  it("converts the entries an earlier release wrote (topic esql_processing_log, flat columns) when the engine opens", async () => {
    const dir = tempDir("esql-plog-");
    const old = await EmbeddedLog.open(join(dir, "log"));
    await old.createTopic("esql_processing_log", { partitions: 1 });
    await old.append("esql_processing_log", [
      {
        key: null,
        timestamp: 1234,
        value: Buffer.from(
          JSON.stringify({
            QUERY_ID: "CSAS_T_1",
            TOPIC: "s",
            PARTITION: 0,
            OFFSET: 7,
            OPERATION: "deserialize value",
            MESSAGE: "invalid JSON",
            REASON: "undecodable",
          }),
        ),
      },
    ]);
    await old.close();
    const e = await openEngine({ persistent: true, dataDir: dir });
    const log = await e.pull(
      "SELECT `TIME`, QUERY_ID, `OFFSET`, REASON, MESSAGE->`TYPE`, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE FROM KSQL_PROCESSING_LOG;",
    );
    expect(log.rows).toEqual([[1234, "CSAS_T_1", 7, "undecodable", 0, "invalid JSON"]]);
    expect(await e.log.listTopics()).not.toContain("esql_processing_log");
  });
});
