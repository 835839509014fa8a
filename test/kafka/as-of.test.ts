/**
 * FOR SYSTEM_TIME AS OF on a real broker: the history is state like any other, so an engine that lost its
 * stores restores it from the changelog topics and answers AS OF queries as the independent fold says.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { BALANCES, events, foldAsOf, insert, T0 } from "../fixtures/as-of-fold.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

describe("AS OF on Kafka", () => {
  const { kafka, tag } = useKafka("esql-as-of");

  it("answers from a history restored from the changelog", async () => {
    const prefix = `${tag("asof")}-`;
    const dataDir = tempDir("esql-kafka-as-of-");
    const evs = events(200, 11);
    const open = () => Engine.open({ dataDir, log: new NamespacedLog(kafka, prefix) });
    let engine = await open();
    try {
      expect((await engine.execute(BALANCES("1000 DAYS", 2))).diagnostics).toEqual([]);
      await engine.execute(evs.slice(0, 120).map(insert).join("\n"));
      await engine.drain();
    } finally {
      await engine.close();
    }
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    engine = await open();
    try {
      await engine.execute(evs.slice(120).map(insert).join("\n"));
      await engine.drain();
      const last = evs[evs.length - 1]!.ts;
      for (let i = 0; i <= 20; i++) {
        const t = T0 + Math.floor(((last - T0) * i) / 20);
        const got = await engine.pull(`SELECT * FROM balances FOR SYSTEM_TIME AS OF ${t};`);
        expect(got.diagnostics).toEqual([]);
        expect(new Map(got.rows.map((r) => [r[0] as string, [r[1], r[2]] as [number, number]]))).toEqual(
          foldAsOf(evs, t),
        );
      }
    } finally {
      await engine.close();
    }
  }, 120_000);
});
