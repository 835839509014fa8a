/**
 * CREATE OR REPLACE on a real broker (changelogs on): an aggregation change is refused and the query keeps
 * its state; compatible replacements run in place, keep their offsets and state (also after a restart that
 * restores from the changelogs into an empty state folder) and apply to new records only.
 */
import { describe, expect, it } from "vitest";
import type { Engine } from "../../runtime/engine/engine.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

describe("CREATE OR REPLACE on Kafka", () => {
  const { kafka, tag } = useKafka("esql-replace");
  const dataDir = () => tempDir("esql-kafka-replace-");

  it("refuses an aggregation change, replaces compatible definitions in place", { timeout: 120_000 }, async () => {
    const log = new NamespacedLog(kafka, `${tag("replace")}-`);
    const orders = (rows: [string, number][]) =>
      log.append(
        "orders",
        rows.map(([product, price]) => ({
          key: Buffer.from(product),
          value: Buffer.from(JSON.stringify({ PRODUCT: product, PRICE: price })),
        })),
      );
    const revenue = async (e: Engine) =>
      (await e.pull("SELECT product, top FROM revenue;")).rows.map((r) => [r[0], r[1]]).sort();
    let engine = await openEngine({ persistent: true, dataDir: dataDir(), log });
    try {
      const created = await engine.execute(`
        CREATE STREAM orders (id STRING KEY, product STRING, price DOUBLE)
          WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 2);
        CREATE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product;
        CREATE STREAM big AS SELECT id, price FROM orders WHERE price > 10;`);
      expect(created.diagnostics).toEqual([]);
      await orders([
        ["a", 5],
        ["a", 20],
        ["b", 3],
      ]);
      await engine.drain();
      expect(await revenue(engine)).toEqual([
        ["a", 20],
        ["b", 3],
      ]);

      const refused = await engine.execute(
        "CREATE OR REPLACE TABLE revenue AS SELECT product, MIN(price) AS top FROM orders GROUP BY product;",
      );
      expect(refused.diagnostics.map((d) => d.message)).toEqual([
        "CREATE OR REPLACE cannot change the aggregation of table REVENUE: MAX(PRICE) became MIN(PRICE); the stored state would be misread. Use `esql apply`, which rebuilds it as a new version.",
      ]);

      const replaced = await engine.execute(`
        CREATE OR REPLACE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product HAVING MAX(price) > 4;
        CREATE OR REPLACE STREAM big AS SELECT id, price, product FROM orders WHERE price > 1;`);
      expect(replaced.diagnostics).toEqual([]);
      // Both continue from their offsets: nothing is read again.
      expect(await engine.drain()).toBe(0);
      await orders([
        ["a", 7],
        ["b", 4.5],
      ]);
      await engine.drain();
      // MAX went on from the old state (a stays 20); HAVING now shows b only once its max exceeds 4.
      expect(await revenue(engine)).toEqual([
        ["a", 20],
        ["b", 4.5],
      ]);
    } finally {
      await engine.close();
    }
    // A new instance with an empty state folder: statements replayed, state and offsets restored from the
    // changelogs, so nothing is folded twice.
    engine = await openEngine({ persistent: true, dataDir: dataDir(), log });
    try {
      expect(await engine.drain()).toBe(0);
      expect(await revenue(engine)).toEqual([
        ["a", 20],
        ["b", 4.5],
      ]);
      const big: unknown[] = [];
      for (const p of [0, 1])
        for (const r of await log.read("BIG", p, 0, 100)) big.push(JSON.parse(r.value!.toString("utf8")));
      const sorted = big.map((v) => JSON.stringify(v)).sort();
      // Before the replace: price > 10 without PRODUCT; after it: price > 1 with PRODUCT.
      expect(sorted).toEqual(['{"PRICE":20}', '{"PRICE":4.5,"PRODUCT":"b"}', '{"PRICE":7,"PRODUCT":"a"}']);
    } finally {
      await engine.close();
    }
  });
});
