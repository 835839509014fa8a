/**
 * START_FROM: a new persistent query starts from the earliest or latest offsets, a timestamp or explicit
 * offsets; the decision is in the plan (EXPLAIN shows it), and a restarted engine continues from the offsets
 * the query resolved when it started, it does not seek again.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { formatTopology } from "../../../src/compile.ts";
import { planFolder } from "../../../runtime/deploy/plan.ts";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { openEngine } from "../../fixtures/engine.ts";
import { collectFrom, deposit, DEPOSITS, folded } from "../../fixtures/deposits.ts";
import { tempDir } from "../../fixtures/temp.ts";

async function ok(engine: Engine, sql: string): Promise<void> {
  expect((await engine.execute(sql)).diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual([]);
}

describe("START_FROM", () => {
  it("starts from the earliest or latest offsets, a timestamp, or explicit offsets", async () => {
    const engine = await openEngine();
    await ok(engine, DEPOSITS);
    await deposit(engine, [1, 2, 3, 4, 5, 6, 7, 8], 0);
    await ok(
      engine,
      [
        collectFrom("from_earliest", "'earliest'"),
        collectFrom("from_latest", "'LATEST'"),
        collectFrom("from_time", "'1970-01-01T00:00:05Z'"),
        collectFrom("from_millis", "3000"),
        collectFrom("from_offsets", "'offsets:0=3,1=1'"),
      ].join("\n"),
    );
    // Appended after the queries started: every query folds these.
    await deposit(engine, [100, 200], 20);
    expect(await folded(engine, "FROM_EARLIEST")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 100, 200]);
    expect(await folded(engine, "FROM_LATEST")).toEqual([100, 200]);
    // Records at or after 5 s: amounts 6.. (timestamp (i) s for amount i + 1).
    expect(await folded(engine, "FROM_TIME")).toEqual([6, 7, 8, 100, 200]);
    expect(await folded(engine, "FROM_MILLIS")).toEqual([4, 5, 6, 7, 8, 100, 200]);
    // Partition 0 holds 1, 3, 5, 7 (offsets 0..3), partition 1 holds 2, 4, 6, 8.
    expect(await folded(engine, "FROM_OFFSETS")).toEqual([4, 6, 7, 8, 100, 200]);
  });

  it("is in the plan: EXPLAIN shows it", async () => {
    const engine = await openEngine();
    await ok(engine, DEPOSITS);
    const r = await engine.execute(`EXPLAIN ${collectFrom("t", "'2024-05-01T00:00:00Z'")}`);
    expect(r.diagnostics).toEqual([]);
    const explained = r.results[0]!.kind === "ok" ? r.results[0]!.compiled?.topology : undefined;
    expect(explained?.start).toEqual({ kind: "timestamp", timestamp: Date.UTC(2024, 4, 1) });
    expect(formatTopology(explained!)).toContain(
      "Starts from: the first records at or after 2024-05-01T00:00:00.000Z (1714521600000) (START_FROM)",
    );
  });

  it("does not seek again after a restart: the offsets resolved at the start are committed", async () => {
    const dataDir = tempDir("esql-start-from-");
    const first = await openEngine({ dataDir, persistent: true });
    await ok(first, DEPOSITS);
    await deposit(first, [1, 2], 0);
    await ok(first, collectFrom("live", "'latest'"));
    await first.close();
    // Written while the engine was down: after the start, so the query folds them on its restart.
    const log = await EmbeddedLog.open(join(dataDir, "log"));
    await deposit(first, [3, 4], 10, log);
    await log.close();
    const second = await openEngine({ dataDir, persistent: true });
    expect(await folded(second, "LIVE")).toEqual([3, 4]);
  });

  it("esql plan shows where a new query starts, and a changed START_FROM alone changes nothing", async () => {
    const engine = await openEngine();
    const folder = (start: string) => [
      { path: "a.esql", text: DEPOSITS },
      { path: "b.esql", text: collectFrom("balances", start) },
    ];
    const first = planFolder(folder("'latest'"), engine);
    expect(first.errors).toEqual([]);
    expect(first.items.map((i) => `${i.name} ${i.action} ${i.start ?? "-"}`)).toEqual([
      "DEPOSITS new -",
      "BALANCES new latest",
    ]);
    await ok(engine, DEPOSITS + collectFrom("balances", "'latest'"));
    const again = planFolder(folder("'2024-05-01'"), engine);
    expect(again.items.map((i) => `${i.name} ${i.action}`)).toEqual(["DEPOSITS unchanged", "BALANCES unchanged"]);
  });

  it("reports a bad START_FROM where it is", async () => {
    const engine = await openEngine();
    await ok(engine, DEPOSITS);
    const bad = async (sql: string) =>
      (await engine.execute(sql)).diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`);
    expect(await bad(`CREATE STREAM s1 WITH (START_FROM = 'yesterday') AS SELECT * FROM deposits;`)).toEqual([
      `ESQL-S016 1:24 Invalid START_FROM "yesterday": not earliest, latest, a timestamp or offsets`,
    ]);
    expect(await bad(`CREATE STREAM s2 WITH (START_FROM = 'offsets:0=1,x') AS SELECT * FROM deposits;`)).toEqual([
      `ESQL-S016 1:24 Invalid START_FROM "offsets:0=1,x": expected <partition>=<offset>, found "x"`,
    ]);
    expect(await bad(`CREATE STREAM s3 WITH (START_FROM = 'offsets:5=1') AS SELECT * FROM deposits;`)).toEqual([
      `RUN001 1:1 START_FROM names partition 5 of topic deposits, which has 2 partition(s) (0 to 1)`,
    ]);
  });
});
