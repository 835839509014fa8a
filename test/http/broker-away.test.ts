/**
 * `/metrics` and `/healthcheck` answer within a second while the log does not answer at all (a Kafka broker
 * that is away): the log here is the embedded one behind a switch that makes every end-offset call hang.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { EmbeddedLog } from "../../runtime/log/embedded.ts";
import { LogError, type EventLog } from "../../runtime/log/types.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";
import { eventually } from "../fixtures/eventually.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;
let away = false;
let failing = false;
const events: { event: string }[] = [];

beforeAll(async () => {
  dir = tempDir("esql-away-");
  const inner = await EmbeddedLog.open(join(dir, "log"));
  // Every method goes to the embedded log, but endOffset never answers while `away`.
  const log = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "endOffset" && away) return () => new Promise<number>(() => {});
      if (prop === "read" && failing)
        return () => Promise.reject(new LogError("IO", "cannot read: the broker is not reachable"));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as EventLog;
  engine = await openEngine({ dataDir: dir, log });
  await engine.execute(`CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=2);
    CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;`);
  server = await startServer({ engine, drainIntervalMs: 20, onEvent: (e) => events.push(e) });
});

afterAll(async () => {
  away = false;
  await server.close();
  await engine.close();
});

const timed = async (path: string) => {
  const t0 = performance.now();
  const res = await fetch(server.url + path, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0 };
};

it("answers /metrics and /healthcheck within a second while the log hangs", async () => {
  const before = await timed("/metrics");
  expect(before.text).toMatch(/esql_consumer_lag\{query_id="CTAS_T_\d+".*partition="1"\} 0/);
  expect(before.text).toContain("esql_consumer_lag_unknown 0");
  away = true;
  const metrics = await timed("/metrics");
  expect(metrics.status).toBe(200);
  expect(metrics.ms).toBeLessThan(1000);
  expect(metrics.text).toMatch(/esql_records_processed_total\{query_id="CTAS_T_\d+"\} \d+/);
  expect(metrics.text).toContain("esql_consumer_lag_unknown 2");
  const health = await timed("/healthcheck");
  expect(health.status).toBe(200);
  expect(health.ms).toBeLessThan(1000);
  away = false;
  expect((await timed("/metrics")).text).toContain("esql_consumer_lag_unknown 0");
});

it("tells when processing fails and when it works again, once each", async () => {
  const until = (what: string, check: () => boolean) =>
    eventually(
      async () => check(),
      10_000,
      async () => `until ${what}`,
      20,
    );
  await engine.execute("INSERT INTO s (k, v) VALUES ('a', 1);");
  failing = true;
  await engine.execute("INSERT INTO s (k, v) VALUES ('a', 2);");
  await until("processing failed", () => events.length > 0);
  expect(events[0]).toMatchObject({ event: "processing_failed", code: "IO" });
  expect((await timed("/healthcheck")).status).toBe(503);
  failing = false;
  await until("processing resumed", () => events.length > 1);
  expect(events[1]).toMatchObject({ event: "processing_resumed" });
  expect(events).toHaveLength(2);
  expect((await timed("/healthcheck")).status).toBe(200);
});
