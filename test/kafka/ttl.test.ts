/**
 * Row TTL on a real broker: groups not updated for the TTL expire with one tombstone each, as a record-by-record
 * fold says, across a restart and a restore of the lost stores from the changelog topics.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { tempDir } from "../fixtures/temp.ts";
import { STATEMENTS, PROPS, deposits, reference, append, table, outputs } from "../fixtures/ttl-fold.ts";

describe("row TTL on Kafka", () => {
  const kafka = new KafkaEventLog({ brokers: inject("kafkaBrokers").split(","), clientId: "esql-ttl" });
  afterAll(() => kafka.close());

  it("expires groups once, across a restart and a restore from the changelog", async () => {
    const prefix = `ttl-${randomBytes(3).toString("hex")}-`;
    const dataDir = tempDir("esql-kafka-ttl-");
    const ds = deposits(300, 5);
    const open = () => Engine.open({ dataDir, log: new NamespacedLog(kafka, prefix), properties: PROPS });
    let engine = await open();
    try {
      expect((await engine.execute(STATEMENTS)).diagnostics).toEqual([]);
      await append(engine, ds.slice(0, 150));
      await engine.drain();
    } finally {
      await engine.close();
    }
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    engine = await open();
    try {
      await append(engine, ds.slice(150));
      const want = reference(ds);
      expect(
        Object.values(want.outputs)
          .flat()
          .filter((v) => v === null).length,
      ).toBeGreaterThan(5);
      expect(await table(engine)).toEqual(want.table);
      expect(await outputs(engine)).toEqual(want.outputs);
    } finally {
      await engine.close();
    }
  });
});
