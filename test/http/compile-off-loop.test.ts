/**
 * A real `esql serve` (a child process) whose SQL length limit is raised to 2 MB gets hostile bodies of about
 * a megabyte on `/ksql`, `/query` and `/query-stream`, each seconds of lexing and parsing: the server parses
 * them on a worker thread (`runtime/http/compile-pool.ts`), so `/healthcheck`, polled from another thread
 * throughout, keeps answering within 100 ms, and each hostile request gets a 400 that says what is wrong.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEALTH_BUDGET_MS, HealthPoller, slowdown } from "./hostile-helpers.ts";

const BIN = resolve(import.meta.dirname, "../../bin/esql.js");
const MB = 1_000_000;
/**
 * The server's event loop may not stall longer than this while a worker parses, times the machine's
 * {@link slowdown} measured before and after the request. Parsed inline, these bodies stalled it for 1.8 to
 * 8.5 s (measured with the pool's inline limit set to infinity). Why not 100 ms: the machines these tests run
 * on are shared (load above 20 on two cores when this was written), where an idle server's timer already fires
 * 80 ms late, and during these runs, with nothing on the event loop, up to 420 ms.
 */
const LOOP_DELAY_BUDGET_MS = 1000;
/**
 * No health poll may take this long (times the slowdown). On the loaded machine a few polls of hundreds take
 * 100-400 ms (some of it before the server sees the connection: connecting alone took 125 ms once) even though
 * the server's event loop is free, so at most 2% of the polls may exceed {@link HEALTH_BUDGET_MS} (times the
 * slowdown).
 */
const STALL_MS = 1000;

let root: string;
let server: ChildProcess;
let url: string;
let output = "";
let health: HealthPoller;

function post(path: string, body: unknown): Promise<{ status: number; text: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url + path,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}: ${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "esql-compile-off-loop-"));
  server = spawn(
    process.execPath,
    [BIN, "serve", "--data", join(root, "data"), "--port", "0", "--max-sql-length", String(2 * MB)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout!.on("data", (c: Buffer) => (output += String(c)));
  server.stderr!.on("data", (c: Buffer) => (output += String(c)));
  await until("the server listens", () => /at (http:\/\/\S+) /.test(output), 60_000);
  url = /at (http:\/\/\S+) /.exec(output)![1]!;
  const setup = await post("/ksql", {
    ksql: "CREATE STREAM ev (id STRING KEY, v INT) WITH (kafka_topic='ev', value_format='JSON', partitions=1);",
  });
  expect(setup.status, setup.text).toBe(200);
  health = new HealthPoller(url);
}, 90_000);

afterAll(async () => {
  await health?.stop();
  server?.kill("SIGTERM");
  if (server && server.exitCode === null) await new Promise((r) => server.once("exit", r));
  rmSync(root, { recursive: true, force: true });
});

/** The server's longest event-loop delay since the previous call (`/metrics` resets it). */
async function loopDelayMs(): Promise<number> {
  const m = await new Promise<string>((resolve, reject) => {
    const req = request(url + "/metrics", { agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve(text));
    });
    req.on("error", reject);
    req.end();
  });
  return Number(/^esql_event_loop_delay_max_seconds (\S+)$/m.exec(m)![1]) * 1000;
}

const repeat = (unit: string, chars: number) => unit.repeat(Math.floor(chars / unit.length));

describe("esql serve parses hostile SQL off the event loop", () => {
  const cases: { name: string; path: string; body: Record<string, string>; reason: RegExp }[] = [
    {
      name: "a million unbalanced parentheses",
      path: "/ksql",
      body: { ksql: `SELECT ${repeat("(", MB)}1 FROM ev;` },
      reason: /statement too long: 1,000,0\d\d characters/,
    },
    {
      name: "a third of a million bad statements",
      path: "/ksql",
      body: { ksql: repeat("x; ", MB) },
      reason: /Line: 1, Col: 1: expected a statement/,
    },
    {
      name: "an arithmetic chain of a million tokens",
      path: "/query",
      body: { ksql: `SELECT ${repeat("1+", MB)}1 FROM ev;` },
      reason: /statement too long/,
    },
    {
      name: "an eighth of a megabyte of deeply parenthesized queries",
      path: "/query-stream",
      body: { sql: repeat(`SELECT ${"(".repeat(60)}v${")".repeat(60)} FROM ev EMIT CHANGES;\n`, MB / 8) },
      reason: /expected one SELECT statement, found \d+ statements/,
    },
  ];

  for (const c of cases) {
    it(`${c.path}: ${c.name}: a 400 with the reason, and /healthcheck answers throughout`, async () => {
      const before = slowdown();
      await loopDelayMs();
      await health.reset();
      const r = await post(c.path, c.body);
      const polls = await health.report();
      const delay = await loopDelayMs();
      const factor = Math.max(before, slowdown());
      const pollBudget = HEALTH_BUDGET_MS * factor;
      const slow = polls.slow.filter((p) => p.ms > pollBudget || p.status !== 200);
      console.log(
        `${c.path} ${c.name}: ${r.status} in ${r.ms.toFixed(0)} ms; event loop delay max ${delay.toFixed(0)} ms; ` +
          `health: ${polls.count} polls, max ${polls.maxMs} ms, over ${pollBudget.toFixed(0)} ms: ${JSON.stringify(slow)} ` +
          `(the machine's slowdown ${factor.toFixed(1)})`,
      );
      expect(r.status, r.text.slice(0, 300)).toBe(400);
      // The worker runs at the lowest priority (nice 19): on a machine several times slower than its CPU
      // time (other work on every core) it may not finish within the server's limit of 60 s, which is
      // also a 400 that says why. The property here is the event loop's.
      const timedOut = factor > 4 ? /took longer than \d+ ms to parse/ : c.reason;
      expect(JSON.parse(r.text).message).toMatch(new RegExp(`${c.reason.source}|${timedOut.source}`));
      expect(polls.count).toBeGreaterThan(0);
      expect(
        polls.slow.filter((p) => p.status !== 200),
        "health polls that failed",
      ).toEqual([]);
      expect(delay, "the server's longest event-loop delay (ms)").toBeLessThan(LOOP_DELAY_BUDGET_MS * factor);
      expect(polls.maxMs, "the slowest health poll (ms)").toBeLessThan(STALL_MS * factor);
      expect(slow.length, `health polls over ${pollBudget.toFixed(0)} ms`).toBeLessThanOrEqual(
        Math.max(2, polls.count / 50),
      );
    }, 120_000);
  }

  it("a short statement is still answered (parsed inline)", async () => {
    const r = await post("/ksql", { ksql: "CREATE STREAM x AS SELECT nope FROM ev EMIT CHANGES;" });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).message).toMatch(/nope/i);
  });
});
