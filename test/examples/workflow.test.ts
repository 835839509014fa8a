/**
 * examples/github-workflow.yml runs as written, end to end, against an `esql serve` this test starts (a child
 * process on the embedded log, with an API key): the `run:` steps of its jobs (check, fmt --check, test; plan;
 * apply, plan) run in bash with `npx esql` being this checkout's CLI, over a copy of examples/carts as the
 * projections. Then a changed aggregation goes through plan (exit 2), apply (a rebuild the command follows to
 * its switch), plan (exit 0) and the rollback the workflow's comment gives.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ESQL_BIN } from "../fixtures/cli.ts";
import { tempDir } from "../fixtures/temp.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = tempDir("esql-workflow-");
const KEY = "workflow-key";

interface Workflow {
  readonly jobs: Record<string, { readonly steps: readonly { readonly run?: string }[] }>;
}

/** The `run:` steps of a job that call esql, with `npx esql` as this checkout's CLI. */
function steps(workflow: Workflow, job: string): string[] {
  return workflow.jobs[job]!.steps.map((s) => s.run)
    .filter((r): r is string => r !== undefined && r.includes("npx esql"))
    .map((r) => r.replaceAll("npx esql", `"${process.execPath}" "${ESQL_BIN}"`));
}

let server: ChildProcess | undefined;
afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
});

/** Starts `esql serve` on a free port; resolves its URL. */
function serve(data: string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    server = spawn(process.execPath, [ESQL_BIN, "serve", "--data", data, "--port", "0"], {
      env: { ...process.env, NO_COLOR: "1", ESQL_API_KEYS: KEY },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    server.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /REST API[^\n]* at (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1]!);
    });
    server.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    server.once("exit", (code) => reject(new Error(`esql serve ended (${code}): ${out}${err}`)));
  });
}

describe("examples/github-workflow.yml", () => {
  it("checks, plans, applies, re-plans and rolls back against a running service", { timeout: 900_000 }, async () => {
    const workflow = parse(readFileSync(join(ROOT, "examples/github-workflow.yml"), "utf8")) as Workflow;
    const repo = join(dir, "repo");
    mkdirSync(join(repo, "projections"), { recursive: true });
    for (const f of ["carts.esql", "carts.test.yaml", "cart_events.jsonl"])
      cpSync(join(ROOT, "examples/carts", f), join(repo, "projections", f));
    const url = await serve(join(dir, "data"));
    const summary = join(dir, "summary.md");
    const env = { ...process.env, NO_COLOR: "1", ESQL_URL: url, ESQL_API_KEY: KEY, GITHUB_STEP_SUMMARY: summary };
    // Asynchronous: the server's output pipes keep being read meanwhile.
    const bash = (script: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((done) => {
        execFile("bash", ["-e", "-c", script], { cwd: repo, env, encoding: "utf8", timeout: 300_000 }, (e, out, err) =>
          done({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, out, err }),
        );
      });
    const esql = (args: string) => bash(`"${process.execPath}" "${ESQL_BIN}" ${args}`);

    // Job check: every step passes.
    const check = steps(workflow, "check");
    expect(check.length).toBe(3);
    for (const s of check) expect(await bash(s), s).toMatchObject({ code: 0 });

    // Job plan: the plan goes to the step summary; exit 2 (changes) is fine there.
    expect((await esql(`plan projections/ --server "$ESQL_URL"`)).code).toBe(2);
    const [plan] = steps(workflow, "plan");
    expect(await bash(plan!)).toMatchObject({ code: 0 });
    expect(readFileSync(summary, "utf8")).toMatch(/\+ TABLE {2}CARTS +new/);

    // Job apply: apply, then nothing left to change.
    const [apply, replan] = steps(workflow, "apply");
    const applied = await bash(apply!);
    expect(applied, applied.err).toMatchObject({ code: 0 });
    expect(applied.out).toMatch(/CARTS: created\n[\s\S]*Applied/);
    expect(await bash(replan!)).toMatchObject({ code: 0 });

    // Events reach the service; a changed aggregation is then rebuilt while it serves.
    const lines = readFileSync(join(repo, "projections/cart_events.jsonl"), "utf8").trim().split("\n");
    const rows = lines.map((l) => {
      const e = JSON.parse(l) as { key: string; value: Record<string, unknown>; timestamp: number };
      return JSON.stringify({
        CART_ID: e.key,
        ROWTIME: e.timestamp,
        ...Object.fromEntries(Object.entries(e.value).map(([k, v]) => [k.toUpperCase(), v])),
      });
    });
    const inserted = await fetch(`${url}/inserts-stream`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}` },
      body: [JSON.stringify({ target: "CART_EVENTS" }), ...rows].join("\n") + "\n",
    });
    expect(inserted.status).toBe(200);
    await inserted.text();
    const file = join(repo, "projections/carts.esql");
    writeFileSync(file, readFileSync(file, "utf8").replace("COUNT_DISTINCT(sku) AS skus", "COUNT(*) AS skus"));
    const changed = await esql(`plan projections/ --server "$ESQL_URL"`);
    expect(changed.code).toBe(2);
    expect(changed.out).toMatch(new RegExp(`~ TABLE {2}CARTS +rebuild: .*\\(replays ${lines.length} events`));
    const rebuilt = await bash(apply!);
    expect(rebuilt, rebuilt.err).toMatchObject({ code: 0 });
    expect(rebuilt.out).toMatch(/CARTS: rebuilt as version 2/);
    expect(rebuilt.err).toMatch(/CARTS: switched to version 2/);
    expect(await bash(replan!)).toMatchObject({ code: 0 });
    const status = await esql(`status --server "$ESQL_URL"`);
    expect(status.out).toMatch(/TABLE {2}CARTS +version 2 \(topic CARTS__v2\); kept: 1/);

    // The rollback in the workflow's comment: instant, and the next plan says it would switch forward.
    const rollback = /npx esql (rollback .*)$/m.exec(readFileSync(join(ROOT, "examples/github-workflow.yml"), "utf8"));
    expect(rollback).not.toBeNull();
    const back = await esql(rollback![1]!.replace("<name>", "carts"));
    expect(back).toMatchObject({ code: 0, out: "carts: switched back to version 1\n" });
    const forward = await esql(`plan projections/ --server "$ESQL_URL"`);
    expect(forward.code).toBe(2);
    expect(forward.out).toMatch(/CARTS +switch: version 2 is kept/);
    // Without the API key the service refuses.
    expect((await bash(`ESQL_API_KEY= "${process.execPath}" "${ESQL_BIN}" status --server "$ESQL_URL"`)).code).toBe(1);
  });
});
