/**
 * Crash safety: SIGKILL the engine at several moments while it folds 60k events through a re-keying
 * aggregation (repartition topic) and a windowed one, restart it each time, and check the final tables
 * equal those of an uninterrupted run: no event lost, none counted twice.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../fixtures/temp.ts";

const worker = join(import.meta.dirname, "kill-worker.ts");
const EVENTS = 60_000;

const temp = (): string => tempDir("esql-kill-");

function runToEnd(dir: string): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", worker, "run", dir], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`run failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim().split("\n").pop()!;
}

/** Starts `run` and SIGKILLs it after `ms`; resolves whether it was killed before finishing. */
function runAndKill(dir: string, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", worker, "run", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve(true);
      else if (code === 0) resolve(false);
      else reject(new Error(`run exited ${code}: ${stderr}`));
    });
  });
}

function setup(dir: string): void {
  const r = spawnSync(process.execPath, ["--import", "tsx", worker, "setup", dir, String(EVENTS)], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`setup failed: ${r.stderr}`);
}

describe("crash safety on the embedded log", () => {
  it("gives the same tables after repeated SIGKILLs as without them", { timeout: 600_000 }, async () => {
    const reference = temp();
    setup(reference);
    const expected = runToEnd(reference);
    expect(JSON.parse(expected).BALANCES.length).toBe(997);

    const crashed = temp();
    setup(crashed);
    // Deterministic spread of kill points: early (deploying), middle and late in the fold.
    const killPoints = [900, 1700, 2600, 3500, 5000];
    let kills = 0;
    for (const ms of killPoints) if (await runAndKill(crashed, ms)) kills++;
    const actual = runToEnd(crashed);
    console.log(`crash test: ${kills} SIGKILLs before completion`);
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(actual)).toEqual(JSON.parse(expected));
  });
});
