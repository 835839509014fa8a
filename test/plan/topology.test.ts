/**
 * The plan is the program: what runs is the topology plan the compiler emitted, a JSON value; EXPLAIN
 * describes it; the command topic records it and a restarted engine runs the recorded plan, not one
 * planned again from the SQL.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { describeRunning } from "../../runtime/query/describe.ts";
import { encodeRecord, sourceForTopic } from "../../runtime/testing/records.ts";
import { compileScript } from "../../src/compile.ts";
import { EmbeddedLog, Engine, type LogRecord } from "../../src/index.ts";
import { describePlan, formatTopology } from "../../src/physical/topology-format.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import { tempDir } from "../fixtures/temp.ts";

const GOLDEN = resolve(import.meta.dirname, "../corpus/golden");
const dir = tempDir("esql-topology-");

async function withEngine<T>(name: string, f: (engine: Engine, log: EmbeddedLog) => Promise<T>): Promise<T> {
  const folder = join(dir, name);
  const log = await EmbeddedLog.open(join(folder, "log"));
  const engine = await Engine.open({ dataDir: folder, log });
  try {
    return await f(engine, log);
  } finally {
    await engine.close();
    await log.close();
  }
}

describe("what runs is the plan", () => {
  for (const file of readdirSync(GOLDEN).filter((f) => f.endsWith(".esql"))) {
    it(`golden ${file}: each running query is its compiled plan, instantiated as written`, async () => {
      const text = readFileSync(join(GOLDEN, file), "utf8");
      const compiled = compileScript(text);
      const plans = new Map<string, TopologyPlan>();
      for (const s of compiled.statements) if (s.topology) plans.set(s.topology.queryId, s.topology);
      await withEngine(file, async (engine) => {
        await engine.execute(text);
        for (const [id, q] of engine.queries) {
          // The running stages are the plan's, processor for processor.
          expect(describeRunning(q.plan), id).toEqual(describePlan(q.plan.topology));
          // The plan the engine runs is the one `esql explain` shows for the script.
          const plan = plans.get(id);
          expect(plan, `compiled plan of ${id}`).toBeDefined();
          expect(formatTopology(q.plan.topology)).toEqual(formatTopology(plan!));
          expect(JSON.parse(JSON.stringify(q.plan.topology))).toEqual(q.plan.topology);
        }
      });
    });
  }
});

const STREAM = `CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 2);`;
const PER_PAGE = `CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;`;

/** The command-topic records an engine wrote for `statements`. */
async function recordedCommands(name: string, statements: string) {
  return withEngine(name, async (engine, log) => {
    expect((await engine.execute(statements)).diagnostics).toEqual([]);
    return log.read(engine.commandTopic, 0, 0, 100);
  });
}

/**
 * A fresh data folder whose command topic holds `commands` with each recorded plan rewritten by `edit`:
 * what an earlier (or later) release would have recorded.
 */
async function logWithCommands(
  name: string,
  commands: readonly LogRecord[],
  edit: (plan: string) => string,
): Promise<{ folder: string; log: EmbeddedLog }> {
  const folder = join(dir, name);
  const log = await EmbeddedLog.open(join(folder, "log"));
  await log.createTopic("_esql_commands", { partitions: 1 });
  await log.append(
    "_esql_commands",
    commands.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers.map((h) =>
        h.key === "esql-plan" ? { key: h.key, value: Buffer.from(edit(h.value!.toString("utf8"))) } : h,
      ),
    })),
  );
  return { folder, log };
}

describe("recorded plans", () => {
  it("a restarted engine runs the plan recorded at deploy time, not one planned again", async () => {
    // Deployed by an earlier release whose planner named the repartition topic differently: simulated by
    // rewriting the recorded plan, as that release would have recorded it.
    const commands = await recordedCommands("record", `${STREAM}\n${PER_PAGE}`);
    const { folder, log } = await logWithCommands("replay", commands, (plan) =>
      plan.replaceAll("-groupby-0-", "-legacy-grouping-"),
    );
    try {
      const engine = await Engine.open({ dataDir: folder, log });
      try {
        const source = sourceForTopic(engine.catalog, "clicks")!;
        await engine.log.append(
          "clicks",
          ["a", "b", "a", "c", "a"].map((page, i) => encodeRecord(source, { key: `u${i}`, value: { page } })),
        );
        await engine.drain();
        const running = [...engine.queries.values()][0]!;
        expect(running.plan.internalTopics.map((t) => t.name)).toEqual([
          `_esql-${running.id}-legacy-grouping-repartition`,
        ]);
        expect(await log.describeTopic(`_esql-${running.id}-legacy-grouping-repartition`)).toBeDefined();
        expect((await engine.table("PER_PAGE")).rows.map((r) => r.join("=")).sort()).toEqual(["a=3", "b=1", "c=1"]);
        // A statement deployed now gets today's plan.
        const before = new Set(engine.queries.keys());
        const r = await engine.execute(
          `CREATE TABLE per_page_now AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;`,
        );
        expect(r.diagnostics).toEqual([]);
        const fresh = [...engine.queries].find(([id]) => !before.has(id))![1];
        expect(fresh.plan.internalTopics[0]!.name).toContain("-groupby-0-");
      } finally {
        await engine.close();
      }
    } finally {
      await log.close();
    }
  });

  it("a recorded plan of another format version stops the engine with the statement and the version", async () => {
    const commands = await recordedCommands("record-v", `${STREAM}\n${PER_PAGE}`);
    const { folder, log } = await logWithCommands("future", commands, (plan) =>
      plan.replace(/"version":3/, '"version":99'),
    );
    try {
      const opening = Engine.open({ dataDir: folder, log });
      await expect(opening).rejects.toThrow(/CREATE TABLE per_page[\s\S]*format version 99/);
    } finally {
      await log.close();
    }
  });

  /** Opens an engine on `commands` (plans rewritten by `edit`) over a topic that already holds clicks. */
  async function replayOverClicks(name: string, commands: readonly LogRecord[], edit: (plan: string) => string) {
    const { folder, log } = await logWithCommands(name, commands, edit);
    await log.createTopic("clicks", { partitions: 2 });
    const compiled = compileScript(STREAM);
    await log.append(
      "clicks",
      ["a", "b", "a"].map((page, i) =>
        encodeRecord(compiled.catalog.source("CLICKS")!, { key: `u${i}`, value: { page } }),
      ),
    );
    const engine = await Engine.open({ dataDir: folder, log });
    await engine.drain();
    const rows = (await engine.table("PER_PAGE")).rows.map((r) => r.join("=")).sort();
    const execution = [...engine.queries.values()][0]!.plan.topology.execution;
    await engine.close();
    await log.close();
    return { rows, execution };
  }

  it("the session properties that change execution are in the plan, and a restarted engine runs the plan's", async () => {
    const commands = await recordedCommands(
      "record-exec",
      `SET 'auto.offset.reset' = 'earliest';\n${STREAM}\n${PER_PAGE}`,
    );
    const plan = JSON.parse(
      commands
        .at(-1)!
        .headers.find((h) => h.key === "esql-plan")!
        .value!.toString("utf8"),
    );
    expect(plan.execution).toEqual({ offsetReset: "earliest", guarantee: "at_least_once", recordCache: true });
    // As recorded: the query reads the clicks already there.
    expect((await replayOverClicks("exec-as-recorded", commands, (p) => p)).rows).toEqual(["a=2", "b=1"]);
    // The recorded plan says `latest` (its properties header still says `earliest`): the plan decides.
    const latest = await replayOverClicks("exec-latest", commands, (p) =>
      p.replace('"offsetReset":"earliest"', '"offsetReset":"latest"'),
    );
    expect(latest.rows).toEqual([]);
  });

  it("a plan of the previous format (no execution settings) runs with the properties it was recorded with", async () => {
    const commands = await recordedCommands("record-v2", `SET 'auto.offset.reset' = 'latest';\n${STREAM}\n${PER_PAGE}`);
    const v2 = await replayOverClicks("exec-v2", commands, (p) => {
      const { execution: _, ...rest } = JSON.parse(p) as TopologyPlan;
      return JSON.stringify({ ...rest, version: 2 });
    });
    expect(v2.execution).toEqual({ offsetReset: "latest", guarantee: "at_least_once", recordCache: true });
    expect(v2.rows).toEqual([]);
  });
});

describe("rewrite rules change what runs", () => {
  const JOIN = `
CREATE STREAM clicks (id STRING KEY, user_id STRING, x INT) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 2);
CREATE STREAM views (user_id STRING KEY, page STRING) WITH (kafka_topic = 'views', value_format = 'JSON', partitions = 2);
CREATE STREAM pairs AS SELECT c.user_id AS uid, c.x, v.page FROM clicks c JOIN views v WITHIN 1 HOUR ON c.user_id = v.user_id
  WHERE c.x > 5 AND v.page <> 'home';`;

  it("a WHERE conjunct over one side of a join is filtered before that side's repartition, and before the join", async () => {
    const text = JOIN;
    const plan = compileScript(text).statements[2]!.topology!;
    const [rekey, join] = plan.stages;
    // The left side is re-keyed by user_id: its filter runs in the stage that writes the repartition topic.
    expect(rekey!.output.kind).toBe("Repartition");
    expect(rekey!.processors.map((p) => p.kind)).toEqual(["Filter"]);
    // The right side is read as it is: its filter runs in the join's stage, on its rows only, before the join.
    expect(join!.processors.map((p) => (p.kind === "Filter" ? `Filter(side ${p.side})` : p.kind))).toEqual([
      "Filter(side 1)",
      "Join",
      "Project",
    ]);

    await withEngine("pushdown", async (engine, log) => {
      expect((await engine.execute(text)).diagnostics).toEqual([]);
      const clicks = sourceForTopic(engine.catalog, "clicks")!;
      const views = sourceForTopic(engine.catalog, "views")!;
      await engine.log.append(
        "clicks",
        [1, 7, 3, 9, 6].map((x, i) => encodeRecord(clicks, { key: `c${i}`, value: { user_id: `u${i % 2}`, x } })),
      );
      await engine.log.append(
        "views",
        ["home", "shop"].map((page, i) => encodeRecord(views, { key: `u${i % 2}`, value: { page } })),
      );
      await engine.drain();
      // Only the three clicks with x > 5 were re-keyed.
      const topic = plan.internalTopics[0]!.name;
      let rekeyed = 0;
      for (let p = 0; p < 2; p++) rekeyed += (await log.read(topic, p, 0, 100)).length;
      expect(rekeyed).toBe(3);
      // And the result is the WHERE's: u1's clicks with x > 5 (7 and 9) joined with its 'shop' view.
      const out: string[] = [];
      for (let p = 0; p < 2; p++)
        for (const r of await log.read("PAIRS", p, 0, 100)) out.push(r.value!.toString("utf8"));
      expect(out.sort()).toEqual(['{"X":7,"PAGE":"shop"}', '{"X":9,"PAGE":"shop"}']);
    });
  });

  it("a pruned column is never decoded: a malformed value there does not drop the record", async () => {
    const text = `
CREATE STREAM readings (id STRING KEY, a INT, big BIGINT, note STRING) WITH (kafka_topic = 'readings', value_format = 'JSON', partitions = 1);
CREATE STREAM just_a AS SELECT id, a FROM readings;
CREATE STREAM with_big AS SELECT id, big FROM readings;`;
    const compiled = compileScript(text);
    const input = (i: number) => compiled.statements[i]!.topology!.stages[0]!.inputs[0]!;
    expect(input(1)).toMatchObject({ kind: "source", decode: ["A"] });
    expect(input(2)).toMatchObject({ kind: "source", decode: ["BIG"] });
    await withEngine("pruning", async (engine, log) => {
      expect((await engine.execute(text)).diagnostics).toEqual([]);
      // BIG is beyond BIGINT's range: a record whose BIG is read goes to the processing log.
      await log.append("readings", [
        { key: Buffer.from("r1"), value: Buffer.from('{"A": 1, "BIG": 99999999999999999999, "NOTE": "x"}') },
        { key: Buffer.from("r2"), value: Buffer.from('{"A": 2, "BIG": 5}') },
      ]);
      await engine.drain();
      const values = async (topic: string) => (await log.read(topic, 0, 0, 10)).map((r) => r.value!.toString("utf8"));
      expect(await values("JUST_A")).toEqual(['{"A":1}', '{"A":2}']);
      expect(await values("WITH_BIG")).toEqual(['{"BIG":5}']);
      const errors = engine.processingErrors.map((e) => `${e.queryId}: ${e.reason}`);
      expect(errors).toEqual([`${[...engine.queries.keys()][1]}: out-of-range`]);
    });
  });
});
