import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { murmur2, partitionForKey } from "../../../runtime/log/partition.ts";
import { LogError } from "../../../runtime/log/types.ts";
import { tempDir } from "../../fixtures/temp.ts";

const b = (s: string): Buffer => Buffer.from(s, "utf8");

describe("murmur2 (Kafka's Utils.murmur2)", () => {
  // Reference vectors from Kafka's UtilsTest.testMurmur2.
  it.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
    ["", 275646681],
  ])("hashes %j like Kafka", (input, expected) => {
    expect(murmur2(b(input))).toBe(expected);
  });

  it("picks toPositive(hash) % partitions", () => {
    // (-790332482 & 0x7fffffff) = 1357151166; 1357151166 % 50 = 16
    expect(partitionForKey(b("foobar"), 50)).toBe(16);
    expect(partitionForKey(b("21"), 1)).toBe(0);
  });
});

describe("EmbeddedLog", () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir("esql-log-");
    log = await EmbeddedLog.open(dir);
  });
  afterEach(async () => {
    await log.close();
  });

  it("creates, lists, describes and deletes topics", async () => {
    expect(await log.createTopic("a", { partitions: 3 })).toBe(true);
    expect(await log.createTopic("a", { partitions: 5 })).toBe(false);
    await log.createTopic("b", { partitions: 1, config: { cleanupPolicy: "compact" } });
    expect(await log.listTopics()).toEqual(["a", "b"]);
    expect(await log.describeTopic("a")).toEqual({ name: "a", partitions: 3, config: {} });
    expect((await log.describeTopic("b"))?.config).toEqual({ cleanupPolicy: "compact" });
    await log.deleteTopic("a");
    expect(await log.listTopics()).toEqual(["b"]);
    expect(await log.describeTopic("a")).toBeUndefined();
    await expect(log.deleteTopic("a")).rejects.toMatchObject({ code: "UNKNOWN_TOPIC" });
    await expect(log.createTopic("bad name", { partitions: 1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(log.createTopic("x", { partitions: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("appends and reads back records with keys, values, timestamps and headers", async () => {
    await log.createTopic("t", { partitions: 1 });
    const res = await log.append("t", [
      {
        key: b("k1"),
        value: b("v1"),
        timestamp: 1000,
        headers: [
          { key: "h", value: b("x") },
          { key: "n", value: null },
        ],
      },
      { key: null, value: null, timestamp: 2000 },
      { key: b(""), value: b(""), partition: 0 },
    ]);
    expect(res).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
      { partition: 0, offset: 2 },
    ]);
    expect(await log.endOffset("t", 0)).toBe(3);
    expect(await log.beginningOffset("t", 0)).toBe(0);
    const recs = await log.read("t", 0, 0, 10);
    expect(recs.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(recs[0]!.key?.toString()).toBe("k1");
    expect(recs[0]!.value?.toString()).toBe("v1");
    expect(recs[0]!.timestamp).toBe(1000);
    expect(recs[0]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ["h", "x"],
      ["n", null],
    ]);
    expect(recs[1]!.key).toBeNull();
    expect(recs[1]!.value).toBeNull();
    expect(recs[2]!.key?.length).toBe(0);
    expect(recs[2]!.value?.length).toBe(0);
    expect(recs[0]!.topic).toBe("t");
    expect(await log.read("t", 0, 1, 1)).toHaveLength(1);
    expect(await log.read("t", 0, 3, 10)).toEqual([]);
    await expect(log.read("t", 0, 4, 10)).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    await expect(log.read("t", 1, 0, 10)).rejects.toMatchObject({ code: "INVALID_PARTITION" });
    await expect(log.read("nope", 0, 0, 10)).rejects.toBeInstanceOf(LogError);
  });

  it("partitions keyed records like Kafka and null keys round-robin", async () => {
    await log.createTopic("p", { partitions: 50 });
    const res = await log.append("p", [
      { key: b("foobar"), value: b("1") },
      { key: b("foobar"), value: b("2") },
      { key: null, value: b("3") },
      { key: null, value: b("4") },
      { key: b("x"), value: b("5"), partition: 7 },
    ]);
    expect(res[0]).toEqual({ partition: 16, offset: 0 });
    expect(res[1]).toEqual({ partition: 16, offset: 1 });
    expect(res[2]!.partition).not.toBe(res[3]!.partition);
    expect(res[4]).toEqual({ partition: 7, offset: 0 });
    await expect(log.append("p", [{ key: null, value: null, partition: 50 }])).rejects.toMatchObject({
      code: "INVALID_PARTITION",
    });
  });

  it("keeps data and offsets across a restart, and a re-created topic starts empty", async () => {
    await log.createTopic("t", { partitions: 2 });
    await log.append("t", [
      { key: null, value: b("a"), partition: 0 },
      { key: null, value: b("b"), partition: 1 },
      { key: null, value: b("c"), partition: 1 },
    ]);
    await log.close();
    log = await EmbeddedLog.open(dir);
    expect(await log.describeTopic("t")).toMatchObject({ partitions: 2 });
    expect(await log.endOffset("t", 1)).toBe(2);
    expect((await log.read("t", 1, 0, 10)).map((r) => r.value?.toString())).toEqual(["b", "c"]);
    const [next] = await log.append("t", [{ key: null, value: b("d"), partition: 1 }]);
    expect(next).toEqual({ partition: 1, offset: 2 });
    await log.deleteTopic("t");
    await log.createTopic("t", { partitions: 2 });
    expect(await log.endOffset("t", 1)).toBe(0);
    expect(await log.read("t", 1, 0, 10)).toEqual([]);
  });

  it("reads from the middle of chunked appends and across chunks", async () => {
    await log.createTopic("c", { partitions: 1 });
    const many = Array.from({ length: 1000 }, (_, i) => ({
      key: null,
      value: b(`v${i}`),
      headers: i % 7 === 0 ? [{ key: "i", value: b(String(i)) }] : undefined,
    }));
    await log.append("c", many);
    await log.append("c", [{ key: null, value: b("v1000") }]);
    const recs = await log.read("c", 0, 300, 500);
    expect(recs.map((r) => r.offset)).toEqual(Array.from({ length: 500 }, (_, i) => 300 + i));
    expect(recs.every((r) => r.value?.toString() === `v${r.offset}`)).toBe(true);
    expect(recs.find((r) => r.offset === 301)?.headers[0]?.value?.toString()).toBe("301");
    const tail = await log.read("c", 0, 999, 10);
    expect(tail.map((r) => r.value?.toString())).toEqual(["v999", "v1000"]);
  });

  it("refuses a second opener of the same folder with a clear error", async () => {
    await expect(EmbeddedLog.open(dir)).rejects.toMatchObject({ code: "LOCKED" });
  });

  it("keeps offsets in call order for concurrent appends", async () => {
    await log.createTopic("t", { partitions: 1 });
    const all = await Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append("t", [{ key: null, value: b(String(i)) }])),
    );
    expect(all.map((r) => r[0]!.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const recs = await log.read("t", 0, 0, 100);
    expect(recs.map((r) => r.value?.toString())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it("waits for data and wakes on append; abort resolves false", async () => {
    await log.createTopic("t", { partitions: 2 });
    const waiting = log.waitForData("t", [
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    await log.append("t", [{ key: null, value: b("x"), partition: 1 }]);
    expect(await waiting).toBe(true);
    expect(await log.waitForData("t", [{ partition: 1, offset: 0 }])).toBe(true);
    const ac = new AbortController();
    const w2 = log.waitForData("t", [{ partition: 1, offset: 1 }], ac.signal);
    ac.abort();
    expect(await w2).toBe(false);
  });

  it("subscribe follows partitions and yields batches until aborted", async () => {
    await log.createTopic("t", { partitions: 2 });
    await log.append("t", [
      { key: null, value: b("a"), partition: 0 },
      { key: null, value: b("b"), partition: 1 },
    ]);
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const batch of log.subscribe(
        "t",
        [
          { partition: 0, offset: 0 },
          { partition: 1, offset: 0 },
        ],
        {
          signal: ac.signal,
          maxRecords: 10,
        },
      )) {
        for (const r of batch) seen.push(`${r.partition}:${r.offset}:${r.value?.toString()}`);
        if (seen.length === 3) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    await log.append("t", [{ key: null, value: b("c"), partition: 0 }]);
    await done;
    expect(seen.sort()).toEqual(["0:0:a", "0:1:c", "1:0:b"]);
  });
});

describe("EmbeddedLog retention and compaction", () => {
  let dir: string;
  let log: EmbeddedLog;
  const rec = (key: string | null, value: string | null, timestamp: number) => ({
    key: key === null ? null : b(key),
    value: value === null ? null : b(value),
    timestamp,
  });
  const offsets = async (topic: string, from: number, max = 100) =>
    (await log.read(topic, 0, from, max)).map((r) => [
      r.offset,
      r.key?.toString() ?? null,
      r.value?.toString() ?? null,
    ]);

  beforeEach(async () => {
    dir = tempDir("esql-log-clean-");
    log = await EmbeddedLog.open(dir, { cleanupIntervalMs: 0 });
  });
  afterEach(async () => {
    await log.close();
  });

  it("deletes the oldest chunks beyond retention.ms by record time; readers before the start get OFFSET_OUT_OF_RANGE", async () => {
    await log.createTopic("t", { partitions: 1, config: { retentionMs: 1000 } });
    // One chunk per append (a chunk is the segment).
    await log.append("t", [rec("a", "1", 100), rec("b", "2", 200)]);
    await log.append("t", [rec("c", "3", 1500)]);
    await log.append("t", [rec("d", "4", 300)]); // older, but behind a chunk that is kept: kept, as Kafka
    expect(await log.cleanup(2000)).toEqual({ deletedRecords: 2, compactedRecords: 0 });
    expect(await log.beginningOffset("t", 0)).toBe(2);
    expect(await log.endOffset("t", 0)).toBe(4);
    await expect(log.read("t", 0, 0, 10)).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    expect(await offsets("t", 2)).toEqual([
      [2, "c", "3"],
      [3, "d", "4"],
    ]);
    // Everything expired: the log starts at its end; new records continue the offsets.
    expect((await log.cleanup(10_000)).deletedRecords).toBe(2);
    expect(await log.beginningOffset("t", 0)).toBe(4);
    expect(await log.append("t", [rec("e", "5", 10_000)])).toEqual([{ partition: 0, offset: 4 }]);
    // Without retention (or policy compact), nothing is deleted.
    await log.createTopic("forever", { partitions: 1 });
    await log.append("forever", [rec("a", "1", 0)]);
    expect((await log.cleanup(10_000)).deletedRecords).toBe(0);
  });

  it("compacts to the latest record per key (active chunk untouched), drops old tombstones, keeps offsets", async () => {
    await log.createTopic("c", { partitions: 1, config: { cleanupPolicy: "compact", deleteRetentionMs: 1000 } });
    await log.append("c", [rec("k1", "a", 0), rec("k2", "b", 0), rec(null, "x", 0)]);
    await log.append("c", [rec("k1", "c", 10), rec("k2", null, 10), rec("k3", "d", 10)]);
    await log.append("c", [rec("k1", "e", 20)]); // the active chunk: neither compacted nor superseding
    expect((await log.cleanup(500)).compactedRecords).toBe(2);
    expect(await offsets("c", 0)).toEqual([
      [2, null, "x"],
      [3, "k1", "c"],
      [4, "k2", null],
      [5, "k3", "d"],
      [6, "k1", "e"],
    ]);
    // Reads start anywhere, gaps are skipped, and a small read still finds the next record.
    expect(await offsets("c", 0, 1)).toEqual([[2, null, "x"]]);
    expect(await offsets("c", 1, 1)).toEqual([[2, null, "x"]]);
    expect(await offsets("c", 4, 2)).toEqual([
      [4, "k2", null],
      [5, "k3", "d"],
    ]);
    // The tombstone goes once older than delete.retention.ms.
    expect((await log.cleanup(5000)).compactedRecords).toBe(1);
    await log.append("c", [rec("k3", "f", 30)]);
    await log.cleanup(5000); // the former active chunk is cleanable now: k1=c goes; k3=f is the active one
    expect(await offsets("c", 0)).toEqual([
      [2, null, "x"],
      [5, "k3", "d"],
      [6, "k1", "e"],
      [7, "k3", "f"],
    ]);
    expect(await log.beginningOffset("c", 0)).toBe(0);
    expect(await log.endOffset("c", 0)).toBe(8);
    // What compaction wrote survives a reopen.
    await log.close();
    log = await EmbeddedLog.open(dir, { cleanupIntervalMs: 0 });
    expect((await offsets("c", 3)).map((r) => r[0])).toEqual([5, 6, 7]);
  });

  it("applies both with compact,delete", async () => {
    await log.createTopic("cd", { partitions: 1, config: { cleanupPolicy: "compact,delete", retentionMs: 1000 } });
    await log.append("cd", [rec("k1", "a", 0)]);
    await log.append("cd", [rec("k2", "b", 5000), rec("k2", "c", 5000)]);
    await log.append("cd", [rec("k1", "d", 5000)]);
    expect(await log.cleanup(5500)).toEqual({ deletedRecords: 1, compactedRecords: 1 });
    expect(await offsets("cd", 1)).toEqual([
      [2, "k2", "c"],
      [3, "k1", "d"],
    ]);
  });
});
