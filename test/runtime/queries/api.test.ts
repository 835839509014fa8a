import { join } from "node:path";
import { expect, it } from "vitest";
import { compileScript, EmbeddedLog, Engine } from "../../../src/index.ts";
import { tempDir } from "../../fixtures/temp.ts";

it("the package entry point compiles, runs, pulls and subscribes", async () => {
  const dir = tempDir("esql-api-");
  const log = await EmbeddedLog.open(join(dir, "log"));
  const engine = await Engine.open({ dataDir: dir, log, persistent: false });
  try {
    const script = `CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
      CREATE TABLE t AS SELECT k, MAX(v) AS top FROM s GROUP BY k;`;
    expect(compileScript(script).diagnostics).toEqual([]);
    expect((await engine.execute(script)).diagnostics).toEqual([]);
    await engine.execute("INSERT INTO s (k, v) VALUES ('a', 4); INSERT INTO s (k, v) VALUES ('a', 9);");
    await engine.drain();
    expect((await engine.pull("SELECT top FROM t WHERE k = 'a';")).rows).toEqual([[9]]);
    const sub = await engine.subscribe("SELECT v FROM s EMIT CHANGES;", { "auto.offset.reset": "earliest" });
    expect(sub.ok).toBe(true);
    if (!sub.ok) return;
    const seen: unknown[][] = [];
    for await (const row of sub.query) {
      seen.push(row);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([[4], [9]]);
  } finally {
    await engine.close();
    await log.close();
  }
});
