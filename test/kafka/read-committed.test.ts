/**
 * Read-committed reads across crashed writers, on a real broker: one transactional id writes a partition run
 * after run, as a task of `esql run --exactly-once` does across SIGKILLs. A run commits some transactions,
 * aborts some and may die with one open (its log is closed without ending it); the next run takes the id over
 * first, which aborts the open one, and goes on with the same producer id (a higher epoch). Another writer
 * appends plain records in between. Reading the partition back in chunks of every size, with Fetch responses
 * cut at every batch (a tiny fetch size), must give exactly the committed and plain records, in order: this is
 * where a fetch that starts at an ABORT marker once hid the same producer's next, committed transaction (the
 * kill test's sink looked as if a transaction of a killed run stayed open).
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { rng as random } from "../../scripts/random.ts";

describe("read committed across crashed transactional writers", () => {
  const brokers = inject("kafkaBrokers").split(",");
  const plain = new KafkaEventLog({ brokers, clientId: "esql-rc-plain" });
  afterAll(() => plain.close());

  it.each([1, 2, 3])(
    "history %i: every chunk size reads exactly the committed records",
    { timeout: 180_000 },
    async (seed) => {
      const rnd = random(seed * 7919);
      const tag = randomBytes(4).toString("hex");
      const topic = `rc_${tag}`;
      const txId = `esql-rc-${tag}`;
      await plain.createTopic(topic, { partitions: 1 });
      const want: string[] = [];
      let run = 0;
      let writer = new KafkaEventLog({ brokers, clientId: `esql-rc-run-${run}` });
      // A new run takes the id over first, as a task does before it claims its partition.
      await (await writer.beginTransaction(txId)).abort();
      for (let step = 0; step < 40; step++) {
        const r = rnd();
        const values = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, i) => `r${run}s${step}i${i}`);
        const records = values.map((v) => ({ key: Buffer.from("k"), value: Buffer.from(v), partition: 0 }));
        if (r < 0.15) {
          await plain.append(topic, records);
          want.push(...values);
          continue;
        }
        const tx = await writer.beginTransaction(txId);
        await tx.append(topic, records);
        if (r < 0.6) {
          await tx.commit();
          want.push(...values);
        } else if (r < 0.75) {
          await tx.abort();
        } else {
          // The run dies with this transaction open; the next one takes the id over.
          await writer.close();
          run++;
          writer = new KafkaEventLog({ brokers, clientId: `esql-rc-run-${run}` });
          await (await writer.beginTransaction(txId)).abort();
        }
      }
      await writer.close();

      for (const fetchBytes of [64, 150, 250, 400, 700, 1024 * 1024]) {
        const reader = new KafkaEventLog({
          brokers,
          clientId: "esql-rc-reader",
          fetchMaxBytesPerPartition: fetchBytes,
        });
        try {
          const end = await reader.endOffset(topic, 0);
          for (const chunk of [1, 2, 3, 5, 1000]) {
            const got: string[] = [];
            for (let offset = 0; offset < end;) {
              const batch = await reader.read(topic, 0, offset, chunk);
              if (batch.length === 0) break;
              got.push(...batch.map((x) => x.value!.toString()));
              offset = batch[batch.length - 1]!.offset + 1;
            }
            expect(got, `fetch ${fetchBytes} bytes, chunks of ${chunk}, ${run} crashed runs`).toEqual(want);
          }
        } finally {
          await reader.close();
        }
      }
    },
  );
});
