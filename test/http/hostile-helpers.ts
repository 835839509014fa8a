/**
 * Shared by the hostile-request suites (`test/http/hostile.test.ts`, `test/kafka/names.test.ts`): a health
 * poller on its own thread, file-tree snapshots, and the object names that try to leave the data folder.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Worker } from "node:worker_threads";

/** Milliseconds `/healthcheck` may take, however busy the server is. */
export const HEALTH_BUDGET_MS = 100;

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
