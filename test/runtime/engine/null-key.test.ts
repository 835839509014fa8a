import { join } from "node:path";
import { expect, it } from "vitest";
import { EmbeddedLog } from "../../../src/index.ts";
import { decodeRecord, produceAndDrain, readAll, sourceForTopic } from "../../../runtime/testing/records.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

/** As ksqlDB: a record without key keeps none through a query that does not re-key it; PARTITION BY gives it one. */
it("passes a null key of a multi-column key through, and PARTITION BY computes one", async () => {
  const dir = tempDir("esql-nullkey-");
  const log = await EmbeddedLog.open(join(dir, "log"));
  const engine = await openEngine({ dataDir: dir, log, persistent: false });
  try {
    const script = `CREATE STREAM s (k INT KEY, k2 INT KEY, v INT) WITH (kafka_topic='s', format='JSON', partitions=1);
      CREATE STREAM copied AS SELECT * FROM s;
      CREATE STREAM filtered AS SELECT k, k2, v + 1 AS w FROM s WHERE v > 0;
      CREATE STREAM rekeyed AS SELECT * FROM s PARTITION BY k, k2;`;
    expect((await engine.execute(script)).diagnostics).toEqual([]);
    await produceAndDrain(engine, "s", [
      { key: { K: 1, K2: 2 }, value: { V: 1 } },
      { key: { K: null, K2: null }, value: { V: 2 } },
      { key: null, value: { V: 3 } },
    ]);
    const keys = async (topic: string) =>
      (await readAll(engine.log, topic)).map((r) => decodeRecord(sourceForTopic(engine.catalog, topic), r).key);
    const struct = { K: 1, K2: 2 };
    const nulls = { K: null, K2: null };
    expect(await keys("COPIED")).toEqual([struct, nulls, null]);
    expect(await keys("FILTERED")).toEqual([struct, nulls, null]);
    expect(await keys("REKEYED")).toEqual([struct, nulls, nulls]);
  } finally {
    await engine.close();
    await log.close();
  }
});
