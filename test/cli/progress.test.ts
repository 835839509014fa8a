/**
 * Progress of `esql run` replaying its input: a bar on a pseudo-terminal, log lines when stderr is a pipe,
 * and the `Progress` display itself.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Progress } from "../../src/cli/progress.ts";
import { BIN, Terminal } from "./repl-terminal.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-progress-");

const RECORDS = 30_000;
writeFileSync(
  join(dir, "p.esql"),
  `CREATE STREAM ev (id STRING KEY, n INT) WITH (kafka_topic = 'ev', value_format = 'JSON');
CREATE TABLE totals AS SELECT id, SUM(n) AS total FROM ev GROUP BY id EMIT CHANGES;
`,
);
let lines = "";
for (let i = 0; i < RECORDS; i++) lines += `{"key": "k${i % 50}", "value": {"n": 1}, "timestamp": ${i}}\n`;
writeFileSync(join(dir, "ev.jsonl"), lines);

/** A short interval, so a replay of a second or less shows progress. */
const FAST = { ESQL_PROGRESS_INTERVAL_MS: "50" };

describe("esql run progress", { timeout: 120_000 }, () => {
  it("writes periodic log lines when stderr is not a terminal", () => {
    const r = spawnSync(process.execPath, [BIN, "run", "p.esql", "--input", "ev=ev.jsonl", "--data", "piped"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", ...FAST },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^replaying: [\d,]+\/30,000 records \(\d+%\), [\d,]+ records\/s, about \S+ left$/m);
    expect(r.stderr).toMatch(/^replaying: 30,000 records in \S+ \([\d,]+ records\/s\)$/m);
    // Plain lines only: no bar, no cursor movement.
    expect(r.stderr).not.toMatch(/\x1b\[|█/);
    expect(r.stdout).toMatch(/│ k0\s+│\s+600 │/);
  });

  it("draws a bar with records done and total, rate and time left on a terminal", async () => {
    const t = new Terminal(["run", "p.esql", "--input", "ev=ev.jsonl", "--data", "tty"], { cwd: dir, env: FAST });
    try {
      expect(await t.exited(90_000)).toBe(0);
      const screen = t.screen;
      expect(screen).toMatch(/replaying \[[█░]+\] \d+% \| [\d,]+\/30,000 records \| [\d,]+ records\/s \| \S+ left/);
      // The bar ends full.
      expect(screen).toMatch(/replaying \[█+\] 100% \| 30,000\/30,000 records/);
      // No log lines on a terminal.
      expect(screen).not.toMatch(/^replaying: /m);
      expect(screen).toMatch(/│ k0\s+│\s+600 │/);
    } finally {
      t.kill();
    }
  });
});

describe("Progress", () => {
  const sink = () => {
    const out: string[] = [];
    return { out, stream: { isTTY: false, write: (s: string) => out.push(s) > 0 } as unknown as NodeJS.WritableStream };
  };

  it("writes nothing for work quicker than one interval", () => {
    const { out, stream } = sink();
    const p = new Progress("replaying", { stream, intervalMs: 60_000 });
    p.update(10, 100);
    p.update(100, 100);
    p.stop();
    expect(out).toEqual([]);
  });

  it("writes a line per interval, then a summary", async () => {
    const { out, stream } = sink();
    const p = new Progress("restoring state", { stream, intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 20));
    p.update(1500, 6000);
    p.update(3000, 6000); // within the same interval: no line
    await new Promise((r) => setTimeout(r, 20));
    p.update(6000, 6000);
    p.stop();
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^restoring state: 1,500\/6,000 records \(25%\), [\d,]+ records\/s, about \S+ left\n$/);
    expect(out[1]).toMatch(/^restoring state: 6,000\/6,000 records \(100%\)/);
    expect(out[2]).toMatch(/^restoring state: 6,000 records in \S+ \([\d,]+ records\/s\)\n$/);
  });
});
