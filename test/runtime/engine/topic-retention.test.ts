import { join } from "node:path";
import { expect, it } from "vitest";
import { EmbeddedLog } from "../../../src/index.ts";
import { encodeRecord, readAll, sourceForTopic } from "../../../runtime/testing/records.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

/**
 * Topics a statement creates get ksqlDB's settings (RETENTION_MS; tables compacted), the embedded log applies
 * them, and a query whose position was deleted by retention goes on from the earliest record left.
 */
it("applies RETENTION_MS to a stream's topic; a query behind the log start resumes at the earliest record", async () => {
  const dir = tempDir("esql-retention-");
  const log = await EmbeddedLog.open(join(dir, "log"), { cleanupIntervalMs: 0 });
  const open = () =>
    openEngine({
      persistent: true,
      dataDir: dir,
      log,
      properties: { "auto.offset.reset": "earliest" },
      processingLogStream: false,
    });
  try {
    let engine = await open();
    const script = `CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', partitions=1, value_format='JSON', retention_ms=60000);
      CREATE TABLE t (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='t', partitions=1, value_format='JSON');
      CREATE STREAM copied AS SELECT * FROM s;`;
    expect((await engine.execute(script)).diagnostics).toEqual([]);
    expect((await log.describeTopic("s"))?.config).toEqual({ retentionMs: 60000 });
    expect((await log.describeTopic("t"))?.config).toEqual({ cleanupPolicy: "compact" });
    await engine.drain();
    const source = sourceForTopic(engine.catalog, "s")!;
    await engine.close();

    // While the query is stopped: two old records, one new, each its own append (chunk); retention runs.
    const now = Date.now();
    for (const [v, ts] of [
      [1, now - 3_600_000],
      [2, now - 3_600_000],
      [3, now],
    ] as const) {
      await log.append("s", [encodeRecord(source, { key: "a", value: { V: v }, timestamp: ts })]);
    }
    expect((await log.cleanup(now)).deletedRecords).toBe(2);
    expect(await log.beginningOffset("s", 0)).toBe(2);

    engine = await open();
    await engine.drain();
    const copied = (await readAll(log, "COPIED")).map((r) => JSON.parse(r.value!.toString()) as unknown);
    expect(copied).toEqual([{ V: 3 }]);
    await engine.close();
  } finally {
    await log.close();
  }
});
