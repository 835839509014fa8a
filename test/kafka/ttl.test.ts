/**
 * Row TTL on a real broker: groups not updated for the TTL expire with one tombstone each, as a record-by-record
 * fold says, across a restart and a restore of the lost stores from the changelog topics.
 */
import { describe, it } from "vitest";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";
import { PROPS, deposits, expireAcrossRestarts } from "../fixtures/ttl-fold.ts";

describe("row TTL on Kafka", () => {
  const { kafka, tag } = useKafka("esql-ttl");

  it("expires groups once, across a restart and a restore from the changelog", async () => {
    const prefix = `${tag("ttl")}-`;
    const dataDir = tempDir("esql-kafka-ttl-");
    const open = () =>
      openEngine({ dataDir, persistent: true, log: new NamespacedLog(kafka, prefix), properties: PROPS });
    await expireAcrossRestarts(open, dataDir, deposits(300, 5), [150]);
  });
});
