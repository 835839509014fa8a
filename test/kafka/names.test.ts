/**
 * Object names that try to leave the data folder (traversal, absolute paths, NUL, 300 characters, Unicode),
 * through every statement that creates or drops something, on Kafka: state folders, changelog and internal
 * topics and transactional ids are built from a safe encoding of the query id, topic names Kafka would refuse
 * are refused with a reason, and nothing outside the data folder changes (the same check as the embedded
 * log's in `test/http/hostile.test.ts`).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startServer } from "../../runtime/http/server.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";
import { checkNamesStayInside } from "../http/hostile-helpers.ts";

describe("object names on Kafka", () => {
  const { kafka, tag } = useKafka("esql-names");
  const root = tempDir("esql-kafka-names-");

  it("never reach the file system, and topic names Kafka would refuse are refused", { timeout: 300_000 }, async () => {
    const data = join(root, "data");
    mkdirSync(data);
    const log = new NamespacedLog(kafka, `${tag("esqltest-names")}-`, {
      deleteTopicsOnClose: true,
    });
    const engine = await openEngine({ dataDir: data, log, persistent: true });
    const server = await startServer({ engine, drainIntervalMs: 50 });
    try {
      const ksql = async (text: string) => {
        const res = await fetch(server.url + "/ksql", {
          method: "POST",
          body: JSON.stringify({ ksql: text }),
          headers: { "content-type": "application/json" },
        });
        const body = await res.text();
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        return { status: res.status, text: body, json };
      };
      const setup = await ksql(
        "CREATE STREAM ev (id STRING KEY, v INT) WITH (kafka_topic='ev', value_format='JSON', partitions=1);",
      );
      expect(setup.status, setup.text).toBe(200);
      await checkNamesStayInside(ksql, root, data);
      // Changelog topics of the queries that ran are legal Kafka names (the broker created them).
      const topics = await log.listTopics();
      for (const t of topics) expect(t).toMatch(/^[a-zA-Z0-9._-]{1,249}$/);
    } finally {
      await server.close();
      await engine.close();
      await log.close();
    }
  });
});
