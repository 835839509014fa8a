/**
 * Exactly-once on a real broker: a crash between writing a batch's outputs and committing its state
 * (injected: the batch's changelog write fails once) makes the restarted engine process that batch again.
 * At-least-once, the sink topic then holds that batch's outputs twice; with `processing.guarantee =
 * exactly_once` the first attempt's outputs were never committed, and a read-committed reader sees each
 * update once. Both runs end with the same, exact table.
 */
import { describe, expect, it } from "vitest";
import type { KafkaEventLog } from "../../runtime/log/kafka.ts";
import type { EventLog, LogTransaction, ProduceRecord } from "../../runtime/log/types.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

const EVENTS = 2000;
const KEYS = 50;

/** `log` whose first commit write to a changelog topic (directly or in a transaction) fails, as a crash would. */
function crashingOnce(log: KafkaEventLog): EventLog {
  let crashed = false;
  // A commit's changelog write (not a claim): its last record carries the commit header.
  const guard = (topic: string, records: readonly ProduceRecord[]) => {
    if (
      !crashed &&
      topic.endsWith("-changelog") &&
      records.some((r) => r.headers?.some((h) => h.key === "esql-commit"))
    ) {
      crashed = true;
      throw new Error("injected crash before the commit");
    }
  };
  return new Proxy(log, {
    get(target, prop) {
      if (prop === "append") {
        return async (topic: string, records: readonly ProduceRecord[]) => {
          guard(topic, records);
          return target.append(topic, records);
        };
      }
      if (prop === "beginTransaction") {
        return async (id: string): Promise<LogTransaction> => {
          const tx = await target.beginTransaction(id);
          return {
            append: async (topic, records) => {
              guard(topic, records);
              return tx.append(topic, records);
            },
            commit: () => tx.commit(),
            abort: () => tx.abort(),
          };
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe("exactly-once on Kafka", () => {
  const { brokers, kafka, tag: newTag } = useKafka("esql-eos");

  it("transactions: readers see committed records only, every record of an aborted one skipped", async () => {
    const topic = newTag("tx");
    await kafka.createTopic(topic, { partitions: 1 });
    await kafka.append(topic, [{ key: null, value: Buffer.from("plain") }]);
    const aborted = await kafka.beginTransaction(`${topic}-writer`);
    await aborted.append(
      topic,
      ["a1", "a2", "a3"].map((v) => ({ key: null, value: Buffer.from(v), partition: 0 })),
    );
    await aborted.abort();
    const committed = await kafka.beginTransaction(`${topic}-writer`);
    await committed.append(topic, [{ key: null, value: Buffer.from("c1"), partition: 0 }]);
    await committed.commit();
    // A second aborted transaction of the same producer, then a committed one: all in one fetch.
    const again = await kafka.beginTransaction(`${topic}-writer`);
    await again.append(
      topic,
      ["b1", "b2"].map((v) => ({ key: null, value: Buffer.from(v), partition: 0 })),
    );
    await again.abort();
    const last = await kafka.beginTransaction(`${topic}-writer`);
    await last.append(topic, [{ key: null, value: Buffer.from("c2"), partition: 0 }]);
    await last.commit();
    const records = await kafka.read(topic, 0, 0, 100);
    expect(records.map((r) => r.value!.toString())).toEqual(["plain", "c1", "c2"]);
    // The four transaction markers take offsets too.
    expect(await kafka.endOffset(topic, 0)).toBe(12);
    // A writer that lost its id to another is fenced.
    const zombie = await kafka.beginTransaction(`${topic}-other`);
    await zombie.append(topic, [{ key: null, value: Buffer.from("z"), partition: 0 }]);
    const { KafkaEventLog: Log } = await import("../../runtime/log/kafka.ts");
    const second = new Log({ brokers, clientId: "esql-eos-2" });
    try {
      const successor = await second.beginTransaction(`${topic}-other`);
      await expect(zombie.commit()).rejects.toMatchObject({ code: "FENCED" });
      await successor.abort();
    } finally {
      await second.close();
    }
    expect((await kafka.read(topic, 0, 0, 100)).map((r) => r.value!.toString())).toEqual(["plain", "c1", "c2"]);
  });

  it.each(["at_least_once", "exactly_once"])(
    "%s: a batch processed twice after a crash before its commit",
    async (guarantee) => {
      const tag = newTag("eos");
      const statements = `
      CREATE STREAM clicks (account VARCHAR KEY, n INT) WITH (kafka_topic='eos_${tag}', partitions=2, value_format='JSON');
      CREATE TABLE per_account WITH (kafka_topic='eos_counts_${tag}') AS SELECT account, COUNT(*) AS c FROM clicks GROUP BY account;`;
      const dataDir = tempDir("esql-eos-");
      const properties = { "processing.guarantee": guarantee, "ksql.streams.cache.max.bytes.buffering": "0" };
      const first = await openEngine({
        persistent: true,
        dataDir,
        log: crashingOnce(kafka),
        properties,
        cluster: { serviceId: `eos-${tag}`, sessionTimeoutMs: 6000 },
      });
      expect((await first.execute(statements)).diagnostics).toEqual([]);
      await kafka.append(
        `eos_${tag}`,
        Array.from({ length: EVENTS }, (_, i) => ({
          key: Buffer.from(`a${i % KEYS}`),
          value: Buffer.from(JSON.stringify({ N: i })),
          timestamp: 1_000 + i,
        })),
      );
      await expect(first.drain()).rejects.toThrow(/injected crash/);
      await first.close();

      const second = await openEngine({
        persistent: true,
        dataDir,
        log: kafka,
        properties,
        cluster: { serviceId: `eos-${tag}`, sessionTimeoutMs: 6000 },
      });
      try {
        await second.drain();
        const table = await second.table("PER_ACCOUNT");
        expect(table.rows.map((r) => r.join("|")).sort()).toEqual(
          Array.from({ length: KEYS }, (_, k) => `a${k}|${EVENTS / KEYS}`).sort(),
        );
      } finally {
        await second.close();
      }

      // What a read-committed consumer of the sink sees: each account's counts, in order.
      const counts = new Map<string, number[]>();
      for (let p = 0; p < 2; p++) {
        const end = await kafka.endOffset(`eos_counts_${tag}`, p);
        for (let offset = 0; offset < end;) {
          const batch = await kafka.read(`eos_counts_${tag}`, p, offset, 5000);
          if (batch.length === 0) break;
          for (const r of batch)
            counts.set(r.key!.toString(), [
              ...(counts.get(r.key!.toString()) ?? []),
              (JSON.parse(r.value!.toString()) as { C: number }).C,
            ]);
          offset = batch[batch.length - 1]!.offset + 1;
        }
      }
      const repeated = [...counts.values()].filter((seen) => new Set(seen).size !== seen.length).length;
      for (const seen of counts.values()) expect(seen.at(-1)).toBe(EVENTS / KEYS);
      if (guarantee === "exactly_once") {
        expect(repeated).toBe(0);
        for (const seen of counts.values())
          expect(seen).toEqual(Array.from({ length: EVENTS / KEYS }, (_, i) => i + 1));
      } else {
        // The replayed batch's updates are in the sink twice.
        expect(repeated).toBeGreaterThan(0);
      }
    },
    120_000,
  );
});
