/**
 * Replay is exact on a real broker too: the scenario of `test/fixtures/replay-scenario.ts` gives the same
 * tables over 1 and 4 partitions, caught up and live, and those a direct fold over the events gives.
 */
import { describe, expect, it } from "vitest";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { expectDirectFold, foldScenario, TABLES } from "../fixtures/replay-scenario.ts";
import { tempDir } from "../fixtures/temp.ts";

describe("replay is exact on Kafka", { timeout: 300_000 }, () => {
  const { kafka, tag } = useKafka("esql-replay");

  const fold = (partitions: number, chunk = 0) => {
    const prefix = `${tag("replay")}-`;
    return foldScenario(
      { dataDir: tempDir(`esql-kafka-replay-p${partitions}-`), log: new NamespacedLog(kafka, prefix) },
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
