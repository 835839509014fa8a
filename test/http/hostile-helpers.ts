/**
 * Shared by the hostile-request suites (`test/http/hostile.test.ts`, `test/kafka/names.test.ts`): a health
 * poller on its own thread, file-tree snapshots, and the object names that try to leave the data folder.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { expect } from "vitest";

/** Milliseconds `/healthcheck` may take, however busy the server is. */
export const HEALTH_BUDGET_MS = 100;

/**
 * How much slower than its CPU time a fixed computation runs on this machine now: wall time ÷ CPU time of a
 * busy loop of 30 ms of CPU, the median of three (at least 1). About 1 on an idle machine, 10 and more at a
 * load average of 20 on two cores. Suites that time a server multiply their budgets by it, measured in the same
 * run just before and after each probe, so they test the property (no work blocks the event loop for long)
 * rather than the machine's load: work that blocks the loop is stretched by the same factor, and still fails.
 * (The test process's CPU time includes its other threads, the health poller's few polls: a slight underestimate.)
 */
export function slowdown(): number {
  const once = () => {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    let x = 0;
    while (process.cpuUsage(cpu).user < 30_000) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i);
    const used = process.cpuUsage(cpu);
    return x > 0 ? (performance.now() - wall) / ((used.user + used.system) / 1000) : 1;
  };
  const runs = [once(), once(), once()].sort((a, b) => a - b);
  return Math.max(1, runs[1]!);
}

export interface HealthReport {
  /** Polls answered (or failed) so far. */
  readonly count: number;
  readonly maxMs: number;
  /** Polls slower than the budget, or not answered 200. */
  readonly slow: readonly { ms: number; status: number | string; connectMs?: number }[];
}

/**
 * Polls `GET <url>/healthcheck` back to back (a new connection each time) from a worker thread, so the
 * test's own load (hundreds of sockets) does not delay the measurement.
 */
export class HealthPoller {
  private readonly worker: Worker;

  constructor(url: string) {
    this.worker = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const http = require("node:http");
      let count = 0, maxMs = 0, slow = [], stopped = false;
      const poll = () => {
        if (stopped) return;
        const t0 = performance.now();
        let done = false;
        let connectMs;
        const finish = (status) => {
          if (done) return;
          done = true;
          const ms = Math.round(performance.now() - t0);
          count++;
          maxMs = Math.max(maxMs, ms);
          if (ms > workerData.budget || status !== 200) slow.push({ ms, status, connectMs });
          setTimeout(poll, 5);
        };
        const req = http.get(workerData.url + "/healthcheck", { agent: false, timeout: 5000 }, (res) => {
          res.resume();
          res.on("end", () => finish(res.statusCode));
          res.on("error", (e) => finish(e.message));
        });
        req.on("socket", (socket) => socket.on("connect", () => (connectMs = Math.round(performance.now() - t0))));
        req.on("timeout", () => { req.destroy(); finish("timeout"); });
        req.on("error", (e) => finish(e.message));
      };
      parentPort.on("message", (m) => {
        if (m === "report") parentPort.postMessage({ count, maxMs, slow });
        else if (m === "reset") { count = 0; maxMs = 0; slow = []; parentPort.postMessage("ok"); }
        else if (m === "stop") { stopped = true; parentPort.postMessage("ok"); }
      });
      poll();
      `,
      { eval: true, workerData: { url, budget: HEALTH_BUDGET_MS } },
    );
  }

  private ask<T>(message: string): Promise<T> {
    return new Promise((resolve) => {
      this.worker.once("message", resolve);
      this.worker.postMessage(message);
    });
  }

  report(): Promise<HealthReport> {
    return this.ask("report");
  }

  /** Starts a new measurement window. */
  async reset(): Promise<void> {
    await this.ask("reset");
  }

  async stop(): Promise<void> {
    await this.ask("stop");
    await this.worker.terminate();
  }
}

/** Every file under `dir` (relative path → SHA-256 of its content; folders as `dir/`). */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        out.set(relative(dir, p) + "/", "");
        walk(p);
      } else out.set(relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(dir);
  return out;
}

/**
 * Object names (backtick-quoted identifiers) that would leave `<root>/data/state` if a query id built from
 * them became a path: `sibling` is a folder next to `data` in `root`.
 */
export function hostileNames(root: string, sibling: string): string[] {
  const abs = join(root, sibling, "abs_victim");
  return [
    `y/../../../${sibling}/victim`,
    `y\\..\\..\\..\\${sibling}\\victim_bs`,
    abs,
    `../../../${sibling}`,
    "..",
    ".",
    `nul\u0000byte`,
    "x".repeat(300),
    "ünïcødé_表_🦀",
    "a b/c:d*e?f|g<h>i",
  ];
}

/** A name as a backtick-quoted identifier (a backtick inside is doubled). */
export function quoted(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

/** What a `/ksql` request answered. */
export interface KsqlAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

/**
 * Runs every statement that creates or drops something (CREATE STREAM/TABLE, CSAS, CTAS, INSERT INTO,
 * INSERT VALUES, TERMINATE, DROP ... DELETE TOPIC) with each of {@link hostileNames}, through `ksql`, on a
 * server whose data folder is `<root>/data` and whose stream `ev` exists; checks that each answers 200 or 400,
 * that nothing outside the data folder is created, changed or deleted (a sibling folder holds canary files
 * where the old paths pointed), and that the state folder holds safe names only.
 */
export async function checkNamesStayInside(
  ksql: (text: string) => Promise<KsqlAnswer>,
  root: string,
  data: string,
): Promise<void> {
  const sibling = "sibling";
  const outside = join(root, sibling);
  mkdirSync(outside);
  writeFileSync(join(outside, "canary.txt"), "do not touch");
  // Where the query ids' folders went when names became paths (`CTAS_<name>_<n>`; n is not known ahead).
  for (let n = 0; n < 200; n++) {
    for (const suffix of ["victim", "victim_s", "victim_t"]) {
      mkdirSync(join(outside, `${suffix}_${n}`));
      writeFileSync(join(outside, `${suffix}_${n}`, "canary.txt"), `${suffix} ${n}`);
    }
  }
  const outsideData = () => new Map([...snapshot(root)].filter(([p]) => !p.startsWith("data/") && p !== "data/"));
  const before = outsideData();
  const statuses: string[] = [];
  const run = async (text: string) => {
    const r = await ksql(text);
    statuses.push(`${r.status} ${text.slice(0, 80)}`);
    expect([200, 400], `${text.slice(0, 200)}: ${r.text.slice(0, 300)}`).toContain(r.status);
    return r;
  };
  const created = (r: KsqlAnswer) =>
    /Created query (.*)$/.exec(
      String((r.json as { commandStatus?: { message?: string } }[] | undefined)?.[0]?.commandStatus?.message ?? ""),
    )?.[1];
  let i = 0;
  for (const name of hostileNames(root, sibling)) {
    i++;
    const stream = quoted(`${name}_s`);
    const table = quoted(`${name}_t`);
    await run(
      `CREATE STREAM ${quoted(`${name}_src`)} (id STRING KEY, v INT) WITH (kafka_topic='ev', value_format='JSON');`,
    );
    await run(
      `CREATE TABLE ${quoted(`${name}_tsrc`)} (id STRING PRIMARY KEY, v INT) WITH (kafka_topic='tsrc_${i}', value_format='JSON', partitions=1);`,
    );
    const csas = await run(`CREATE STREAM ${stream} WITH (kafka_topic='hs_${i}') AS SELECT * FROM ev;`);
    const ctas = await run(
      `CREATE TABLE ${table} WITH (kafka_topic='ht_${i}') AS SELECT id, COUNT(*) AS n FROM ev GROUP BY id;`,
    );
    // The default topic is the name: refused with a reason where Kafka would refuse it.
    const defaulted = await run(`CREATE STREAM ${quoted(`${name}_d`)} AS SELECT * FROM ev;`);
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(`${name}_d`)) {
      expect(defaulted.status).toBe(400);
      expect(defaulted.text).toMatch(/Invalid topic name|LEX|identifier/i);
    } else await run(`DROP STREAM ${quoted(`${name}_d`)} DELETE TOPIC;`);
    for (const r of [csas, ctas]) {
      // Names of ordinary length without NUL run (their folders must stay inside); others may be refused, with
      // a reason about the identifier.
      if (name.length < 250 && !name.includes("\u0000")) expect(r.status, r.text).toBe(200);
      else if (r.status === 400) expect(r.text).toMatch(/identifier|character|Invalid topic name/i);
    }
    const insert = await run(`INSERT INTO ${stream} SELECT * FROM ev;`);
    await run(`INSERT INTO ${stream} (id, v) VALUES ('b', 2);`);
    const insertId = created(insert);
    if (insertId) await run(`TERMINATE ${quoted(insertId)};`);
    const ctasId = created(ctas);
    if (ctasId) await run(`TERMINATE ${quoted(ctasId)};`);
    await run(`DROP TABLE IF EXISTS ${table} DELETE TOPIC;`);
    await run(`DROP STREAM IF EXISTS ${stream} DELETE TOPIC;`);
    await run(`DROP STREAM IF EXISTS ${quoted(`${name}_src`)};`);
    await run(`DROP TABLE IF EXISTS ${quoted(`${name}_tsrc`)} DELETE TOPIC;`);
    expect(outsideData(), `after ${JSON.stringify(name).slice(0, 60)}: ${statuses.slice(-12).join("\n")}`).toEqual(
      before,
    );
  }
  const state = join(data, "state");
  if (existsSync(state)) for (const f of readdirSync(state)) expect(f).toMatch(/^[A-Za-z0-9_.-]{1,100}$/);
}
