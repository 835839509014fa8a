/**
 * The raw ceiling of `npm run bench:peers`: a plain kafkajs consumer (its own group, from the beginning,
 * kafkajs defaults otherwise) that only runs `JSON.parse` over every value, until it has consumed the
 * topic up to the end offsets read at start. Prints `RESULT {"events":..,"processMs":..}`: processMs runs
 * from `consumer.run` (the group join included, as the Kafka Streams peer's includes its own) to caught up.
 *
 *   node --import tsx test/bench/peers/raw.ts BROKERS TOPIC
 *
 * Benchmarks may import kafkajs directly; the "only runtime/log/kafka/ imports kafkajs" rule is for
 * product code.
 */
import kafkajs from "kafkajs";
import { performance } from "node:perf_hooks";

const [brokers, topic] = process.argv.slice(2);
if (!brokers || !topic) {
  console.error("usage: raw.ts BROKERS TOPIC");
  process.exit(2);
}

const kafka = new kafkajs.Kafka({
  clientId: "bench-raw",
  brokers: brokers.split(","),
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const ends = new Map<number, number>();
for (const o of await admin.fetchTopicOffsets(topic)) ends.set(o.partition, Number(o.high));
await admin.disconnect();
const events = [...ends.values()].reduce((a, b) => a + b, 0);

const consumer = kafka.consumer({ groupId: `bench-raw-${process.pid}-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });

/** Partitions not yet consumed to their end offset. */
const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
let parsed = 0;
let sink = 0;
const t0 = performance.now();
const done = new Promise<void>((resolve) => {
  if (pending.size === 0) resolve();
  void consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.value !== null) {
          const v = JSON.parse(m.value.toString("utf8")) as Record<string, unknown>;
          if (v.AMOUNT !== undefined) sink++;
          parsed++;
        }
      }
      const last = batch.messages[batch.messages.length - 1];
      if (last && Number(last.offset) + 1 >= (ends.get(batch.partition) ?? 0)) {
        pending.delete(batch.partition);
        if (pending.size === 0) resolve();
      }
    },
  });
});
await done;
const processMs = performance.now() - t0;
await consumer.disconnect();
console.log(`RESULT ${JSON.stringify({ events, parsed, processMs: Math.round(processMs), sink })}`);
process.exit(0);
