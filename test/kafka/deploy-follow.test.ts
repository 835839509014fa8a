/**
 * A single running instance on Kafka (no service id) follows deploy steps another process records in its command
 * topic live: after `esql apply` elsewhere switches a rebuilt table, and after `esql rollback` elsewhere, the
 * running instance serves the version switched to within its next drains, without a restart. And `esql plan` /
 * `esql rollback` with `--brokers --service-id` read a service's command topic (compiled, nothing started) and
 * record a rollback there, which the service's instance follows.
 */
import { describe, expect, it } from "vitest";
import { applyPlan, rollback } from "../../runtime/deploy/apply.ts";
import { readDeployed, recordRollback } from "../../runtime/deploy/deployed.ts";
import { hasChanges, planFolder } from "../../runtime/deploy/plan.ts";
import { Engine as EngineClass } from "../../runtime/engine/engine.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { eventually } from "../fixtures/eventually.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";
import { expectedTotals, folder, movesSource, totals, totalsTable } from "../fixtures/totals.ts";

const SOURCE = movesSource(2);
const table = totalsTable;
const N = 2000;
const expected = (f: "sum" | "count") => expectedTotals(f, N);

describe("a single Kafka instance follows deploys recorded elsewhere", () => {
  const { kafka, tag } = useKafka("esql-deploy-follow");

  it("serves the switched and the rolled-back version without a restart", { timeout: 180_000 }, async () => {
    const prefix = `${tag("follow")}-`;
    const serving = await openEngine({
      persistent: true,
      dataDir: tempDir("esql-follow-a-"),
      log: new NamespacedLog(kafka, prefix),
    });
    await applyPlan(serving, planFolder(folder(SOURCE, table("SUM(amount)")), serving));
    await serving.log.append(
      "moves",
      Array.from({ length: N }, (_, i) => ({
        key: Buffer.from(`a${i % 7}`),
        value: Buffer.from(`{"AMOUNT":${i % 10}}`),
      })),
    );
    await serving.drain();
    expect(await totals(serving)).toBe(expected("sum"));

    // Another process deploys (as `esql apply --brokers` does: its own engine on the same command topic).
    const deployer = await openEngine({
      persistent: true,
      dataDir: tempDir("esql-follow-b-"),
      log: new NamespacedLog(kafka, prefix),
    });
    const drainLoop = async (until: () => Promise<boolean>, what: string) =>
      eventually(
        async () => {
          await serving.drain();
          return until();
        },
        60_000,
        async () => `${what}: ${await totals(serving)}`,
        200,
      );
    await applyPlan(deployer, planFolder(folder(SOURCE, table("COUNT(*)")), deployer));
    await drainLoop(async () => (await totals(serving)) === expected("count"), "after the switch elsewhere");
    expect(serving.catalog.source("TOTALS")?.topic).toBe("TOTALS__v2");

    expect(await rollback(deployer, "totals")).toBe(1);
    await drainLoop(async () => (await totals(serving)) === expected("sum"), "after the rollback elsewhere");
    expect(serving.catalog.source("TOTALS")?.topic).toBe("TOTALS");
    await deployer.close();
    await serving.close();
  });

  it(
    "plan and rollback address a service's deployment (--service-id) from its command topic, starting nothing",
    { timeout: 180_000 },
    async () => {
      const t = tag("svc");
      const serviceId = `follow-${t}`;
      const source = SOURCE.replace("'moves'", `'moves_${t}'`);
      const instance = await EngineClass.open({
        dataDir: tempDir("esql-follow-svc-"),
        log: kafka,
        cluster: { serviceId, instanceId: "a", sessionTimeoutMs: 6000 },
      });
      try {
        await applyPlan(instance, planFolder(folder(source, table("SUM(amount)")), instance));
        await kafka.append(
          `moves_${t}`,
          Array.from({ length: N }, (_, i) => ({
            key: Buffer.from(`a${i % 7}`),
            value: Buffer.from(`{"AMOUNT":${i % 10}}`),
          })),
        );
        await instance.drain();
        await applyPlan(instance, planFolder(folder(source, table("COUNT(*)")), instance));
        expect(await totals(instance)).toBe(expected("count"));

        // What `esql plan --brokers --service-id` reads: the service's command topic, compiled; no query started.
        let deployed = await readDeployed(kafka, serviceId);
        expect(hasChanges(planFolder(folder(source, table("COUNT(*)")), deployed))).toBe(false);
        const changed = planFolder(folder(source, table("MAX(amount)")), deployed);
        expect(changed.items.map((i) => `${i.name}:${i.action}`)).toEqual(["MOVES:unchanged", "TOTALS:rebuild"]);
        // The single-instance command topic is another deployment: there, everything would be new.
        const single = await readDeployed(kafka, undefined);
        expect(single.catalog.source("TOTALS")).toBeUndefined();

        // `esql rollback --brokers --service-id`: one recorded switch, which the instance follows in its next drain.
        expect(await recordRollback(deployed, "totals")).toBe(1);
        await eventually(
          async () => {
            await instance.drain();
            return (await totals(instance)) === expected("sum");
          },
          60_000,
          async () => `after the rollback: ${await totals(instance)}`,
          200,
        );
        deployed = await readDeployed(kafka, serviceId);
        await expect(recordRollback(deployed, "nothing")).rejects.toThrow(/no deployed stream or table named nothing/);
      } finally {
        await instance.close();
      }
    },
  );
});
