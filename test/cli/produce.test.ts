/** `esql produce`: JSON lines into a topic of the embedded log (the Kafka side is in test/kafka/serve-produce.test.ts). */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { jsonErrorColumn, runProduce, type ProduceOptions } from "../../src/cli/produce.ts";
import { EmbeddedLog } from "../../runtime/log/embedded.ts";
import { readAll } from "../../runtime/testing/records.ts";
import { tempDir } from "../fixtures/temp.ts";

const BIN = resolve(import.meta.dirname, "../../bin/esql.js");
const dir = tempDir("esql-produce-");

/** Runs produce in process on `lines` (stdin); returns the exit code and stderr. */
async function produce(
  topic: string,
  lines: string,
  options: Partial<ProduceOptions>,
): Promise<{ code: number; err: string }> {
  let err = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      err += String(chunk);
      done();
    },
  });
  const code = await runProduce(topic, { data: join(dir, "data"), ...options }, Readable.from([lines]), sink);
  return { code, err };
}

async function records(topic: string) {
  const log = await EmbeddedLog.open(join(dir, "data", "log"));
  try {
    const d = await log.describeTopic(topic);
    const recs = await readAll(log, topic);
    return {
      partitions: d?.partitions,
      recs: recs.map((r) => ({
        key: r.key?.toString() ?? null,
        value: r.value?.toString() ?? null,
        timestamp: r.timestamp,
        partition: r.partition,
      })),
    };
  } finally {
    await log.close();
  }
}

describe("esql produce", () => {
  it("writes each line as the value, with the key and time from fields, creating the topic", async () => {
    const lines = [
      '{"id": "a", "n": 1.10, "ts": 1000}',
      "",
      "// a comment",
      ' {"id": "b", "n": 2, "ts": "1970-01-01T00:00:02Z"}',
      '{"id": 7, "n": 3, "ts": 3000}',
    ].join("\n");
    const r = await produce("events", lines, { key: "id", timestamp: "ts", partitions: 4 });
    expect(r.err).toContain("produced 3 record(s) to events");
    expect(r.code).toBe(0);
    const { partitions, recs } = await records("events");
    expect(partitions).toBe(4);
    expect(recs.map((x) => [x.key, x.value, x.timestamp]).sort()).toEqual([
      ["7", '{"id": 7, "n": 3, "ts": 3000}', 3000],
      ["a", '{"id": "a", "n": 1.10, "ts": 1000}', 1000],
      ["b", '{"id": "b", "n": 2, "ts": "1970-01-01T00:00:02Z"}', 2000],
    ]);
  });

  it("reads key/value envelopes, with tombstones and headers", async () => {
    const lines = [
      '{"key": "k1", "value": {"A": 1}, "timestamp": 5}',
      '{"key": "k1", "value": null, "timestamp": 6, "headers": [{"KEY": "h", "VALUE": "AQI="}]}',
    ].join("\n");
    const r = await produce("env", lines, { envelope: true });
    expect(r.code).toBe(0);
    const { recs } = await records("env");
    expect(recs.map((x) => [x.key, x.value, x.timestamp])).toEqual([
      ["k1", '{"A":1}', 5],
      ["k1", null, 6],
    ]);
  });

  it("keeps numbers beyond 2^53 exact in keys and envelope values", async () => {
    const lines = [
      '{"key": 9223372036854775807, "value": {"A": -9223372036854775808, "B": [9007199254740993, 1.5]}}',
      '{"id": 9007199254740993, "n": 1}',
    ];
    expect((await produce("big-env", lines[0]!, { envelope: true })).code).toBe(0);
    expect((await records("big-env")).recs.map((x) => [x.key, x.value])).toEqual([
      ["9223372036854775807", '{"A":-9223372036854775808,"B":[9007199254740993,1.5]}'],
    ]);
    expect((await produce("big-key", lines[1]!, { key: "id" })).code).toBe(0);
    expect((await records("big-key")).recs.map((x) => [x.key, x.value])).toEqual([["9007199254740993", lines[1]]]);
  });

  it("stops at the first bad line with line:col, having written the lines before it", async () => {
    const r = await produce("bad", ['{"a": 1}', '{"a": 2}', '  {"a": }', '{"a": 4}'].join("\n"), {});
    expect(r.code).toBe(1);
    expect(r.err).toContain("<stdin>:3:9: invalid JSON");
    expect(r.err).toContain("2 record(s) before line 3 written");
    expect((await records("bad")).recs.map((x) => x.value)).toEqual(['{"a": 1}', '{"a": 2}']);
  });

  it("--skip-bad reports bad lines and goes on", async () => {
    const r = await produce("skip", ['{"a": 1}', "{oops", '{"a": 3}', "[1]"].join("\n"), { skipBad: true, key: "a" });
    expect(r.code).toBe(0);
    expect(r.err).toContain("<stdin>:2:2: invalid JSON");
    expect(r.err).toContain("<stdin>:4: expected a JSON object (for --key/--timestamp), found an array (skipped)");
    expect(r.err).toContain("produced 2 record(s) to skip");
    expect((await records("skip")).recs.map((x) => x.key)).toEqual(["1", "3"]);
  });

  it("points at the column where a line stops being JSON", () => {
    expect(jsonErrorColumn('{"a": }')).toBe(7);
    expect(jsonErrorColumn('{"a": 1')).toBe(8);
    expect(jsonErrorColumn('{"a": tru}')).toBe(10);
    expect(jsonErrorColumn('{"a": 1} x')).toBe(10);
    expect(jsonErrorColumn('{"a": "\\q"}')).toBe(9);
  });

  it("runs from the command line on a file, and refuses bad usage", () => {
    writeFileSync(join(dir, "in.jsonl"), '{"k": "x", "v": 1}\n{"k": "y", "v": 2}\n');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
        timeout: 60_000,
      });
    let r = run("produce", "cli", "in.jsonl", "--key", "k", "--data", "cli-data");
    expect(r.stderr).toContain("produced 2 record(s) to cli on the embedded log in cli-data");
    expect(r.status).toBe(0);
    r = run("produce", "cli", "missing.jsonl", "--data", "cli-data");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no such file: missing.jsonl");
    r = run("produce", "cli", "in.jsonl", "--envelope", "--key", "k", "--data", "cli-data");
    expect(r.status).toBe(2);
  });
});
