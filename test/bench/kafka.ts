/**
 * Throughput on a real broker: one topic of JSON events (8 partitions, 10k keys) read by
 * (a) a plain kafkajs consumer (`eachBatch`) that only `JSON.parse`s every value, and
 * (b) the windowed COUNT/SUM projection: the engine on the Kafka log, from empty state until caught up
 *     (default settings: changelog topics and the sink topic are written as in production).
 * Both read the same topic on the same broker in one run. The consumer's time runs from its first batch
 * (its group join is not counted); the projection's from the CREATE TABLE (opening stores and creating
 * its topics is counted), so the ratio is conservative.
 */
import kafkajs from "kafkajs";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Engine } from "../../runtime/engine/engine.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import type { ProduceRecord } from "../../runtime/log/types.ts";

export interface KafkaBenchResult {
  readonly events: number;
  readonly keys: number;
  readonly partitions: number;
  readonly producePerSecond: number;
  readonly consumerPerSecond: number;
  readonly projectionPerSecond: number;
}

export async function benchKafka(
  brokers: readonly string[],
  events = 1_000_000,
  keys = 10_000,
  partitions = 8,
): Promise<KafkaBenchResult> {
  const prefix = `esqlbench-${randomBytes(4).toString("hex")}-`;
  const kafka = new KafkaEventLog({ brokers: [...brokers], clientId: "esql-bench" });
  const log = new NamespacedLog(kafka, prefix, { deleteTopicsOnClose: true });
  const dir = mkdtempSync(join(tmpdir(), "esql-bench-kafka-"));
  let engine: Engine | undefined;
  try {
    await log.createTopic("events", { partitions });
    // The input (timed only for information): keyed records, so each key stays on one partition.
    const t0 = performance.now();
    let batch: ProduceRecord[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < events; i++) {
      const value = Buffer.from(
        JSON.stringify({ KIND: i % 3 === 0 ? "deposit" : "withdrawal", AMOUNT: (i % 997) / 10 }),
      );
      batch.push({ key: Buffer.from(`k${i % keys}`), value, timestamp: 1_700_000_000_000 + i });
      if (batch.length === 20_000) {
        pending.push(log.append("events", batch));
        batch = [];
      }
    }
    if (batch.length > 0) pending.push(log.append("events", batch));
    await Promise.all(pending);
    const produceMs = performance.now() - t0;

    // (a) the bare client.
    let sink = 0;
    const consumerMs = await consumeValues(brokers, `${prefix}events`, `${prefix}plain`, events, (v) => {
      if (v !== null) sink += (JSON.parse(v.toString("utf8")) as { AMOUNT: number }).AMOUNT > 50 ? 1 : 0;
    });
    if (sink < 0) console.log(sink);

    // (b) the projection.
    engine = await Engine.open({ dataDir: dir, log, persistent: false });
    await engine.execute(`
      CREATE STREAM events (k STRING KEY, kind STRING, amount DOUBLE)
        WITH (kafka_topic = 'events', value_format = 'JSON');`);
    const t1 = performance.now();
    const created = await engine.execute(`
      CREATE TABLE per_minute AS
        SELECT k, COUNT(*) AS n, SUM(amount) AS total
        FROM events WINDOW TUMBLING (SIZE 1 MINUTE)
        GROUP BY k EMIT CHANGES;`);
    if (created.diagnostics.length > 0) throw new Error(created.diagnostics[0]!.message);
    const processed = await engine.drain();
    const projectionMs = performance.now() - t1;
    if (processed < events) throw new Error(`processed ${processed} of ${events}`);
    return {
      events,
      keys,
      partitions,
      producePerSecond: (events / produceMs) * 1000,
      consumerPerSecond: (events / consumerMs) * 1000,
      projectionPerSecond: (events / projectionMs) * 1000,
    };
  } finally {
    await engine?.close();
    await log.close().catch(() => undefined);
    await kafka.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A plain kafkajs consumer (group `groupId`, from the beginning, `eachBatch`) over `topic` that hands every
 * record's value to `onValue` until `count` records were seen; resolves the milliseconds from the first
 * batch to the last (the group join before it is not counted). A yardstick for benchmarks (what a bare
 * client reaches on the same broker and topic). Benchmarks may import kafkajs directly (the runtime imports
 * it only in runtime/log/kafka/).
 */
async function consumeValues(
  brokers: readonly string[],
  topic: string,
  groupId: string,
  count: number,
  onValue: (value: Buffer | null) => void,
): Promise<number> {
  const kafka = new kafkajs.Kafka({
    brokers: [...brokers],
    clientId: "esql-bench-consumer",
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    let first = 0;
    const done = new Promise<number>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (first === 0) first = performance.now();
            for (const m of batch.messages) onValue(m.value);
            seen += batch.messages.length;
            if (seen >= count) resolve(performance.now() - first);
          },
        })
        .catch(reject);
    });
    return await done;
  } finally {
    await consumer.disconnect();
  }
}
