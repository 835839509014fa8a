/**
 * Push queries write each row as its own HTTP/1.1 chunk and its own HTTP/2 DATA frame, as ksqlDB does (clients
 * parse one row per chunk), even when many rows are ready at once; insert acks likewise. HTTP/1.1 is read from a
 * raw socket (the chunk framing as sent); HTTP/2 through Node's client, whose `data` events are the DATA frames'
 * payloads.
 */
import { connect as connectTcp, type Socket } from "node:net";
import { connect, type ClientHttp2Session } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { eventually } from "../fixtures/eventually.ts";
import { tempDir } from "../fixtures/temp.ts";

let engine: Engine;
let server: RunningServer;
let session: ClientHttp2Session;

const ROWS = 50;

/** Inserts `n` rows in one request (one append: the push query gets them in one batch). */
async function insertBurst(from: number, n: number) {
  const body = [
    JSON.stringify({ target: "events" }),
    ...Array.from({ length: n }, (_, i) => JSON.stringify({ ID: from + i, NAME: `e${from + i}` })),
  ].join("\n");
  const res = await fetch(server.url + "/inserts-stream", { method: "POST", body });
  expect(res.status).toBe(200);
  await res.text();
}

/** The chunks of a chunked HTTP/1.1 response read from a raw socket, as framed by the server. */
function rawChunks(socket: Socket) {
  const chunks: string[] = [];
  let head: string | undefined;
  let buffered = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    if (head === undefined) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      head = buffered.subarray(0, end).toString("latin1");
      buffered = buffered.subarray(end + 4);
    }
    for (;;) {
      const line = buffered.indexOf("\r\n");
      if (line < 0) return;
      const size = parseInt(buffered.subarray(0, line).toString("latin1"), 16);
      if (buffered.length < line + 2 + size + 2) return;
      chunks.push(buffered.subarray(line + 2, line + 2 + size).toString("utf8"));
      buffered = buffered.subarray(line + 2 + size + 2);
    }
  });
  return { chunks, head: () => head };
}

beforeAll(async () => {
  engine = await Engine.open({ dataDir: tempDir() });
  server = await startServer({ engine, drainIntervalMs: 20 });
  session = connect(server.url);
  const r = await fetch(server.url + "/ksql", {
    method: "POST",
    body: JSON.stringify({
      ksql: "CREATE STREAM events (id BIGINT KEY, name STRING) WITH (kafka_topic = 'events', value_format = 'JSON', partitions = 1);",
    }),
  });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  session.close();
  await server.close();
  await engine.close();
});

describe("push query framing", { timeout: 60_000 }, () => {
  for (const [path, body, rowOf] of [
    ["/query-stream", { sql: "SELECT * FROM events EMIT CHANGES;" }, (c: string) => JSON.parse(c) as unknown],
    [
      "/query",
      { ksql: "SELECT * FROM events EMIT CHANGES;" },
      (c: string) => (JSON.parse(c.replace(/^,\n/, "")) as { row: { columns: unknown } }).row.columns,
    ],
  ] as const) {
    it(`HTTP/1.1 ${path}: one row per chunk`, async () => {
      const socket = connectTcp(server.port, "127.0.0.1");
      const read = rawChunks(socket);
      const text = JSON.stringify(body);
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
      await eventually(
        async () => read.chunks.length >= 1,
        10_000,
        async () => `the header; got ${read.head()}`,
        20,
      );
      expect(read.head()).toMatch(/transfer-encoding: chunked/i);
      await insertBurst(0, ROWS);
      await eventually(
        async () => read.chunks.length >= ROWS + 1,
        10_000,
        async () => `${ROWS} rows; got ${read.chunks.length - 1}`,
        20,
      );
      const rows = read.chunks.slice(1).map(rowOf);
      expect(rows).toEqual(Array.from({ length: ROWS }, (_, i) => [i, `e${i}`]));
      socket.destroy();
    });
  }

  it("HTTP/2 /query-stream: one row per DATA frame", async () => {
    const stream = session.request({ ":method": "POST", ":path": "/query-stream" });
    stream.end(JSON.stringify({ sql: "SELECT * FROM events EMIT CHANGES;" }));
    stream.setEncoding("utf8");
    const frames: string[] = [];
    stream.on("data", (d: string) => frames.push(d));
    await eventually(
      async () => frames.length >= 1,
      10_000,
      async () => "the header",
      20,
    );
    await insertBurst(5000, ROWS);
    await eventually(
      async () => frames.length >= ROWS + 1,
      10_000,
      async () => `${ROWS} rows; got ${frames.length - 1}`,
      20,
    );
    expect(frames.every((f) => f.endsWith("\n") && f.indexOf("\n") === f.length - 1)).toBe(true);
    expect(frames.slice(1).map((f) => JSON.parse(f) as unknown)).toEqual(
      Array.from({ length: ROWS }, (_, i) => [5000 + i, `e${5000 + i}`]),
    );
    stream.close();
  });

  it("HTTP/2 /inserts-stream: one ack per DATA frame", async () => {
    const stream = session.request({ ":method": "POST", ":path": "/inserts-stream" });
    stream.setEncoding("utf8");
    const frames: string[] = [];
    stream.on("data", (d: string) => frames.push(d));
    const ended = new Promise((r) => stream.on("end", r));
    stream.end(
      [
        JSON.stringify({ target: "events" }),
        ...Array.from({ length: ROWS }, (_, i) => JSON.stringify({ ID: 9000 + i, NAME: "x" })),
      ].join("\n"),
    );
    await ended;
    // Each frame is one whole ack (it parses alone): ksqlDB's fields, and esql's position token.
    expect(frames.map((f) => JSON.parse(f) as unknown)).toEqual(
      Array.from({ length: ROWS }, (_, seq) => ({ status: "ok", seq, position: expect.any(String) })),
    );
  });
});
