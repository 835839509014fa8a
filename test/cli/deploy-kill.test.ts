/**
 * `esql plan` / `esql apply` as CI runs them (child processes on the embedded log), and an apply killed
 * (SIGKILL) while it rebuilds a changed aggregation: the next apply finishes the same version.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { readLedger } from "../../runtime/deploy/ledger.ts";
import { tempDir } from "../fixtures/temp.ts";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "esql.js");
const dir = tempDir("esql-deploy-kill-");

const folder = join(dir, "projections");
const data = join(dir, "data");
const EVENTS = 100_000;

function writeFolder(aggregate: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, "1-moves.esql"),
    "CREATE STREAM moves (account STRING KEY, amount BIGINT)\n  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);\n",
  );
  writeFileSync(
    join(folder, "2-totals.esql"),
    `CREATE TABLE totals AS\n  SELECT account, ${aggregate} AS total\n  FROM moves\n  GROUP BY account;\n`,
  );
}

function esql(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `esql apply` and SIGKILLs it `ms` after its progress matches `after`; resolves its stderr. */
function applyAndKill(after: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "apply", folder, "--data", data], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on("data", (d) => {
      stderr += d;
      if (timer === undefined && after.test(stderr)) timer = setTimeout(() => child.kill("SIGKILL"), ms);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve(stderr);
      else reject(new Error(`esql apply ended by itself (${code}) before the kill: ${stderr}`));
    });
  });
}

async function withEngine<T>(f: (e: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.open({ dataDir: data });
  try {
    return await f(engine);
  } finally {
    await engine.close();
  }
}

describe("esql apply from the command line", () => {
  it("plans, applies, and finishes a rebuild after the apply was killed", { timeout: 600_000 }, async () => {
    writeFolder("SUM(amount)");
    expect(esql("plan", folder, "--data", data).status).toBe(2);
    const first = esql("apply", folder, "--data", data);
    expect(first.status, first.stderr).toBe(0);
    expect(esql("plan", folder, "--data", data).status).toBe(0);
    await withEngine(async (engine) => {
      const records = [];
      for (let i = 0; i < EVENTS; i++)
        records.push({ key: Buffer.from(`acc-${i % 101}`), value: Buffer.from(`{"AMOUNT":${i % 7}}`), timestamp: i });
      await engine.log.append("moves", records);
      await engine.drain();
    });

    writeFolder("COUNT(*)");
    const plan = esql("plan", folder, "--data", data);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toMatch(/TOTALS\s+rebuild: aggregates changed/);

    const killed = await applyAndKill(/version 2 is replaying/, 200);
    console.log(`killed apply reported: ${killed.trim().split("\n").join(" / ")}`);
    expect(killed).not.toMatch(/switched to version 2/);
    // The interrupted version is recorded: the old one still serves, the new one is being built.
    await withEngine(async (engine) => {
      const totals = readLedger(engine.catalog, engine.deploySteps).get("TOTALS")!;
      expect(totals.current).toBe(1);
      expect(totals.versions.map((v) => `${v.version}:${v.state}`)).toEqual(["1:serving", "2:building"]);
    });
    const resumed = esql("plan", folder, "--data", data);
    expect(resumed.stdout).toMatch(/TOTALS\s+resume: version 2 was being built/);

    const second = esql("apply", folder, "--data", data);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/TOTALS: rebuilt as version 2/);
    expect(esql("plan", folder, "--data", data).status).toBe(0);
    await withEngine(async (engine) => {
      const r = await engine.pull("SELECT account, total FROM totals WHERE account = 'acc-7';");
      expect(r.rows).toEqual([["acc-7", Math.ceil((EVENTS - 7) / 101)]]);
      expect(readLedger(engine.catalog, engine.deploySteps).get("TOTALS")!.current).toBe(2);
    });

    const back = esql("rollback", "totals", "--data", data);
    expect(back.status, back.stderr).toBe(0);
    await withEngine(async (engine) => {
      const r = await engine.pull("SELECT total FROM totals WHERE account = 'acc-7';");
      let sum = 0;
      for (let i = 7; i < EVENTS; i += 101) sum += i % 7;
      expect(r.rows).toEqual([[sum]]);
    });
  });
});
