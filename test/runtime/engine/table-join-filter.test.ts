import { join } from "node:path";
import { expect, it } from "vitest";
import { EmbeddedLog } from "../../../src/index.ts";
import { decodeRecord, produceAndDrain, readAll, sourceForTopic } from "../../../runtime/testing/records.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

/**
 * A table-table join tells what each result replaces, so a WHERE after it writes a tombstone only for a key
 * that leaves the filtered table, never for one that was not in it (as Kafka Streams' table filter with old
 * values).
 */
it("a filter over a table-table join deletes only rows it had emitted", async () => {
  const dir = tempDir("esql-ttfilter-");
  const log = await EmbeddedLog.open(join(dir, "log"));
  const engine = await openEngine({
    dataDir: dir,
    log,
    persistent: false,
    properties: { "ksql.streams.cache.max.bytes.buffering": "0" },
  });
  try {
    const script = `CREATE TABLE l (id INT PRIMARY KEY, v INT) WITH (kafka_topic='l', format='JSON', partitions=1);
      CREATE TABLE r (id INT PRIMARY KEY, w INT) WITH (kafka_topic='r', format='JSON', partitions=1);
      CREATE TABLE big AS SELECT l.id AS id, v, w FROM l JOIN r ON l.id = r.id WHERE v > 10;`;
    expect((await engine.execute(script)).diagnostics).toEqual([]);
    await produceAndDrain(engine, "l", [{ key: 1, value: { V: 1 } }]);
    await produceAndDrain(engine, "r", [{ key: 1, value: { W: 7 } }]); // joined, filtered out: nothing
    await produceAndDrain(engine, "l", [
      { key: 1, value: { V: 2 } }, // still filtered out: nothing
      { key: 1, value: { V: 20 } }, // enters
      { key: 1, value: { V: 3 } }, // leaves: tombstone
    ]);
    await produceAndDrain(engine, "r", [{ key: 1, value: null }]); // no result to delete: nothing
    const out = (await readAll(engine.log, "BIG")).map((rec) => {
      const d = decodeRecord(sourceForTopic(engine.catalog, "BIG"), rec);
      return [d.key, d.value];
    });
    expect(out).toEqual([
      [1, { V: 20, W: 7 }],
      [1, null],
    ]);
  } finally {
    await engine.close();
    await log.close();
  }
});
