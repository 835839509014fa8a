/**
 * Replay is exact: the same events give the same tables for 1, 2, 4 and 8 partitions, caught up from
 * history or folded as they arrive, and nothing is dropped as late on catch-up through a repartition.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EmbeddedLog } from "../../../src/index.ts";
import { expectDirectFold, foldScenario, TABLES } from "../../fixtures/replay-scenario.ts";
import { tempDir } from "../../fixtures/temp.ts";

const dir = tempDir("esql-replay-");

async function fold(seed: number, partitions: number, chunk = 0) {
  const folder = mkdtempSync(join(dir, `p${partitions}-`));
  const log = await EmbeddedLog.open(join(folder, "log"));
  try {
    return await foldScenario({ dataDir: folder, log }, seed, partitions, chunk);
  } finally {
    await log.close();
  }
}

describe("replay is exact", { timeout: 180_000 }, () => {
  for (const seed of [1, 7]) {
    it(`seed ${seed}: every partition count, caught up or live, gives the tables a direct fold gives`, async () => {
      const one = await fold(seed, 1);
      expectDirectFold(one);
      for (const [partitions, chunk] of [
        [2, 0],
        [4, 0],
        [8, 0],
        [4, 150],
      ] as const) {
        const other = await fold(seed, partitions, chunk);
        expect(other.late, `${partitions} partitions: late records`).toBe(0);
        for (const t of TABLES) expect(other.tables[t], `${t} over ${partitions} partitions`).toEqual(one.tables[t]);
        expectDirectFold(other);
      }
    });
  }
});
