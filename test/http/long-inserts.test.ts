/**
 * An insert stream lives as long as its client sends rows, over HTTP/1.1 too: the request timeout bounds the
 * arrival of its target line, not the rows after it. Other requests keep their deadline.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { tempDir } from "../fixtures/temp.ts";

const REQUEST_TIMEOUT_MS = 1_000;
let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  engine = await Engine.open({ dataDir: tempDir() });
  server = await startServer({
    engine,
    drainIntervalMs: 20,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    headersTimeoutMs: 500,
  });
  const r = await fetch(server.url + "/ksql", {
    method: "POST",
    body: JSON.stringify({
      ksql: "CREATE STREAM pings (id BIGINT KEY, n INT) WITH (kafka_topic = 'pings', value_format = 'JSON', partitions = 1);",
    }),
  });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await server.close();
  await engine.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw HTTP/1.1 connection: what it received, and whether it is closed. */
function rawConnection() {
  const socket = connect(server.port, "127.0.0.1");
  const state = { got: "", closed: false };
  socket.on("data", (d: Buffer) => (state.got += d.toString("utf8")));
  socket.on("error", () => {});
  socket.on("close", () => (state.closed = true));
  return { socket, state };
}

/** One HTTP/1.1 chunk. */
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

it("an HTTP/1.1 insert stream outlives the request timeout, acknowledging every row", { timeout: 30_000 }, async () => {
  const { socket, state } = rawConnection();
  socket.write("POST /inserts-stream HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
  socket.write(chunk(`${JSON.stringify({ target: "pings" })}\n`));
  const rows = 8;
  for (let i = 0; i < rows; i++) {
    socket.write(chunk(`${JSON.stringify({ ID: i, N: i })}\n`));
    await sleep(REQUEST_TIMEOUT_MS / 2);
  }
  // Four times the request timeout later, still open and acknowledging.
  expect(state.closed).toBe(false);
  socket.write("0\r\n\r\n");
  const until = Date.now() + 5_000;
  while (!state.got.includes(`"seq":${rows - 1}`) && Date.now() < until) await sleep(20);
  expect(state.got).toMatch(/^HTTP\/1\.1 200/);
  // ksqlDB's ack fields, then esql's position token (read your writes).
  for (let seq = 0; seq < rows; seq++) expect(state.got).toContain(`{"status":"ok","seq":${seq},"position":"`);
  socket.destroy();
});

it(
  "an insert stream whose target line does not come in time, and a slow /ksql body, get 408",
  { timeout: 30_000 },
  async () => {
    const inserts = rawConnection();
    inserts.socket.write("POST /inserts-stream HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
    inserts.socket.write(chunk('{"target"'));
    const ksql = rawConnection();
    ksql.socket.write(
      "POST /ksql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
    );
    const t0 = Date.now();
    while (!(inserts.state.closed && ksql.state.closed) && Date.now() - t0 < 10_000) await sleep(20);
    expect(Date.now() - t0).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    expect(inserts.state.got).toMatch(/^HTTP\/1\.1 408/);
    expect(ksql.state.got).toMatch(/^HTTP\/1\.1 408/);
  },
);
