/**
 * Several engines (here: namespaces) sharing one Kafka client create, use and delete topics at the same
 * time. kafkajs refreshes metadata for every topic a client has used, so a deletion must not fail the
 * other namespaces' calls (see KafkaEventLog.deleteTopic).
 */
import { describe, expect, it } from "vitest";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { useKafka } from "../fixtures/kafka.ts";

describe("namespaces on one Kafka client", () => {
  const { kafka, tag } = useKafka("esql-namespaces");

  it(
    "create, append, read and delete their topics concurrently without disturbing each other",
    { timeout: 120_000 },
    async () => {
      const run = tag("ns");
      const one = async (n: number) => {
        const log = new NamespacedLog(kafka, `${run}-${n}-`, { deleteTopicsOnClose: true });
        for (const t of ["a", "b", "c"]) expect(await log.createTopic(t, { partitions: 2 })).toBe(true);
        expect(await log.listTopics()).toEqual(["a", "b", "c"]);
        await log.append("a", [{ key: Buffer.from("k"), value: Buffer.from(`v${n}`) }]);
        const d = await log.describeTopic("a");
        expect(d?.name).toBe("a");
        const p = (await log.append("b", [{ key: null, value: Buffer.from("x"), partition: 1 }]))[0]!;
        const read = await log.read("b", 1, p.offset, 10);
        expect(read.map((r) => [r.topic, r.value?.toString()])).toEqual([["b", "x"]]);
        expect(await log.endOffset("c", 0)).toBe(0);
        await log.deleteTopic("c");
        expect(await log.describeTopic("c")).toBeUndefined();
        await log.close();
      };
      // Eight namespaces, four at a time: each one's deletions overlap the others' creations and reads.
      const tasks = Array.from({ length: 8 }, (_, i) => i);
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map(async (lane) => {
          for (const i of tasks.filter((t) => t % 4 === lane)) await one(i);
        }),
      );
      expect(
        results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason)),
      ).toEqual([]);
      expect((await kafka.listTopics()).filter((t) => t.startsWith(`${run}-`))).toEqual([]);
    },
  );
});
