/**
 * Replay is exact on a real broker too: the scenario of `test/fixtures/replay-scenario.ts` gives the same
 * tables over 1 and 4 partitions, caught up and live, and those a direct fold over the events gives.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { expectDirectFold, foldScenario, TABLES } from "../fixtures/replay-scenario.ts";

describe("replay is exact on Kafka", { timeout: 300_000 }, () => {
  const kafka = new KafkaEventLog({ brokers: inject("kafkaBrokers").split(","), clientId: "esql-replay" });
  const dir = mkdtempSync(join(tmpdir(), "esql-kafka-replay-"));
  afterAll(async () => {
    await kafka.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fold = (partitions: number, chunk = 0) => {
    const prefix = `replay-${randomBytes(3).toString("hex")}-`;
    return foldScenario(
      { dataDir: mkdtempSync(join(dir, `p${partitions}-`)), log: new NamespacedLog(kafka, prefix) },
      3,
      partitions,
      chunk,
    );
  };

  it("1 and 4 partitions, caught up and live, give the tables a direct fold gives", async () => {
    const one = await fold(1);
    expect(one.late).toBe(0);
    expectDirectFold(one);
    for (const [partitions, chunk] of [
      [4, 0],
      [4, 400],
    ] as const) {
      const other = await fold(partitions, chunk);
      expect(other.late, `${partitions} partitions: late records`).toBe(0);
      for (const t of TABLES) expect(other.tables[t], `${t} over ${partitions} partitions`).toEqual(one.tables[t]);
    }
  });
});
