/**
 * START_FROM on a real broker: a timestamp resolves through ListOffsets by time, explicit offsets and
 * `latest` as on the embedded log, and a restarted engine continues from the offsets resolved at the start.
 */
import { describe, expect, it } from "vitest";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { collectFrom, deposit, DEPOSITS, folded } from "../fixtures/deposits.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

describe("START_FROM on Kafka", () => {
  const { kafka, tag } = useKafka("esql-start-from");

  it("starts from a timestamp, explicit offsets or the latest offsets, and keeps them across a restart", async () => {
    const prefix = `${tag("start-from")}-`;
    const dataDir = tempDir("esql-kafka-start-from-");
    const log = new NamespacedLog(kafka, prefix);
    const first = await openEngine({ dataDir, log, persistent: true });
    try {
      expect((await first.execute(DEPOSITS)).diagnostics).toEqual([]);
      await deposit(first, [1, 2, 3, 4, 5, 6, 7, 8], 0);
      const r = await first.execute(
        [
          collectFrom("from_time", "'1970-01-01T00:00:05Z'"),
          collectFrom("from_offsets", "'offsets:0=3,1=1'"),
          collectFrom("live", "'latest'"),
        ].join("\n"),
      );
      expect(r.diagnostics).toEqual([]);
      await deposit(first, [100, 200], 20);
      expect(await folded(first, "FROM_TIME")).toEqual([6, 7, 8, 100, 200]);
      expect(await folded(first, "FROM_OFFSETS")).toEqual([4, 6, 7, 8, 100, 200]);
      expect(await folded(first, "LIVE")).toEqual([100, 200]);
      // A time after every record starts at the end.
      expect(await log.offsetForTime("deposits", 0, 1e12)).toBe(await log.endOffset("deposits", 0));
    } finally {
      await first.close();
    }
    await deposit(first, [300, 400], 30, log);
    const second = await openEngine({ dataDir, log: new NamespacedLog(kafka, prefix), persistent: true });
    try {
      expect(await folded(second, "LIVE")).toEqual([100, 200, 300, 400]);
      expect(await folded(second, "FROM_TIME")).toEqual([6, 7, 8, 100, 200, 300, 400]);
    } finally {
      await second.close();
    }
  });
});
