/**
 * CLI start time: wall time of `esql --version` and `esql check` of one small file (`bin/esql.js` as a user
 * runs it: the build in `dist/`, rebuilt first when a source is newer), against a bare `node -e 0`; the median
 * of `runs` runs each.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { buildDist, buildIsFresh } from "../../scripts/build.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = resolve(ROOT, "bin/esql.js");
/** A small file: four statements. */
export const START_CHECK_FILE = "examples/bank/bank.esql";

export interface StartFigures {
  readonly runs: number;
  /** Median wall times, in milliseconds. */
  readonly nodeMs: number;
  readonly versionMs: number;
  readonly checkMs: number;
  /** The same two from the TypeScript sources through tsx (`ESQL_FROM_SOURCE=1`, what ran before the build), 3 runs. */
  readonly sourceVersionMs: number;
  readonly sourceCheckMs: number;
}

function medianMs(runs: number, args: readonly string[], env: NodeJS.ProcessEnv = {}): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function benchStart(runs = 10): Promise<StartFigures> {
  if (!buildIsFresh()) await buildDist();
  // One run of each first: the file system's cache, not the first run's misses, is what a user meets.
  medianMs(1, [BIN, "check", START_CHECK_FILE]);
  return {
    runs,
    nodeMs: medianMs(runs, ["-e", "0"]),
    versionMs: medianMs(runs, [BIN, "--version"]),
    checkMs: medianMs(runs, [BIN, "check", START_CHECK_FILE]),
    sourceVersionMs: medianMs(3, [BIN, "--version"], { ESQL_FROM_SOURCE: "1" }),
    sourceCheckMs: medianMs(3, [BIN, "check", START_CHECK_FILE], { ESQL_FROM_SOURCE: "1" }),
  };
}
