/**
 * The server over HTTP/2 (cleartext, prior knowledge, as ksqlDB's Java client speaks it) on the same port as
 * HTTP/1.1; the `/query-stream` formats; `/metrics` parsed as Prometheus text.
 */
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../fixtures/eventually.ts";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";

let dir: string;
let engine: Engine;
let server: RunningServer;
let session: ClientHttp2Session;

interface H2Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

/** One request on the shared HTTP/2 session; resolves when the stream ends. */
const h2 = (path: string, body?: string, headers: Record<string, string> = {}): Promise<H2Answer> =>
  new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": body === undefined ? "GET" : "POST",
      ":path": path,
      "content-type": "application/json",
      ...headers,
    });
    let status = 0;
    let responseHeaders: Record<string, unknown> = {};
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      responseHeaders = h;
    });
    stream.on("data", (d: string) => (text += d));
    stream.on("end", () => resolve({ status, headers: responseHeaders, text }));
    stream.on("error", reject);
    stream.end(body);
  });

/** Starts a push query on /query-stream and resolves with its stream once the header line has arrived. */
const openPush = (sql: string) =>
  new Promise<{
    id: string;
    stream: import("node:http2").ClientHttp2Stream;
    lines: () => string[];
    ended: Promise<void>;
  }>((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": "/query-stream" });
    let text = "";
    let resolved = false;
    const ended = new Promise<void>((r) => stream.on("close", () => r()));
    stream.setEncoding("utf8");
    stream.on("error", () => {});
    stream.on("data", (d: string) => {
      text += d;
      if (!resolved && text.includes("\n")) {
        resolved = true;
        resolve({
          id: JSON.parse(text.split("\n")[0]!).queryId,
          stream,
          lines: () => text.split("\n").filter(Boolean),
          ended,
        });
      }
    });
    stream.on("end", () => {
      if (!resolved) reject(new Error(`push query ended before its header: ${text}`));
    });
    stream.end(JSON.stringify({ sql, properties: { "auto.offset.reset": "earliest" } }));
  });

const until = (f: () => Promise<boolean>) => eventually(f, 5_000, async () => "the condition never held", 25);

beforeAll(async () => {
  dir = tempDir("esql-http2-");
  engine = await openEngine({ dataDir: dir });
  server = await startServer({ engine, maxBodyBytes: 64 * 1024, drainIntervalMs: 20 });
  session = connect(server.url);
  session.on("error", () => {});
});
afterAll(async () => {
  session.close();
  await server.close();
});

describe("HTTP/2", () => {
  it("serves statements, pull queries and push queries with LIMIT", async () => {
    const r = await h2(
      "/ksql",
      JSON.stringify({
        ksql: `CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=2);
               CREATE TABLE t AS SELECT k, SUM(v) AS total FROM s GROUP BY k;
               INSERT INTO s (k, v) VALUES ('a', 1); INSERT INTO s (k, v) VALUES ('a', 2); INSERT INTO s (k, v) VALUES ('b', 5);`,
      }),
    );
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toHaveLength(5);

    // Pull: delimited (the default): the header line, then one JSON array per row.
    let pull: H2Answer | undefined;
    await until(async () => {
      pull = await h2("/query-stream", JSON.stringify({ sql: "SELECT * FROM t WHERE k = 'a';" }));
      return pull.text.includes('["a",3]');
    });
    expect(pull!.status).toBe(200);
    expect(pull!.headers["content-type"]).toBe("application/vnd.ksqlapi.delimited.v1");
    const [header, ...rows] = pull!.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(header).toMatchObject({ columnNames: ["K", "TOTAL"], columnTypes: ["STRING", "INTEGER"] });
    expect(rows).toEqual([["a", 3]]);

    // The JSON variant: one array of the header and the rows.
    const json = await h2("/query-stream", JSON.stringify({ sql: "SELECT k, total FROM t WHERE k IN ('a', 'b');" }), {
      accept: "application/json",
    });
    expect(json.headers["content-type"]).toBe("application/json");
    const all = JSON.parse(json.text);
    expect(all[0]).toMatchObject({ columnNames: ["K", "TOTAL"] });
    expect(all.slice(1).sort()).toEqual([
      ["a", 3],
      ["b", 5],
    ]);

    // Push with LIMIT ends by itself.
    const push = await h2(
      "/query-stream",
      JSON.stringify({
        sql: "SELECT k, v FROM s EMIT CHANGES LIMIT 2;",
        properties: { "auto.offset.reset": "earliest" },
      }),
    );
    const lines = push.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0].columnNames).toEqual(["K", "V"]);
    expect(lines.slice(1)).toHaveLength(2);

    // /query (chunked JSON array) and the GET endpoints answer on HTTP/2 too.
    const q = await h2("/query", JSON.stringify({ ksql: "SELECT * FROM t WHERE k = 'b';" }));
    expect(JSON.parse(q.text)[1]).toEqual({ row: { columns: ["b", 5] } });
    expect(JSON.parse((await h2("/info")).text).KsqlServerInfo.serverStatus).toBe("RUNNING");
    expect(JSON.parse((await h2("/healthcheck")).text).isHealthy).toBe(true);
  });

  it("closes a running push query on /close-query", async () => {
    const p = await openPush("SELECT * FROM s EMIT CHANGES;");
    await until(async () => p.lines().length >= 4);
    const c = await h2("/close-query", JSON.stringify({ queryId: p.id }));
    expect(c.status).toBe(200);
    await p.ended;
    expect((await h2("/close-query", JSON.stringify({ queryId: p.id }))).status).toBe(400);
    const m = await h2("/metrics");
    expect(m.text).toMatch(/^esql_push_queries_running 0$/m);
  });

  it("survives hostile requests: bad JSON, huge bodies, unknown paths, streams reset mid-way, broken sessions", async () => {
    const bad = await h2("/ksql", "{not json");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ "@type": "generic_error", error_code: 40000 });
    const huge = await h2("/ksql", JSON.stringify({ ksql: "x".repeat(200_000) }));
    expect(huge.status).toBe(413);
    expect((await h2("/nope")).status).toBe(404);
    const sqlErr = await h2("/query-stream", JSON.stringify({ sql: "SELECT nope FROM s;" }));
    expect(sqlErr.status).toBe(400);
    expect(JSON.parse(sqlErr.text).message).toMatch(/Line: 1, Col: \d+/);

    // A client that resets its stream while a push query streams, and one that resets while uploading.
    const p = await openPush("SELECT * FROM s EMIT CHANGES;");
    p.stream.close(constants.NGHTTP2_CANCEL);
    await p.ended;
    const upload = session.request({ ":method": "POST", ":path": "/ksql" });
    upload.on("error", () => {});
    await new Promise((r) => upload.write('{"ksql": "SHOW', r)); // the partial body is on the wire
    upload.close(constants.NGHTTP2_CANCEL);
    await until(async () => !/esql_push_queries_running [1-9]/.test((await h2("/metrics")).text));

    // A session that sends the preface and then garbage, and one that dies mid-request.
    const { connect: tcp } = await import("node:net");
    await new Promise<void>((resolve) => {
      const sock = tcp(server.port, "127.0.0.1", () =>
        sock.end(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.alloc(64, 0xff)])),
      );
      sock.on("data", () => {});
      sock.on("close", () => resolve());
      sock.on("error", () => resolve());
    });
    const doomed = connect(server.url);
    doomed.on("error", () => {});
    const s = doomed.request({ ":method": "POST", ":path": "/query-stream" });
    s.on("error", () => {});
    await new Promise((r) => s.write('{"sql": "SELECT * FROM s EMIT CHANGES;"}', r));
    doomed.destroy();

    // Still serving both protocols.
    expect(JSON.parse((await h2("/healthcheck")).text).isHealthy).toBe(true);
    const h1 = await fetch(server.url + "/query-stream", {
      method: "POST",
      body: JSON.stringify({ sql: "SELECT * FROM t WHERE k = 'a';" }),
      headers: { "content-type": "application/json" },
    });
    expect(h1.status).toBe(200);
    expect((await h1.text()).trim().split("\n")[1]).toBe('["a",3]');
  });

  it("exposes metrics in the Prometheus text format", async () => {
    const m = await h2("/metrics");
    expect(m.status).toBe(200);
    expect(m.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    // Parse: every line is a comment (# HELP / # TYPE) or `name{labels} value`; every sample's family is typed.
    const types = new Map<string, string>();
    const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
    for (const line of m.text.split("\n")) {
      if (line === "") continue;
      const t = /^# TYPE (\w+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) {
        types.set(t[1]!, t[2]!);
        continue;
      }
      if (line.startsWith("# HELP ")) continue;
      const s = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      expect(s, line).not.toBeNull();
      const labels: Record<string, string> = {};
      for (const l of (s![2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      const value = Number(s![3] === "+Inf" ? Infinity : s![3]);
      expect(Number.isNaN(value), line).toBe(false);
      samples.push({ name: s![1]!, labels, value });
    }
    for (const s of samples)
      expect(types.has(s.name.replace(/_(bucket|sum|count)$/, "")) || types.has(s.name), s.name).toBe(true);
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

    const processed = one("esql_records_processed_total");
    expect(processed.length).toBe(1);
    expect(processed[0]!.labels.query_id).toMatch(/^CTAS_T_\d+$/);
    expect(processed[0]!.value).toBe(3);
    expect(one("esql_processing_errors_total")[0]!.value).toBe(0);
    // One lag sample per input partition of each task: both partitions of s, all caught up.
    const lag = one("esql_consumer_lag", { topic: "s" });
    expect(lag.map((l) => l.labels.partition).sort()).toEqual(["0", "1"]);
    expect(lag.every((l) => l.value === 0)).toBe(true);
    // Pull latency: a histogram with cumulative buckets ending at +Inf = count.
    expect(types.get("esql_pull_query_latency_seconds")).toBe("histogram");
    const buckets = one("esql_pull_query_latency_seconds_bucket");
    const count = one("esql_pull_query_latency_seconds_count")[0]!.value;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: "+Inf" }, value: count });
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(one("esql_pull_query_latency_seconds_sum")[0]!.value).toBeGreaterThan(0);

    // A record that cannot be decoded counts as a processing error of the query that reads it.
    await engine.log.append("s", [{ key: Buffer.from("zz"), value: Buffer.from("not json") }]);
    await until(async () =>
      /esql_processing_errors_total\{query_id="CTAS_T_\d+"\} 1/.test((await h2("/metrics")).text),
    );
  });
});
