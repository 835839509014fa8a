/**
 * esql apply on a real broker: apply a folder, change an aggregation, plan reports the rebuild, apply it while
 * a client keeps running pull queries (every answer the old version's or the new one's), roll back, and a
 * restarted engine comes back with the same versions.
 */
import { describe, expect, it } from "vitest";
import { applyPlan, rollback } from "../../runtime/deploy/apply.ts";
import { readLedger } from "../../runtime/deploy/ledger.ts";
import { planFolder } from "../../runtime/deploy/plan.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { eventually } from "../fixtures/eventually.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";
import { expectedTotals, folder, movesSource, totals, totalsTable } from "../fixtures/totals.ts";

const SOURCE = movesSource(3);
const table = totalsTable;
const N = 3000;
const expected = (f: "sum" | "count") => expectedTotals(f, N);

describe("esql apply on Kafka", () => {
  const { kafka, tag } = useKafka("esql-deploy");
  const dataDir = tempDir("esql-kafka-deploy-");

  it("rebuilds a changed aggregation while pull queries run, then rolls back", { timeout: 180_000 }, async () => {
    const prefix = `${tag("deploy")}-`;
    const engine = await openEngine({ persistent: true, dataDir, log: new NamespacedLog(kafka, prefix) });
    try {
      await applyPlan(engine, planFolder(folder(SOURCE, table("SUM(amount)")), engine));
      const records = Array.from({ length: N }, (_, i) => ({
        key: Buffer.from(`a${i % 7}`),
        value: Buffer.from(`{"AMOUNT":${i % 10}}`),
        timestamp: i,
      }));
      await engine.log.append("moves", records);
      await engine.drain();
      expect(await totals(engine)).toBe(expected("sum"));

      const plan = planFolder(folder(SOURCE, table("COUNT(*)")), engine);
      expect(plan.items.map((i) => `${i.name}:${i.action}`)).toEqual(["MOVES:unchanged", "TOTALS:rebuild"]);

      const answers: string[] = [];
      let stop = false;
      const client = (async () => {
        while (!stop) {
          try {
            answers.push(await totals(engine));
          } catch (e) {
            answers.push(`error: ${(e as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await applyPlan(engine, plan);
      // The client's answers switch to the new version once it serves.
      await eventually(
        async () => answers.at(-1) === expected("count"),
        30_000,
        async () => `the last answer is ${answers.at(-1)}`,
        5,
      );
      stop = true;
      await client;
      const odd = answers.filter((a) => a !== expected("sum") && a !== expected("count"));
      expect(odd).toEqual([]);
      expect(answers).toContain(expected("sum"));
      expect(answers.at(-1)).toBe(expected("count"));
      expect(await engine.log.describeTopic("TOTALS__v2")).toBeDefined();

      expect(await rollback(engine, "TOTALS")).toBe(1);
      expect(await totals(engine)).toBe(expected("sum"));
    } finally {
      await engine.close();
    }
    const again = await openEngine({ persistent: true, dataDir, log: new NamespacedLog(kafka, prefix) });
    try {
      expect(await totals(again)).toBe(expected("sum"));
      const t = readLedger(again.catalog, again.deploySteps).get("TOTALS")!;
      expect(t.versions.map((v) => `${v.version}:${v.state}`)).toEqual(["1:serving", "2:kept"]);
      // The folder still says COUNT: apply switches forward to the kept version 2.
      const plan = planFolder(folder(SOURCE, table("COUNT(*)")), again);
      expect(plan.items.map((i) => `${i.name}:${i.action}`)).toEqual(["MOVES:unchanged", "TOTALS:switch"]);
      await applyPlan(again, plan);
      expect(await totals(again)).toBe(expected("count"));
    } finally {
      await again.close();
    }
  });
});
