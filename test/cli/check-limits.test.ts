/**
 * `esql check` on hostile files (issue 16): each gives `file:line:col: error[CODE]` with a caret, exit code 1,
 * no stack trace, and returns in seconds (these inputs used to crash the CLI or exhaust its heap).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/temp.ts";

const BIN = resolve(import.meta.dirname, "../../bin/esql.js");
const dir = tempDir("esql-check-");

const EV = "CREATE STREAM ev (id INT KEY, amount DOUBLE, a ARRAY<INT>) WITH (kafka_topic='ev', value_format='json');\n";

// One statement of each kind in one file (one process start): [statement, its position, its code].
const hostile: [text: string, where: string, code: string][] = [
  [`SELECT ${"(".repeat(5000)}1${")".repeat(5000)} FROM ev EMIT CHANGES;`, "2:72", "SYN005"],
  [`SELECT ${"(".repeat(300)}1 FROM ev EMIT CHANGES;`, "3:72", "SYN005"],
  [`SELECT a${"[1]".repeat(5000)} FROM ev EMIT CHANGES;`, "4:1503", "SYN005"],
  ["SELECT CAST(amount AS DECIMAL(10, 1000000)) FROM ev EMIT CHANGES;", "5:23", "ESQL-S010"],
  [`SELECT ${"9".repeat(90_000)} FROM ev EMIT CHANGES;`, "6:8", "SYN003"],
  [`SELECT amountt${"x".repeat(60_000)} FROM ev EMIT CHANGES;`, "7:8", "SYN006"],
];

describe("esql check on hostile input", { timeout: 120_000 }, () => {
  it("reports each as file:line:col with a caret, exit 1, no stack trace", () => {
    writeFileSync(join(dir, "hostile.esql"), EV + hostile.map(([text]) => text).join("\n") + "\n");
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, "check", "hostile.esql"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 90_000,
    });
    console.log(`esql check hostile.esql: ${(performance.now() - t0).toFixed(0)} ms (process start included)`);
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(0, 2000)).toBe(1);
    for (const [, where, code] of hostile) expect(out).toContain(`hostile.esql:${where}: error[${code}]`);
    expect(out).toContain(`: ${hostile.length} errors`);
    expect(out).toMatch(/\n\s*\| +\^/);
    expect(out).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
    expect(out).not.toContain("RangeError");
    // Long lines show as a window around the caret, not whole.
    expect(out.length).toBeLessThan(500 * hostile.length);
  });
});
