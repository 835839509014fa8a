/**
 * Deploying a folder in process on the embedded log: plan, apply (new, unchanged, rebuild, in place, remove),
 * pull queries running all through a rebuild's switch, rollback, and the next apply after an interrupted one.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { applyPlan, rollback } from "../../runtime/deploy/apply.ts";
import { readLedger } from "../../runtime/deploy/ledger.ts";
import { hasChanges, planFolder, type DeployPlan } from "../../runtime/deploy/plan.ts";
import { tempDir } from "../fixtures/temp.ts";

const root = tempDir("esql-deploy-");

const SOURCE = `CREATE STREAM moves (account STRING KEY, amount BIGINT, kind STRING)
  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);`;
const TOTALS_SUM = `CREATE TABLE totals AS SELECT account, SUM(amount) AS total FROM moves GROUP BY account;`;
const TOTALS_COUNT = `CREATE TABLE totals AS SELECT account, COUNT(*) AS total FROM moves GROUP BY account;`;
const BIG = `CREATE STREAM big AS SELECT account, amount FROM moves WHERE amount > 50;`;

const folder = (...texts: string[]) => texts.map((text, i) => ({ path: `${i}.esql`, text }));
const plan = (engine: Engine, ...texts: string[]): DeployPlan => planFolder(folder(...texts), engine);
const summary = (p: DeployPlan) => p.items.map((i) => `${i.name}:${i.action}`).sort();

async function load(engine: Engine, n: number, from = 0): Promise<void> {
  const records = [];
  for (let i = from; i < from + n; i++) {
    records.push({
      key: Buffer.from(`a${i % 5}`),
      value: Buffer.from(JSON.stringify({ AMOUNT: i % 100, KIND: "x" })),
      timestamp: i,
    });
  }
  await engine.log.append("moves", records);
}

async function totals(engine: Engine): Promise<Record<string, number>> {
  const r = await engine.pull("SELECT * FROM totals;");
  if (r.diagnostics.length > 0) throw new Error(r.diagnostics[0]!.message);
  return Object.fromEntries(
    r.rows.map((row) => [row[0] as string, row[1] as number]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
  );
}

function expected(n: number, f: "sum" | "count"): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[`a${i % 5}`] = (out[`a${i % 5}`] ?? 0) + (f === "sum" ? i % 100 : 1);
  return out;
}

describe("esql apply on the embedded log", () => {
  it(
    "applies, rebuilds while pull queries run, rolls back and switches forward again",
    { timeout: 120_000 },
    async () => {
      const engine = await Engine.open({ dataDir: join(root, "a") });
      try {
        let p = plan(engine, SOURCE, TOTALS_SUM, BIG);
        expect(p.errors).toEqual([]);
        expect(summary(p)).toEqual(["BIG:new", "MOVES:new", "TOTALS:new"]);
        await applyPlan(engine, p);
        const N = 20_000;
        await load(engine, N);
        await engine.drain();
        expect(await totals(engine)).toEqual(expected(N, "sum"));

        p = plan(engine, SOURCE, TOTALS_SUM, BIG);
        expect(hasChanges(p)).toBe(false);
        // Formatting and comments are not changes.
        p = plan(
          engine,
          SOURCE,
          `-- totals\nCREATE TABLE totals AS\n  SELECT account, SUM(amount) AS total\n  FROM moves\n  GROUP BY account;`,
          BIG,
        );
        expect(hasChanges(p)).toBe(false);

        p = plan(engine, SOURCE, TOTALS_COUNT, BIG);
        expect(summary(p)).toEqual(["BIG:unchanged", "MOVES:unchanged", "TOTALS:rebuild"]);
        expect(p.items.find((i) => i.name === "TOTALS")!.reason).toMatch(
          /aggregates changed; the aggregation: SUM\(AMOUNT\) became COUNT\(\*\) \(the stored state would be misread\)/,
        );

        // Pull queries all through the rebuild: each answer is the old version's or the new one's.
        const old = expected(N, "sum");
        const neu = expected(N, "count");
        const answers = { old: 0, new: 0, other: [] as unknown[] };
        let stop = false;
        const loop = (async () => {
          while (!stop) {
            try {
              const t = await totals(engine);
              if (JSON.stringify(t) === JSON.stringify(old)) answers.old++;
              else if (JSON.stringify(t) === JSON.stringify(neu)) answers.new++;
              else answers.other.push(t);
            } catch (e) {
              answers.other.push((e as Error).message);
            }
            await new Promise((r) => setImmediate(r));
          }
        })();
        const result = await applyPlan(engine, p);
        await new Promise((r) => setTimeout(r, 50));
        stop = true;
        await loop;
        expect(result.done).toEqual(["TOTALS: rebuilt as version 2"]);
        expect(answers.other).toEqual([]);
        expect(answers.old).toBeGreaterThan(0);
        expect(answers.new).toBeGreaterThan(0);
        expect(await totals(engine)).toEqual(neu);
        const ledger = readLedger(engine.catalog, engine.deploySteps).get("TOTALS")!;
        expect(ledger.current).toBe(2);
        expect(ledger.versions.map((v) => `${v.version}:${v.state}`)).toEqual(["1:kept", "2:serving"]);

        // Both versions keep running: new events reach both, and rollback needs no replay.
        await load(engine, 100, N);
        await engine.drain();
        expect(await totals(engine)).toEqual(expected(N + 100, "count"));
        expect(await rollback(engine, "totals")).toBe(1);
        expect(await totals(engine)).toEqual(expected(N + 100, "sum"));
        // The folder still says COUNT: the kept version 2 is switched back to.
        p = plan(engine, SOURCE, TOTALS_COUNT, BIG);
        expect(summary(p)).toContain("TOTALS:switch");
        await applyPlan(engine, p);
        expect(await totals(engine)).toEqual(expected(N + 100, "count"));
      } finally {
        await engine.close();
      }
      // A restarted engine has the same catalog and versions.
      const again = await Engine.open({ dataDir: join(root, "a") });
      try {
        expect(await totals(again)).toEqual(expected(N_TOTAL, "count"));
        expect(hasChanges(plan(again, SOURCE, TOTALS_COUNT, BIG))).toBe(false);
      } finally {
        await again.close();
      }
    },
  );

  it(
    "replaces a stateless stream in place, keeps versions as set, drops only when allowed",
    { timeout: 120_000 },
    async () => {
      const engine = await Engine.open({ dataDir: join(root, "b") });
      try {
        await applyPlan(engine, plan(engine, SOURCE, TOTALS_SUM, BIG));
        await load(engine, 1000);
        await engine.drain();
        const bigWider = `CREATE STREAM big AS SELECT account, amount, kind FROM moves WHERE amount > 90;`;
        let p = plan(engine, SOURCE, TOTALS_SUM, bigWider);
        expect(summary(p)).toEqual(["BIG:in-place", "MOVES:unchanged", "TOTALS:unchanged"]);
        await applyPlan(engine, p);
        await load(engine, 100, 1000);
        await engine.drain();
        const end = (await engine.log.endOffset("BIG", 0)) + (await engine.log.endOffset("BIG", 1));
        // 1000 events with amount > 50: 490; then 100 more with amount > 90: 9.
        expect(end).toBe(490 + 9);

        // Three rebuilds with keep = 2: version 1 and 2 are retired (terminated, out of the catalog).
        const avg = (f: string) => `CREATE TABLE totals AS SELECT account, ${f} AS total FROM moves GROUP BY account;`;
        for (const f of ["COUNT(*)", "MAX(amount)", "MIN(amount)"])
          await applyPlan(engine, plan(engine, SOURCE, avg(f), bigWider), { keep: 2 });
        const ledger = readLedger(engine.catalog, engine.deploySteps).get("TOTALS")!;
        expect(ledger.versions.map((v) => `${v.version}:${v.state}`)).toEqual(["3:kept", "4:serving"]);
        expect(engine.catalog.source("TOTALS__V1")).toBeUndefined();
        expect([...engine.queries.keys()].filter((q) => q.includes("TOTALS"))).toHaveLength(2);

        p = plan(engine, SOURCE, avg("MIN(amount)"));
        expect(summary(p)).toEqual(["BIG:remove", "MOVES:unchanged", "TOTALS:unchanged"]);
        expect((await applyPlan(engine, p)).keptRemoved).toEqual(["BIG"]);
        expect(engine.catalog.source("BIG")).toBeDefined();
        await applyPlan(engine, p, { allowDrop: true });
        expect(engine.catalog.source("BIG")).toBeUndefined();
        expect(hasChanges(plan(engine, SOURCE, avg("MIN(amount)")))).toBe(false);
      } finally {
        await engine.close();
      }
    },
  );

  it("rebuilds what reads a rebuilt table, after the table's switch", { timeout: 120_000 }, async () => {
    const engine = await Engine.open({ dataDir: join(root, "d") });
    const RICH = `CREATE TABLE rich AS SELECT account, total FROM totals WHERE total > 1000;`;
    try {
      await applyPlan(engine, plan(engine, SOURCE, TOTALS_SUM, RICH));
      await load(engine, 1000);
      await engine.drain();
      const rich = async () => (await engine.pull("SELECT account FROM rich;")).rows.map((r) => r[0]).sort();
      // Sums per account: about 9,900 each; counts: 200 each.
      expect(await rich()).toEqual(["a0", "a1", "a2", "a3", "a4"]);
      const p = plan(engine, SOURCE, TOTALS_COUNT, RICH);
      expect(p.items.map((i) => `${i.name}:${i.action}:${i.reason ?? ""}`)).toContain(
        "RICH:rebuild:reads TOTALS, which is rebuilt",
      );
      await applyPlan(engine, p);
      expect(engine.catalog.source("RICH")!.topic).toBe("RICH__v2");
      expect(await rich()).toEqual([]);
      // New events flow through the new versions.
      await load(engine, 5000, 1000);
      await engine.drain();
      expect(await rich()).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    } finally {
      await engine.close();
    }
  });

  it("replaces an aggregation in place when only its HAVING and projection change, keeping its state", async () => {
    const engine = await Engine.open({ dataDir: join(root, "f") });
    try {
      await applyPlan(engine, plan(engine, SOURCE, TOTALS_SUM));
      await load(engine, 100);
      await engine.drain();
      const having = `CREATE TABLE totals AS SELECT account, SUM(amount) AS total, AS_VALUE(account) AS who
        FROM moves GROUP BY account HAVING SUM(amount) > 0;`;
      const p = plan(engine, SOURCE, having);
      expect(p.items.map((i) => `${i.name}:${i.action}:${i.reason ?? ""}`)).toContain(
        "TOTALS:in-place:HAVING, SELECT columns changed, which it can take in place: it keeps its state and offsets; rows already written keep their old columns",
      );
      const queryId = engine.catalog.source("TOTALS")!.writtenBy;
      expect((await applyPlan(engine, p)).done).toEqual(["TOTALS: replaced in place"]);
      expect(engine.catalog.source("TOTALS")!.writtenBy).toBe(queryId);
      await load(engine, 100, 100);
      await engine.drain();
      expect(await totals(engine)).toEqual(expected(200, "sum"));
      expect((await engine.pull("SELECT who FROM totals WHERE account = 'a1';")).rows).toEqual([["a1"]]);
      expect(hasChanges(plan(engine, SOURCE, having))).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it("replays an in-place replacement on open without reading its input again", { timeout: 60_000 }, async () => {
    const dataDir = join(root, "e");
    let engine = await Engine.open({ dataDir });
    const wider = `CREATE STREAM big AS SELECT account, amount, kind FROM moves WHERE amount > 90;`;
    try {
      await applyPlan(engine, plan(engine, SOURCE, BIG));
      await load(engine, 500);
      await engine.drain();
      await applyPlan(engine, plan(engine, SOURCE, wider));
    } finally {
      await engine.close();
    }
    engine = await Engine.open({ dataDir });
    try {
      expect(await engine.drain()).toBe(0);
      expect(hasChanges(plan(engine, SOURCE, wider))).toBe(false);
      await load(engine, 100, 500);
      expect(await engine.drain()).toBe(100);
    } finally {
      await engine.close();
    }
  });

  it("reports errors: compile errors, changed declared sources, unsupported statements; adds columns in place", async () => {
    const engine = await Engine.open({ dataDir: join(root, "c") });
    try {
      await applyPlan(engine, plan(engine, SOURCE));
      expect(plan(engine, SOURCE, "CREATE TABLE t AS SELECT nope FROM moves GROUP BY nope;").errors).not.toEqual([]);
      expect(plan(engine, SOURCE, "DROP STREAM moves;").errors[0]!.diagnostic.code).toBe("DEPLOY001");
      // A declared source may gain columns at the end (in place, as CREATE OR REPLACE); nothing else.
      const retyped = plan(engine, SOURCE.replace("kind STRING", "kind INT"));
      expect(retyped.errors[0]!.diagnostic.message).toMatch(
        /declaration of the source MOVES \(the value columns: KIND STRING is changed, missing or moved/,
      );
      const added = plan(engine, SOURCE.replace("kind STRING", "kind STRING, extra INT"));
      expect(added.errors).toEqual([]);
      expect(summary(added)).toEqual(["MOVES:in-place"]);
      await applyPlan(engine, added);
      expect(engine.catalog.source("MOVES")!.columns.map((c) => c.name)).toEqual([
        "ACCOUNT",
        "AMOUNT",
        "KIND",
        "EXTRA",
      ]);
      expect(hasChanges(plan(engine, SOURCE.replace("kind STRING", "kind STRING, extra INT")))).toBe(false);
    } finally {
      await engine.close();
    }
  });
});

const N_TOTAL = 20_100;
