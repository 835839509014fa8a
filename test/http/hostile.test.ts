/**
 * Hostile clients against a real `esql serve` (a child process, real sockets): slow headers and bodies,
 * 500 concurrent push queries over a limit of 32, pull queries while push queries are at their limit, deep
 * and malformed JSON, wrong content types, object names that try to leave the data folder, and statements
 * that are expensive to compile. Throughout, a poller on its own thread checks that `/healthcheck` answers
 * within 100 ms.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkNamesStayInside, HEALTH_BUDGET_MS, HealthPoller, slowdown } from "./hostile-helpers.ts";
import { tempDir } from "../fixtures/temp.ts";
import { eventually } from "../fixtures/eventually.ts";

const BIN = resolve(import.meta.dirname, "../../bin/esql.js");
/**
 * Longest the server's event loop may stall during a probe on an idle machine, multiplied by the machine's
 * {@link slowdown} measured before and after the probe (at load averages of 20-30 on two cores an idle server's
 * timers already fire hundreds of ms late). It catches work that blocks the loop (a compile of seconds, a
 * synchronous delete of many files), which the load stretches by the same factor, not the machine's noise.
 */
const LOOP_DELAY_BUDGET_MS = 250;
/** A health poll this slow means the server stalled (a compile that runs for seconds), not a busy machine. */
const STALL_MS = 10_000;
const MAX_PUSH = 32;
const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;

let root: string;
let data: string;
let server: ChildProcess;
let url: string;
let port: number;
let health: HealthPoller;
let output = "";
/** The machine's slowdown measured before the running probe. */
let slowdownBefore = 1;

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown> | undefined;
}

/** One request on its own connection; resolves with the whole answer. */
function send(path: string, body: string, headers: Record<string, string> = {}, method = "POST"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, agent: false, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const JSON_TYPE = { "content-type": "application/json" };
const post = (path: string, body: unknown, headers: Record<string, string> = JSON_TYPE) =>
  send(path, typeof body === "string" ? body : JSON.stringify(body), headers);

/** Waits until `check` holds (polling), failing with `what` after `ms`. */
const until = (what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> =>
  eventually(
    async () => check(),
    ms,
    async () => `until ${what}`,
    25,
  );

beforeAll(async () => {
  root = tempDir("esql-hostile-");
  data = join(root, "data");
  server = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      "--data",
      data,
      "--port",
      "0",
      "--max-push-queries",
      String(MAX_PUSH),
      "--headers-timeout-ms",
      String(HEADERS_TIMEOUT_MS),
      "--request-timeout-ms",
      String(REQUEST_TIMEOUT_MS),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout!.on("data", (c: Buffer) => (output += String(c)));
  server.stderr!.on("data", (c: Buffer) => (output += String(c)));
  await until("the server listens", () => /at (http:\/\/\S+) /.test(output), 60_000);
  url = /at (http:\/\/\S+) /.exec(output)![1]!;
  port = Number(new URL(url).port);
  const setup = await post("/ksql", {
    ksql: `CREATE STREAM ev (id STRING KEY, v INT) WITH (kafka_topic='ev', value_format='JSON', partitions=1);
      CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM ev GROUP BY id;
      INSERT INTO ev (id, v) VALUES ('a', 1);`,
  });
  expect(setup.status, setup.text).toBe(200);
  await until("the table has its row", async () =>
    (await post("/query", { ksql: "SELECT * FROM t WHERE id = 'a';" })).text.includes('"columns":["a",1]'),
  );
  health = new HealthPoller(url);
});

afterAll(async () => {
  await health?.stop();
  server?.kill("SIGTERM");
  if (server && server.exitCode === null) await new Promise((r) => server.once("exit", r));
});

/** The server's longest event-loop delay since the previous call (`/metrics` resets it). */
async function loopDelayMs(): Promise<number> {
  const m = await send("/metrics", "", {}, "GET");
  return Number(/^esql_event_loop_delay_max_seconds (\S+)$/m.exec(m.text)![1]) * 1000;
}

beforeEach(async () => {
  slowdownBefore = slowdown();
  await loopDelayMs();
  await health.reset();
});

/**
 * After each probe: every health poll was answered 200; the server's event loop never stalled beyond its
 * budget; and polls slower than 100 ms (times the machine's slowdown) were rare and none took seconds. Why not
 * "every poll within 100 ms": these tests share two cores with other work (load average above 10 when this
 * was written), where an idle server's polls already reach 80-100 ms, and in the burst of 500 connections a poll waits its turn behind
 * them (about 2.5 ms of socket work each, measured with --cpu-prof: Node's networking, not esql's code).
 */
afterEach(async () => {
  await until("a health poll answered", async () => (await health.report()).count > 0);
  const r = await health.report();
  const delay = await loopDelayMs();
  const factor = Math.max(slowdownBefore, slowdown());
  const pollBudget = HEALTH_BUDGET_MS * factor;
  const slow = r.slow.filter((s) => s.ms > pollBudget || s.status !== 200);
  console.log(
    `health: ${r.count} polls, max ${r.maxMs} ms, ${slow.length} over ${pollBudget.toFixed(0)} ms; event loop delay max ${delay.toFixed(0)} ms (budget ${(LOOP_DELAY_BUDGET_MS * factor).toFixed(0)} ms: the machine's slowdown ${factor.toFixed(1)})`,
  );
  expect(r.count, "health polls").toBeGreaterThan(0);
  expect(
    r.slow.filter((s) => s.status !== 200),
    "health polls that failed",
  ).toEqual([]);
  expect(delay, "the server's longest event-loop delay (ms)").toBeLessThan(LOOP_DELAY_BUDGET_MS * factor);
  expect(r.maxMs, `the slowest health poll (ms): ${JSON.stringify(r.slow)}`).toBeLessThan(STALL_MS);
  expect(slow.length, `health polls over ${pollBudget.toFixed(0)} ms: ${JSON.stringify(slow)}`).toBeLessThanOrEqual(
    Math.max(3, r.count * 0.05),
  );
});

describe("esql serve under hostile requests", () => {
  it("closes slow-header (slowloris), slow-preface and slow-body connections", { timeout: 30_000 }, async () => {
    const sockets: { socket: Socket; closed: boolean; got: string }[] = [];
    const open = (first: string, drip: string | (() => string)) => {
      const s = { socket: connect(port, "127.0.0.1"), closed: false, got: "" };
      s.socket.on("data", (c) => (s.got += String(c)));
      s.socket.on("error", () => {});
      s.socket.on("close", () => (s.closed = true));
      s.socket.on("connect", () => s.socket.write(first));
      const timer = setInterval(() => {
        if (s.closed) clearInterval(timer);
        else s.socket.write(typeof drip === "string" ? drip : drip());
      }, 300);
      sockets.push(s);
      return s;
    };
    // Headers that never end, an HTTP/2 preface sent a byte at a time, a body that never ends.
    const slowHeaders = Array.from({ length: 200 }, () => open("POST /ksql HTTP/1.1\r\nHost: x\r\n", "X-a: b\r\n"));
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const slowPreface = Array.from({ length: 20 }, () => {
      let sent = 1;
      return open(preface[0]!, () => preface[sent++] ?? "");
    });
    const slowBody = Array.from({ length: 20 }, () =>
      open("POST /ksql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{", " "),
    );
    const t0 = Date.now();
    await until(
      "the server closed every slow connection",
      () => sockets.every((s) => s.closed),
      HEADERS_TIMEOUT_MS + REQUEST_TIMEOUT_MS + 5_000,
    );
    expect(Date.now() - t0).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    for (const s of slowHeaders) expect(s.got).toMatch(/^HTTP\/1\.1 408/);
    for (const s of slowBody) expect(s.got).toMatch(/^HTTP\/1\.1 408/);
    expect(slowPreface.every((s) => s.got === "")).toBe(true);
    // Still serving.
    expect((await post("/ksql", { ksql: "SHOW STREAMS;" })).status).toBe(200);
  });

  it(`admits ${MAX_PUSH} of 500 concurrent push queries; pull queries still answer`, { timeout: 60_000 }, async () => {
    const streams: IncomingMessage[] = [];
    const attempt = () =>
      new Promise<Answer>((resolve, reject) => {
        const req = request(url + "/query-stream", { method: "POST", agent: false, headers: JSON_TYPE }, (res) => {
          if (res.statusCode === 200) {
            streams.push(res);
            res.on("error", () => {});
            resolve({ status: 200, text: "", json: undefined });
            return;
          }
          let text = "";
          res.on("data", (c) => (text += String(c)));
          res.on("end", () => {
            let json: Record<string, unknown> | undefined;
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, text, json });
          });
        });
        req.on("error", reject);
        req.end(JSON.stringify({ sql: "SELECT * FROM ev EMIT CHANGES;" }));
      });
    const answers = await Promise.all(Array.from({ length: 500 }, attempt));
    const statuses = new Map<number, number>();
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    expect([...statuses].sort()).toEqual([
      [200, MAX_PUSH],
      [429, 500 - MAX_PUSH],
    ]);
    const ok = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(ok).toBe(MAX_PUSH);
    expect(refused.length).toBe(500 - MAX_PUSH);
    expect(refused[0]!.json).toMatchObject({ "@type": "generic_error", error_code: 42900 });
    const metrics = await send("/metrics", "", {}, "GET");
    expect(metrics.text).toContain(`esql_push_queries_running ${MAX_PUSH}`);

    // At the limit: pull queries are not push queries, and are answered.
    const pulls = await Promise.all(
      Array.from({ length: 20 }, () => post("/query", { ksql: "SELECT * FROM t WHERE id = 'a';" })),
    );
    for (const p of pulls) {
      expect(p.status, p.text).toBe(200);
      expect(p.text).toContain('"columns":["a",1]');
    }
    const streamPull = await post("/query-stream", { sql: "SELECT * FROM t WHERE id = 'a';" });
    expect(streamPull.status, streamPull.text).toBe(200);
    expect((await post("/query-stream", { sql: "SELECT * FROM ev EMIT CHANGES;" })).status).toBe(429);

    // Clients that leave free their slots.
    for (const s of streams) s.destroy();
    await until("a push query is admitted again", async () => {
      const m = await send("/metrics", "", {}, "GET");
      return m.text.includes("esql_push_queries_running 0");
    });
    const again = await post("/query", {
      ksql: "SELECT * FROM ev EMIT CHANGES LIMIT 1;",
      streamsProperties: { "auto.offset.reset": "earliest" },
    });
    expect(again.status, again.text).toBe(200);
  });

  it("refuses deep, huge, malformed and misshapen bodies with 400/413 and an error body", async () => {
    const deepProps = `{"ksql":"SHOW STREAMS;","streamsProperties":${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}}`;
    const deepArray = "[".repeat(400_000) + "]".repeat(400_000);
    const cases: [string, string, number, RegExp][] = [
      ["/ksql", deepProps, 400, /nests deeper than 32/],
      ["/query-stream", deepArray, 400, /nests deeper than 32/],
      ["/ksql", '{"ksql": "SHOW STREAMS;", "streamsProperties": {"a": {"b": 1}}}', 400, /streamsProperties\.a/],
      ["/ksql", '{"ksql": "SHOW STREAMS;", "streamsProperties": [1]}', 400, /streamsProperties/],
      ["/ksql", '{"ksql": 42}', 400, /"ksql": .*string/],
      ["/ksql", "{}", 400, /"ksql"/],
      ["/query-stream", '{"ksql": "SELECT * FROM t;"}', 400, /"sql"/],
      ["/close-query", '{"queryId": 7}', 400, /"queryId"/],
      ["/ksql", "[1, 2]", 400, /JSON object/],
      ["/ksql", "{not json", 400, /not valid JSON/],
      ["/ksql", JSON.stringify({ ksql: "x".repeat(2 << 20) }), 413, /exceeds the limit/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await post(path, body);
      expect(r.status, `${path} ${body.slice(0, 60)}: ${r.text.slice(0, 200)}`).toBe(status);
      expect(r.json?.["@type"]).toBe("generic_error");
      expect(r.json?.error_code).toBe(status * 100);
      expect(String(r.json?.message)).toMatch(message);
    }
    // Scalars of any JSON type are fine as property values (ksqlDB's clients send numbers and booleans).
    const props = await post("/ksql", {
      ksql: "SHOW STREAMS;",
      streamsProperties: { "cache.max.bytes.buffering": 0, "x.flag": true, "y.unset": null },
      sessionVariables: {},
    });
    expect(props.status, props.text).toBe(200);
  });

  it("answers 415 to bodies that are not JSON, and accepts what ksqlDB's clients and fetch send", async () => {
    const body = JSON.stringify({ ksql: "SHOW STREAMS;" });
    for (const type of [
      "text/html",
      "application/octet-stream",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
    ]) {
      const r = await send("/ksql", body, { "content-type": type });
      expect(r.status, type).toBe(415);
      expect(r.json).toMatchObject({ "@type": "generic_error", error_code: 41500 });
    }
    for (const type of [
      undefined,
      "application/json",
      "application/json; charset=utf-8",
      "application/vnd.ksql.v1+json; charset=utf-8",
      "text/plain;charset=UTF-8",
    ]) {
      const r = await send("/ksql", body, type ? { "content-type": type } : {});
      expect(r.status, String(type)).toBe(200);
    }
    const delimited = await send("/query-stream", JSON.stringify({ sql: "SELECT * FROM t WHERE id = 'a';" }), {
      "content-type": "application/vnd.ksqlapi.delimited.v1",
      accept: "application/vnd.ksqlapi.delimited.v1",
    });
    expect(delimited.status).toBe(200);
    expect(delimited.text.trim().split("\n")[1]).toBe('["a",1]');
  });

  it("keeps every object name inside the data folder, whatever the statement", { timeout: 120_000 }, async () => {
    await checkNamesStayInside((ksql) => post("/ksql", { ksql }), root, data);
    expect((await post("/ksql", { ksql: "SHOW STREAMS;" })).status).toBe(200);
  });

  it("prints no warnings (listener leaks) and no stack traces", () => {
    expect(output).not.toMatch(/Warning|\n\s+at /);
  });

  it(
    "answers statements that are expensive to compile with 400, and stays responsive",
    { timeout: 60_000 },
    async () => {
      const decimal = await post("/query", {
        ksql: "SELECT CAST(1 AS DECIMAL(10, 1000000)) AS d FROM t WHERE id = 'a';",
      });
      expect(decimal.status, decimal.text).toBe(400);
      expect(decimal.json?.["@type"]).toBe("statement_error");
      const literal = "9".repeat(400_000);
      for (const [path, body] of [
        ["/ksql", { ksql: `SELECT ${literal} FROM t WHERE id = 'a';` }],
        ["/query", { ksql: `SELECT ${literal} FROM t WHERE id = 'a';` }],
        ["/query-stream", { sql: `SELECT ${literal} FROM t WHERE id = 'a';` }],
      ] as const) {
        const r = await post(path, body);
        expect(r.status, `${path}: ${r.text.slice(0, 200)}`).toBe(400);
        expect(r.json).toMatchObject({ "@type": "generic_error", error_code: 40000 });
        expect(String(r.json?.message)).toMatch(/more than the limit of 65536/);
      }
      // Just inside the length limit: a long literal is refused by the compiler's own limits.
      const longLiteral = await post("/query", { ksql: `SELECT ${"9".repeat(60_000)} AS n FROM t WHERE id = 'a';` });
      expect(longLiteral.status, longLiteral.text.slice(0, 300)).toBe(400);
      expect((await post("/query", { ksql: "SELECT * FROM t WHERE id = 'a';" })).status).toBe(200);
    },
  );
});
