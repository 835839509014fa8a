/**
 * The README's REPL walkthrough stays true: its input lines (after the `esql> ` and `   > ` prompts) are
 * piped into `esql repl --echo` on a fresh data folder, and the output must be the transcript, exactly.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN } from "./repl-terminal.ts";
import { tempDir } from "../fixtures/temp.ts";

const README = resolve(import.meta.dirname, "../../README.md");
const dir = tempDir("esql-repl-readme-");

/** The fenced block between `<!-- repl-walkthrough -->` and `<!-- /repl-walkthrough -->`. */
function walkthrough(): string {
  const text = readFileSync(README, "utf8");
  const m = /<!-- repl-walkthrough -->\n```text\n([\s\S]*?)```\n<!-- \/repl-walkthrough -->/.exec(text);
  if (!m) throw new Error("README.md has no <!-- repl-walkthrough --> block with a ```text fence");
  return m[1]!;
}

const PROMPT = "esql> ";
const CONTINUE = "   > ";

describe("the README's REPL walkthrough", { timeout: 120_000 }, () => {
  it("is what esql repl prints for its input", () => {
    const transcript = walkthrough();
    const input = transcript
      .split("\n")
      .filter((l) => l.startsWith(PROMPT) || l.startsWith(CONTINUE))
      .map((l) => l.slice(l.startsWith(PROMPT) ? PROMPT.length : CONTINUE.length))
      .join("\n");
    expect(input).toContain("EMIT CHANGES LIMIT");
    const r = spawnSync(process.execPath, [BIN, "repl", "--data", join(dir, "data"), "--echo"], {
      cwd: dir,
      input: input + "\n",
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", ESQL_HISTORY: join(dir, "history") },
      timeout: 90_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(transcript);
  });
});
