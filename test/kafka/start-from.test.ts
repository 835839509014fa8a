/**
 * START_FROM on a real broker: a timestamp resolves through ListOffsets by time, explicit offsets and
 * `latest` as on the embedded log, and a restarted engine continues from the offsets resolved at the start.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import type { EventLog } from "../../runtime/log/types.ts";
import { encodeRecord, sourceForTopic } from "../../runtime/testing/records.ts";
import { tempDir } from "../fixtures/temp.ts";

const STREAM = `CREATE STREAM deposits (account VARCHAR KEY, amount INT) WITH (kafka_topic='deposits', partitions=2, value_format='JSON');`;
const ctas = (name: string, start: string) =>
  `CREATE TABLE ${name} WITH (START_FROM = ${start}) AS SELECT account, COLLECT_LIST(amount) AS amounts FROM deposits GROUP BY account;`;

async function deposit(engine: Engine, amounts: readonly number[], from: number, log: EventLog = engine.log) {
  const source = sourceForTopic(engine.catalog, "deposits")!;
  await log.append(
    "deposits",
    amounts.map((amount, i) => ({
      ...encodeRecord(source, { key: `a${i % 2}`, value: { AMOUNT: amount }, timestamp: (from + i) * 1000 }),
      partition: i % 2,
    })),
  );
}

async function folded(engine: Engine, name: string): Promise<number[]> {
  await engine.drain();
  return (await engine.table(name)).rows.flatMap((r) => r[1] as number[]).sort((a, b) => a - b);
}

describe("START_FROM on Kafka", () => {
  const kafka = new KafkaEventLog({ brokers: inject("kafkaBrokers").split(","), clientId: "esql-start-from" });
  afterAll(() => kafka.close());

  it("starts from a timestamp, explicit offsets or the latest offsets, and keeps them across a restart", async () => {
    const prefix = `start-from-${randomBytes(3).toString("hex")}-`;
    const dataDir = tempDir("esql-kafka-start-from-");
    const log = new NamespacedLog(kafka, prefix);
    const first = await Engine.open({ dataDir, log });
    try {
      expect((await first.execute(STREAM)).diagnostics).toEqual([]);
      await deposit(first, [1, 2, 3, 4, 5, 6, 7, 8], 0);
      const r = await first.execute(
        [
          ctas("from_time", "'1970-01-01T00:00:05Z'"),
          ctas("from_offsets", "'offsets:0=3,1=1'"),
          ctas("live", "'latest'"),
        ].join("\n"),
      );
      expect(r.diagnostics).toEqual([]);
      await deposit(first, [100, 200], 20);
      expect(await folded(first, "FROM_TIME")).toEqual([6, 7, 8, 100, 200]);
      expect(await folded(first, "FROM_OFFSETS")).toEqual([4, 6, 7, 8, 100, 200]);
      expect(await folded(first, "LIVE")).toEqual([100, 200]);
      // A time after every record starts at the end.
      expect(await log.offsetForTime("deposits", 0, 1e12)).toBe(await log.endOffset("deposits", 0));
    } finally {
      await first.close();
    }
    await deposit(first, [300, 400], 30, log);
    const second = await Engine.open({ dataDir, log: new NamespacedLog(kafka, prefix) });
    try {
      expect(await folded(second, "LIVE")).toEqual([100, 200, 300, 400]);
      expect(await folded(second, "FROM_TIME")).toEqual([6, 7, 8, 100, 200, 300, 400]);
    } finally {
      await second.close();
    }
  });
});
