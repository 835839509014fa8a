/**
 * The hand-written reference of `npm run bench:peers` for projection 3 (COUNT and SUM per key on a 1-minute
 * tumbling window): what a Node programmer would write for that one query with the guarantees esql gives it,
 * to show how close esql comes to the limit of its platform (Node, kafkajs, LevelDB).
 *
 * - a kafkajs consumer (its own group, from the beginning; offsets are kept in LevelDB, not in the group);
 * - a `Map` of windows by key and window start, read from LevelDB on first use (`getMany` per batch);
 * - per fetched batch: fold every record (records later than the grace period are dropped and counted),
 *   produce one output record per window the batch changed (Kafka Streams' windowed key layout, the JSON
 *   value `{"N":..,"TOTAL":..}`), then write the changed windows and the partition's next offset in one
 *   LevelDB batch, so a crash repeats a batch's output but never double-applies it to state;
 * - kafkajs' grouping of a send's records is the linear one esql loads (`runtime/log/kafkajs-preload.ts`).
 *
 * What esql does on top, which this program does not: a changelog topic of the state (restores a lost data
 * folder), the processing log, dropped-record counters committed with the state, event-time order across
 * partitions, the materialized table's read path.
 *
 *   node --import tsx test/bench/peers/handwritten.ts BROKERS DATA_DIR OUT_FILE
 *
 * Writes `{"tables":{"PER_KEY_MINUTE":[{K,WINDOWSTART,WINDOWEND,N,TOTAL}]}}` (read back from LevelDB) to
 * OUT_FILE and prints `RESULT {"events":..,"processMs":..}` (processMs: from `consumer.run` to caught up,
 * outputs flushed and state committed).
 */
import "../../../runtime/log/kafkajs-preload.ts";
import { ClassicLevel } from "classic-level";
import kafkajs from "kafkajs";
import { rmSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const INPUT = "bench_events";
const SINK = "p3_sink";
const SIZE = 60_000;
const GRACE = 24 * 3600_000;

const [brokers, dataDir, outFile] = process.argv.slice(2);
if (!brokers || !dataDir || !outFile) {
  console.error("usage: handwritten.ts BROKERS DATA_DIR OUT_FILE");
  process.exit(2);
}

interface WindowState {
  readonly key: string;
  readonly start: number;
  /** LevelDB key: "w", the window start (8 bytes, big-endian), the key's UTF-8 bytes. */
  readonly dbKey: Buffer;
  n: number;
  total: number;
  /** The batch that last changed it (a window is written and produced once per batch). */
  batch: number;
}

rmSync(dataDir, { recursive: true, force: true });
const db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: "buffer", valueEncoding: "buffer" });
await db.open();

const kafka = new kafkajs.Kafka({
  clientId: "bench-hand",
  brokers: brokers.split(","),
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const ends = new Map<number, number>();
for (const o of await admin.fetchTopicOffsets(INPUT)) ends.set(o.partition, Number(o.high));
const sinkPartitions = (await admin.fetchTopicMetadata({ topics: [INPUT] })).topics[0]!.partitions.length;
await admin.createTopics({ waitForLeaders: true, topics: [{ topic: SINK, numPartitions: sinkPartitions }] });
await admin.disconnect();
const events = [...ends.values()].reduce((a, b) => a + b, 0);

const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
await producer.connect();
const consumer = kafka.consumer({ groupId: `bench-hand-${process.pid}-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topic: INPUT, fromBeginning: true });

const offsetKey = (p: number) => Buffer.from(`o${p}`);
/** Windows by key, then by start: the state this task has touched. */
const windows = new Map<string, Map<number, WindowState>>();
const streamTime = new Map<number, number>();
let batches = 0;
let late = 0;

function dbKeyOf(key: string, start: number): Buffer {
  const k = Buffer.allocUnsafe(9 + Buffer.byteLength(key));
  k[0] = 0x77; // "w"
  k.writeBigInt64BE(BigInt(start), 1);
  k.write(key, 9, "utf8");
  return k;
}

async function processBatch(partition: number, messages: readonly kafkajs.KafkaMessage[]): Promise<void> {
  const batch = ++batches;
  // Windows this batch needs that are not in memory: read them from LevelDB at once.
  const missing: WindowState[] = [];
  const rows: { w: WindowState; amount: number }[] = [];
  let time = streamTime.get(partition) ?? -Infinity;
  for (const m of messages) {
    if (m.value === null || m.key === null) continue;
    const ts = Number(m.timestamp);
    if (ts > time) time = ts;
    const start = ts - (ts % SIZE);
    if (start + SIZE + GRACE <= time) {
      late++;
      continue;
    }
    const v = JSON.parse(m.value.toString("utf8")) as { AMOUNT?: number | null };
    const key = m.key.toString("utf8");
    let byStart = windows.get(key);
    if (!byStart) windows.set(key, (byStart = new Map()));
    let w = byStart.get(start);
    if (!w) {
      w = { key, start, dbKey: dbKeyOf(key, start), n: 0, total: 0, batch: 0 };
      byStart.set(start, w);
      missing.push(w);
    }
    rows.push({ w, amount: typeof v.AMOUNT === "number" ? v.AMOUNT : 0 });
  }
  streamTime.set(partition, time);
  if (missing.length > 0) {
    const stored = await db.getMany(missing.map((w) => w.dbKey));
    for (let i = 0; i < missing.length; i++) {
      const b = stored[i];
      if (b) {
        missing[i]!.n = b.readDoubleLE(0);
        missing[i]!.total = b.readDoubleLE(8);
      }
    }
  }
  const changed: WindowState[] = [];
  for (const { w, amount } of rows) {
    w.n++;
    w.total += amount;
    if (w.batch !== batch) {
      w.batch = batch;
      changed.push(w);
    }
  }
  // Outputs first (at least once), then state and offset in one atomic write.
  if (changed.length > 0) {
    await producer.send({
      topic: SINK,
      acks: -1,
      messages: changed.map((w) => {
        const kb = Buffer.byteLength(w.key);
        const key = Buffer.allocUnsafe(kb + 8);
        key.write(w.key, 0, "utf8");
        key.writeBigInt64BE(BigInt(w.start), kb);
        return { key, value: JSON.stringify({ N: w.n, TOTAL: w.total }), timestamp: String(w.start) };
      }),
    });
  }
  const write = db.batch();
  for (const w of changed) {
    const v = Buffer.allocUnsafe(16);
    v.writeDoubleLE(w.n, 0);
    v.writeDoubleLE(w.total, 8);
    write.put(w.dbKey, v);
  }
  const next = Buffer.allocUnsafe(8);
  next.writeDoubleBE(Number(messages[messages.length - 1]!.offset) + 1);
  write.put(offsetKey(partition), next);
  await write.write();
}

const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
const t0 = performance.now();
const done = new Promise<void>((resolve, reject) => {
  if (pending.size === 0) resolve();
  consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
  void consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (batch.messages.length === 0) return;
      await processBatch(batch.partition, batch.messages);
      const last = batch.messages[batch.messages.length - 1]!;
      if (Number(last.offset) + 1 >= (ends.get(batch.partition) ?? 0)) {
        pending.delete(batch.partition);
        if (pending.size === 0) resolve();
      }
    },
  });
});
await done;
const processMs = performance.now() - t0;
await consumer.disconnect();
await producer.disconnect();

const rows: Record<string, unknown>[] = [];
for await (const [k, v] of db.iterator({ gte: Buffer.from("w"), lt: Buffer.from("x") })) {
  const start = Number(k.readBigInt64BE(1));
  rows.push({
    K: k.toString("utf8", 9),
    WINDOWSTART: start,
    WINDOWEND: start + SIZE,
    N: v.readDoubleLE(0),
    TOTAL: v.readDoubleLE(8),
  });
}
await db.close();
rmSync(dataDir, { recursive: true, force: true });
writeFileSync(outFile, JSON.stringify({ tables: { PER_KEY_MINUTE: rows }, late }));
console.log(`RESULT ${JSON.stringify({ events, processMs: Math.round(processMs) })}`);
process.exit(0);
