import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionForKey } from "../../../runtime/log/partition.ts";
import { LogError, type EventLog, type LogRecord, type ProduceRecord } from "../../../runtime/log/types.ts";

/** What an implementation may legitimately do differently; every difference is documented at the class. */
export interface LogContractCapabilities {
  /** kafkajs cannot encode null header values: the Kafka log rejects them with INVALID_ARGUMENT. */
  readonly nullHeaderValues: boolean;
}

/**
 * Registers the `EventLog` contract suite under `describe(name)`. `open` makes a fresh log (on a fresh
 * folder, or a new client of a shared broker); each test uses topics with a random suffix, so logs of a
 * shared broker do not see each other's topics. `dispose` runs after the log is closed.
 */
export function describeEventLogContract(
  name: string,
  open: () => Promise<EventLog>,
  capabilities: LogContractCapabilities,
): void {
  describe(`EventLog contract: ${name}`, () => {
    let log: EventLog;
    beforeAll(async () => {
      log = await open();
    });
    /** Every topic name handed out: what a test leaves behind (it failed, or keeps its topic) is deleted after. */
    const named: string[] = [];
    afterAll(async () => {
      if (!log) return;
      try {
        const left = new Set(await log.listTopics());
        for (const t of named) if (left.has(t)) await log.deleteTopic(t).catch(() => undefined);
      } finally {
        await log.close();
      }
    });

    const topicName = (what: string): string => {
      const name = `contract-${what}-${randomBytes(4).toString("hex")}`;
      named.push(name);
      return name;
    };
    const buf = (s: string): Buffer => Buffer.from(s, "utf8");

    it("creates, lists, describes and deletes topics", async () => {
      const t = topicName("topics");
      const compacted = topicName("compacted");
      expect(await log.createTopic(t, { partitions: 3 })).toBe(true);
      expect(await log.createTopic(t, { partitions: 5 })).toBe(false);
      expect(await log.createTopic(compacted, { partitions: 1, config: { cleanupPolicy: "compact" } })).toBe(true);
      const listed = await log.listTopics();
      expect(listed).toContain(t);
      expect(listed).toContain(compacted);
      expect(listed).toEqual([...listed].sort());
      expect(listed.some((n) => n.startsWith("__"))).toBe(false);
      expect(await log.describeTopic(t)).toEqual({ name: t, partitions: 3, config: {} });
      expect(await log.describeTopic(compacted)).toEqual({
        name: compacted,
        partitions: 1,
        config: { cleanupPolicy: "compact" },
      });
      expect(await log.describeTopic(topicName("missing"))).toBeUndefined();

      await log.deleteTopic(t);
      await log.deleteTopic(compacted);
      expect(await log.listTopics()).not.toContain(t);
      expect(await log.describeTopic(t)).toBeUndefined();
      await expectCode(log.deleteTopic(t), "UNKNOWN_TOPIC");
    });

    it("keeps a retention setting", async () => {
      const t = topicName("retention");
      await log.createTopic(t, { partitions: 1, config: { retentionMs: 3_600_000 } });
      expect((await log.describeTopic(t))?.config.retentionMs).toBe(3_600_000);
      await log.deleteTopic(t);
    });

    it("rejects bad topic names and partition counts", async () => {
      await expectCode(log.createTopic("has space", { partitions: 1 }), "INVALID_ARGUMENT");
      await expectCode(log.createTopic(topicName("zero"), { partitions: 0 }), "INVALID_ARGUMENT");
    });

    it("appends and reads back keys, values, null values, headers and timestamps", async () => {
      const t = topicName("roundtrip");
      await log.createTopic(t, { partitions: 2 });
      const before = Date.now();
      const records: ProduceRecord[] = [
        { key: buf("k1"), value: buf("v1"), timestamp: 1_700_000_000_000, partition: 0 },
        { key: null, value: buf("no key"), partition: 0 },
        { key: buf("k2"), value: null, timestamp: 1_700_000_000_001, partition: 0 },
        {
          key: buf("k3"),
          value: Buffer.from([0, 1, 2, 255]),
          partition: 0,
          timestamp: 1_700_000_000_002,
          headers: [
            { key: "trace", value: buf("abc") },
            { key: "tag", value: buf("one") },
            { key: "tag", value: buf("two") },
            { key: "empty", value: Buffer.alloc(0) },
          ],
        },
        { key: buf(""), value: buf(""), partition: 1, timestamp: 1_700_000_000_003 },
      ];
      const results = await log.append(t, records);
      const after = Date.now();
      expect(results).toEqual([
        { partition: 0, offset: 0 },
        { partition: 0, offset: 1 },
        { partition: 0, offset: 2 },
        { partition: 0, offset: 3 },
        { partition: 1, offset: 0 },
      ]);

      const p0 = await log.read(t, 0, 0, 100);
      expect(p0.map(plain)).toEqual([
        { topic: t, partition: 0, offset: 0, key: "k1", value: "v1", timestamp: 1_700_000_000_000, headers: [] },
        { topic: t, partition: 0, offset: 1, key: null, value: "no key", timestamp: p0[1]!.timestamp, headers: [] },
        { topic: t, partition: 0, offset: 2, key: "k2", value: null, timestamp: 1_700_000_000_001, headers: [] },
        {
          topic: t,
          partition: 0,
          offset: 3,
          key: "k3",
          value: "\u0000\u0001\u0002\ufffd",
          timestamp: 1_700_000_000_002,
          headers: [
            ["trace", "abc"],
            ["tag", "one"],
            ["tag", "two"],
            ["empty", ""],
          ],
        },
      ]);
      // No timestamp given: the time of the append.
      expect(p0[1]!.timestamp).toBeGreaterThanOrEqual(before);
      expect(p0[1]!.timestamp).toBeLessThanOrEqual(after);
      expect(p0[3]!.value).toEqual(Buffer.from([0, 1, 2, 255]));
      expect((await log.read(t, 1, 0, 100)).map(plain)).toEqual([
        { topic: t, partition: 1, offset: 0, key: "", value: "", timestamp: 1_700_000_000_003, headers: [] },
      ]);
      await log.deleteTopic(t);
    });

    it(capabilities.nullHeaderValues ? "keeps null header values" : "rejects null header values", async () => {
      const t = topicName("nullheader");
      await log.createTopic(t, { partitions: 1 });
      const write = log.append(t, [{ key: null, value: buf("x"), headers: [{ key: "h", value: null }] }]);
      if (capabilities.nullHeaderValues) {
        await write;
        expect((await log.read(t, 0, 0, 10))[0]!.headers).toEqual([{ key: "h", value: null }]);
      } else {
        await expectCode(write, "INVALID_ARGUMENT");
        expect(await log.endOffset(t, 0)).toBe(0);
      }
      await log.deleteTopic(t);
    });

    it("reads from any offset, at most maxRecords, [] at the end, and rejects positions out of range", async () => {
      const t = topicName("read");
      await log.createTopic(t, { partitions: 1 });
      // Two appends: reads must cross a write (and, on Kafka, a record-batch) boundary.
      await log.append(t, values(0, 6));
      await log.append(t, values(6, 10));
      expect((await log.read(t, 0, 4, 3)).map((r) => r.offset)).toEqual([4, 5, 6]);
      expect((await log.read(t, 0, 7, 100)).map((r) => r.offset)).toEqual([7, 8, 9]);
      expect((await log.read(t, 0, 9, 100)).map((r) => r.value?.toString())).toEqual(["v9"]);
      expect(await log.read(t, 0, 10, 100)).toEqual([]);
      await expectCode(log.read(t, 0, 11, 100), "OFFSET_OUT_OF_RANGE");
      await expectCode(log.read(t, 0, -1, 100), "OFFSET_OUT_OF_RANGE");
      await expectCode(log.read(t, 1, 0, 100), "INVALID_PARTITION");
      await expectCode(log.read(topicName("missing"), 0, 0, 100), "UNKNOWN_TOPIC");
      await log.deleteTopic(t);
    });

    it("rejects appends to a missing topic or partition", async () => {
      const t = topicName("bad-append");
      await log.createTopic(t, { partitions: 2 });
      await expectCode(log.append(topicName("missing"), values(0, 1)), "UNKNOWN_TOPIC");
      await expectCode(log.append(t, [{ key: null, value: buf("x"), partition: 2 }]), "INVALID_PARTITION");
      expect(await log.endOffset(t, 0)).toBe(0);
      expect(await log.endOffset(t, 1)).toBe(0);
      expect(await log.append(t, [])).toEqual([]);
      await log.deleteTopic(t);
    });

    it("partitions keys with Kafka's murmur2 partitioner and spreads null keys", async () => {
      const t = topicName("partitioner");
      const partitions = 6;
      await log.createTopic(t, { partitions });
      const keys = Array.from({ length: 40 }, (_, i) => `customer-${i}`);
      const results = await log.append(
        t,
        keys.map((k) => ({ key: buf(k), value: buf(k) })),
      );
      results.forEach((r, i) => expect(r.partition).toBe(partitionForKey(buf(keys[i]!), partitions)));
      // What Java's producer picks for customer-0..9 over 6 partitions (kafka-clients 3.9.2
      // `Utils.toPositive(Utils.murmur2(key)) % 6`, computed with the broker's jars).
      expect(results.slice(0, 10).map((r) => r.partition)).toEqual([1, 3, 2, 4, 1, 0, 1, 1, 2, 5]);
      const again = await log.append(t, [{ key: buf("customer-7"), value: null }]);
      expect(again[0]!.partition).toBe(results[7]!.partition);

      const nullKeys = await log.append(
        t,
        values(0, 12).map((r) => ({ ...r, key: null })),
      );
      expect(new Set(nullKeys.map((r) => r.partition)).size).toBeGreaterThan(1);

      // End offsets: one past the last offset of each partition.
      const all = [...results, ...again, ...nullKeys];
      for (let p = 0; p < partitions; p++) {
        const mine = all.filter((r) => r.partition === p).map((r) => r.offset);
        expect(mine).toEqual(mine.map((_, i) => i)); // dense and in call order
        expect(await log.endOffset(t, p)).toBe(mine.length);
        expect(await log.beginningOffset(t, p)).toBe(0);
      }
      // Reading a partition back gives the records in the order they were appended.
      const p = results[0]!.partition;
      const back = await log.read(t, p, 0, 1000);
      expect(back.map((r) => r.offset)).toEqual(back.map((_, i) => i));
      await log.deleteTopic(t);
    });

    it("keeps the order of concurrent appends per call", async () => {
      const t = topicName("concurrent");
      await log.createTopic(t, { partitions: 1 });
      const calls = await Promise.all([0, 1, 2, 3].map((c) => log.append(t, values(c * 5, c * 5 + 5))));
      const offsets = calls.map((rs) => rs.map((r) => r.offset));
      for (const o of offsets) expect(o).toEqual(o.map((_, i) => o[0]! + i));
      const back = await log.read(t, 0, 0, 100);
      expect(back).toHaveLength(20);
      for (let c = 0; c < 4; c++) {
        expect(back[offsets[c]![0]!]!.value?.toString()).toBe(`v${c * 5}`);
      }
      await log.deleteTopic(t);
    });

    it("waitForData resolves at once, on a later append, and false on abort", async () => {
      const t = topicName("wait");
      await log.createTopic(t, { partitions: 2 });
      await log.append(t, [{ key: null, value: buf("x"), partition: 0 }]);
      expect(await log.waitForData(t, [{ partition: 0, offset: 0 }])).toBe(true);
      const waiting = log.waitForData(t, [
        { partition: 0, offset: 1 },
        { partition: 1, offset: 0 },
      ]);
      await new Promise((r) => setTimeout(r, 50));
      await log.append(t, [{ key: null, value: buf("y"), partition: 1 }]);
      expect(await waiting).toBe(true);
      const ac = new AbortController();
      const aborted = log.waitForData(t, [{ partition: 0, offset: 1 }], ac.signal);
      setTimeout(() => ac.abort(), 50);
      expect(await aborted).toBe(false);
      await log.deleteTopic(t);
    });

    it("subscribe yields existing and later records, one partition per batch, and ends on abort", async () => {
      const t = topicName("subscribe");
      await log.createTopic(t, { partitions: 2 });
      await log.append(t, [
        ...values(0, 5).map((r) => ({ ...r, partition: 0 })),
        { key: null, value: buf("p1"), partition: 1 },
      ]);
      const ac = new AbortController();
      const it = log.subscribe(
        t,
        [
          { partition: 0, offset: 2 },
          { partition: 1, offset: 0 },
        ],
        { maxRecords: 2, signal: ac.signal },
      );
      const seen: LogRecord[] = [];
      const take = async (n: number): Promise<void> => {
        while (seen.length < n) {
          const next = await it.next();
          if (next.done) throw new Error("subscription ended early");
          const batch = next.value;
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(2);
          expect(new Set(batch.map((r) => r.partition)).size).toBe(1);
          seen.push(...batch);
        }
      };
      await take(4);
      const later = log.append(t, [
        { key: null, value: buf("late0"), partition: 0 },
        { key: null, value: buf("late1"), partition: 1 },
      ]);
      await take(6);
      await later;
      const byPartition = (p: number): string[] =>
        seen.filter((r) => r.partition === p).map((r) => `${r.offset}:${r.value?.toString()}`);
      expect(byPartition(0)).toEqual(["2:v2", "3:v3", "4:v4", "5:late0"]);
      expect(byPartition(1)).toEqual(["0:p1", "1:late1"]);

      const ended = it.next();
      setTimeout(() => ac.abort(), 50);
      expect(await ended).toEqual({ done: true, value: undefined });
      await log.deleteTopic(t);
    });

    it("rejects every call with CLOSED after close", async () => {
      const other = await open();
      const t = topicName("closed");
      await other.createTopic(t, { partitions: 1 });
      const ac = new AbortController();
      const sub = other.subscribe(t, [{ partition: 0, offset: 0 }], { signal: ac.signal });
      const pending = sub.next();
      await new Promise((r) => setTimeout(r, 200)); // let it reach the wait for new records
      await other.close();
      expect(await pending).toEqual({ done: true, value: undefined });
      await expectCode(other.listTopics(), "CLOSED");
      await expectCode(other.append(t, values(0, 1)), "CLOSED");
      await expectCode(other.read(t, 0, 0, 1), "CLOSED");
    });
  });
}

async function expectCode(promise: Promise<unknown>, code: LogError["code"]): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a LogError ${code}`).toBeInstanceOf(LogError);
  expect((err as LogError).code).toBe(code);
}

function values(from: number, to: number): ProduceRecord[] {
  return Array.from({ length: to - from }, (_, i) => ({ key: null, value: Buffer.from(`v${from + i}`) }));
}

function plain(r: LogRecord): object {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key?.toString("utf8") ?? null,
    value: r.value?.toString("utf8") ?? null,
    timestamp: r.timestamp,
    headers: r.headers.map((h) => [h.key, h.value?.toString("utf8") ?? null]),
  };
}
