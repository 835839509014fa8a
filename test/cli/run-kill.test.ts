/**
 * Crash safety as a user meets it: SIGKILL `esql run --follow` at several points while it loads and folds
 * a large input file (60k events through a re-keying aggregation and a windowed one), start it again each
 * time, and compare the final tables with those of an uninterrupted run.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/temp.ts";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "esql.js");
const dir = tempDir("esql-run-kill-");

const SQL = `
CREATE STREAM moves (account STRING KEY, kind STRING, amount BIGINT, teller STRING)
  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 3);
CREATE TABLE balances AS
  SELECT account, SUM(CASE WHEN kind = 'in' THEN amount ELSE -amount END) AS balance, COUNT(*) AS moves
  FROM moves GROUP BY account;
CREATE TABLE per_teller_hour AS
  SELECT teller, COUNT(*) AS moves, SUM(amount) AS volume
  FROM moves WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY teller;
`;

function writeInputs(): { sql: string; events: string } {
  const sql = join(dir, "moves.esql");
  const events = join(dir, "moves.jsonl");
  writeFileSync(sql, SQL);
  const lines: string[] = [];
  for (let j = 0; j < 60_000; j++) {
    lines.push(
      JSON.stringify({
        key: `acc-${(j * 31) % 997}`,
        value: { KIND: j % 3 === 0 ? "out" : "in", AMOUNT: (j * 7919) % 1000, TELLER: `t${j % 17}` },
        timestamp: j * 1000,
      }),
    );
  }
  writeFileSync(events, lines.join("\n") + "\n");
  return { sql, events };
}

function tables(sql: string, events: string, data: string): unknown {
  const r = spawnSync(process.execPath, [bin, "run", sql, "--input", `moves=${events}`, "--data", data, "--json"], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`esql run failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { tables: unknown }).tables;
}

/**
 * Starts `esql run --follow` and SIGKILLs it `ms` after its progress output matches `after` (so the kill
 * lands in the work, not in process start-up, however loaded the machine is). Resolves what it reported.
 */
function followAndKill(sql: string, events: string, data: string, after: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "run", sql, "--input", `moves=${events}`, "--data", data, "--follow"], {
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
      else reject(new Error(`esql run --follow ended by itself (${code}): ${stderr}`));
    });
  });
}

describe("esql run --follow under SIGKILL", () => {
  it("ends with the same tables as an uninterrupted run", { timeout: 900_000 }, async () => {
    const { sql, events } = writeInputs();
    const expected = tables(sql, events, join(dir, "reference"));
    const data = join(dir, "crashed");
    // First while it loads the file (after deploying), then as the fold starts (after the load line), then
    // at points into the fold a restarted run resumes right after its deployment line. A follow run never
    // ends by itself, so each run is killed.
    const deployed = /statement\(s\)/;
    const loaded = /loaded \d+ record/;
    const reports: string[] = [];
    reports.push(await followAndKill(sql, events, data, deployed, 700));
    reports.push(await followAndKill(sql, events, data, loaded, 0));
    for (const ms of [100, 300, 600]) reports.push(await followAndKill(sql, events, data, deployed, ms));
    console.log(reports.map((r, i) => `run ${i + 1}: ${r.trim().split("\n").join(" / ")}`).join("\n"));
    // The first run was killed before it had loaded the whole file.
    expect(reports[0]).not.toMatch(/loaded 60000 record/);
    expect(tables(sql, events, data)).toEqual(expected);
  });
});
