/**
 * A broker outage under `esql serve`: this file starts its own broker (scripts/kafka/broker.ts, not the shared
 * one), and `esql serve --brokers` folds a GROUP BY aggregation of events produced before the outage, while the
 * broker goes away, and after it is back (on the same data folder and ports). While it is away, `/healthcheck`
 * and `/metrics` answer within a second; the service logs (JSON lines) that processing failed, what it waits
 * for, and that it resumed; nothing warns about listeners; afterwards the table equals a direct fold of the
 * input topic (what it holds, read back: an append that failed with the broker may have landed anyway).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type RunningBroker } from "../../scripts/kafka/broker.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import type { ProduceRecord } from "../../runtime/log/types.ts";
import { ESQL_BIN } from "../fixtures/cli.ts";
import { eventually } from "../fixtures/eventually.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-bounce-");
const PARTITIONS = 4;

/** `n` events from `from` on: 50 accounts, amounts 0..99. */
function events(from: number, n: number): ProduceRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      key: Buffer.from(`acc-${(i * 7) % 50}`),
      value: Buffer.from(JSON.stringify({ AMOUNT: (i * 31) % 100 })),
      timestamp: 1_000_000 + i,
    };
  });
}

interface Probe {
  readonly path: string;
  readonly ms: number;
  readonly status: number | string;
}

describe("esql serve across a broker outage", () => {
  let broker: RunningBroker;
  let log: KafkaEventLog;
  beforeAll(async () => {
    broker = await startBroker();
    log = new KafkaEventLog({ brokers: [broker.brokers], clientId: "esql-bounce-test" });
  }, 180_000);
  afterAll(async () => {
    await log?.close();
    await broker?.stop();
  });

  it(
    "answers health and metrics within a second while the broker is away, logs the outage, ends exact",
    { timeout: 600_000 },
    async () => {
      await log.createTopic("moves", { partitions: PARTITIONS });
      await log.append("moves", events(0, 3000));
      const sql = join(dir, "bounce.esql");
      writeFileSync(
        sql,
        `CREATE STREAM moves (account STRING KEY, amount BIGINT) WITH (kafka_topic = 'moves', value_format = 'JSON');
         CREATE TABLE totals AS SELECT account, COUNT(*) AS n, SUM(amount) AS total FROM moves GROUP BY account;`,
      );
      const child = spawn(
        process.execPath,
        [ESQL_BIN, "serve", sql, "--brokers", broker.brokers, "--data", join(dir, "data"), "--port", "0"],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "--trace-warnings" } },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      try {
        await eventually(
          async () => /REST API[^\n]* at (http:\/\/\S+)/.test(stdout),
          120_000,
          async () => `serve did not start: ${stdout}${stderr}`,
        );
        const url = /REST API[^\n]* at (http:\/\/\S+)/.exec(stdout)![1]!;
        const processed = async () => {
          const text = await (await fetch(`${url}/metrics`)).text();
          return Number(/esql_records_processed_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
        };
        await eventually(
          async () => (await processed()) >= 3000,
          120_000,
          async () => `processed ${await processed()} of 3000\n${stderr}`,
        );

        // During: appends that go on while the broker stops, and fail while it is away (retried after).
        let next = 3000;
        const pending: ProduceRecord[][] = [];
        let producing = true;
        const producer = (async () => {
          while (producing) {
            const batch = events(next, 100);
            next += 100;
            await log.append("moves", batch).catch(() => pending.push(batch));
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        await new Promise((r) => setTimeout(r, 300));

        const probes: Probe[] = [];
        let probing = true;
        const probe = async (path: string): Promise<Probe> => {
          const t = performance.now();
          try {
            const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
            await res.text();
            return { path, ms: performance.now() - t, status: res.status };
          } catch (e) {
            return { path, ms: performance.now() - t, status: (e as Error).name };
          }
        };
        const prober = (async () => {
          while (probing) {
            probes.push(...(await Promise.all([probe("/healthcheck"), probe("/metrics")])));
            await new Promise((r) => setTimeout(r, 250));
          }
        })();

        const haltedAt = stderr.length;
        await broker.halt();
        // Away for a while: long enough for the service to notice (its requests fail) and say so.
        await eventually(
          async () => /"event":"processing_failed"/.test(stderr.slice(haltedAt)),
          60_000,
          async () => `no processing_failed line while the broker was away:\n${stderr.slice(haltedAt)}`,
          200,
        );
        await new Promise((r) => setTimeout(r, 3000));
        probing = false;
        await prober;
        producing = false;
        await producer;
        await broker.start();

        // After: what failed while it was away, and more.
        for (const batch of pending) await log.append("moves", batch);
        await log.append("moves", events(next, 2000));

        // The direct fold of what the topic holds.
        const want = new Map<string, [number, number]>();
        let total = 0;
        for (let p = 0; p < PARTITIONS; p++) {
          const end = await log.endOffset("moves", p);
          for (let offset = 0; offset < end;) {
            const batch = await log.read("moves", p, offset, 5000);
            for (const r of batch) {
              const t = want.get(r.key!.toString()) ?? [0, 0];
              t[0]++;
              t[1] += (JSON.parse(r.value!.toString()) as { AMOUNT: number }).AMOUNT;
              want.set(r.key!.toString(), t);
              total++;
            }
            offset = batch[batch.length - 1]!.offset + 1;
          }
        }
        expect(total).toBeGreaterThan(5000);
        await eventually(
          async () => (await processed()) >= total,
          180_000,
          async () => `processed ${await processed()} of ${total}\n${stderr}`,
        );
        const res = await fetch(`${url}/query`, {
          method: "POST",
          headers: { "content-type": "application/vnd.ksql.v1+json" },
          body: JSON.stringify({ ksql: "SELECT * FROM totals;" }),
        });
        const rows = ((await res.json()) as { row?: { columns: unknown[] } }[])
          .filter((x) => x.row)
          .map((x) => x.row!.columns.join("|"))
          .sort();
        expect(rows).toEqual([...want].map(([k, [n, s]]) => `${k}|${n}|${s}`).sort());

        expect(probes.length).toBeGreaterThanOrEqual(8);
        const slow = probes.filter((p) => typeof p.status !== "number" || p.ms >= 1000);
        expect(slow, JSON.stringify(probes)).toEqual([]);
        // Health tells the outage (503 with the reason) once processing failed; metrics always answer 200.
        expect(probes.filter((p) => p.path === "/metrics").every((p) => p.status === 200)).toBe(true);
        expect(probes.some((p) => p.path === "/healthcheck" && p.status === 503)).toBe(true);

        // The JSON lines: failed (with what it waits for), then resumed; no listener warnings.
        const lines = stderr
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const failed = lines.find((l) => l.event === "processing_failed");
        expect(failed, stderr).toMatchObject({ level: "warn", waitingFor: expect.stringContaining(broker.brokers) });
        await eventually(
          async () => /"event":"processing_resumed"/.test(stderr),
          30_000,
          async () => stderr,
        );
        expect(stderr).not.toMatch(/MaxListenersExceeded|Warning:/);
      } finally {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  );
});
