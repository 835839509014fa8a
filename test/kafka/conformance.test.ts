/**
 * ksqlDB's cases on a real broker: a subset of the cases that pass on the embedded log (qtt-passing.txt),
 * spread over the operators (filters and projections, aggregates, windows, sessions, joins, table
 * semantics, repartitioning, formats, keys, headers), must pass on Kafka too. Each case runs in its own
 * topic namespace on the shared broker (`NamespacedLog`), a few at a time. The broker of the test run is
 * thrown away, so cases leave their topics; `ESQL_KAFKA_CLEANUP=1` deletes each case's topics as it ends
 * (about twice as slow: a deletion holds the other cases' admin calls, see KafkaEventLog.deleteTopic).
 */
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { functions } from "../../src/functions/registry.ts";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { mapConcurrent } from "../../runtime/testing/pool.ts";
import { loadQttFile, runQttCase, type QttCase } from "../../runtime/testing/qtt.ts";
import { withKsqlTestFunctions } from "../fixtures/ksql-test-functions.ts";
import { caseId, readPassingList } from "../conformance/qtt-cases.ts";
import { KSQL_CASES_AVAILABLE, QTT_DIR } from "../fixtures/ksql-cases.ts";

/** Case files and how many of their passing cases to take (spread evenly over the file). */
const SUBSET: Readonly<Record<string, number>> = {
  "project-filter.json": 19,
  "select.json": 8,
  "group-by.json": 25,
  "count.json": 5,
  "sum.json": 5,
  "collect-list.json": 5,
  "topk-group-by.json": 3,
  "hopping-windows.json": 7,
  "tumbling-windows.json": 4,
  "session-windows.json": 5,
  "window-bounds.json": 8,
  "suppress.json": 7,
  "joins.json": 25,
  "table-table-join.json": 8,
  "fk-join.json": 6,
  "multi-joins.json": 8,
  "source-table.json": 8,
  "partition-by.json": 15,
  "insert-into.json": 9,
  "json.json": 8,
  "delimited.json": 8,
  "formats.json": 11,
  "kafka.json": 8,
  "none.json": 6,
  "key-schemas.json": 10,
  "multi-col-keys.json": 6,
  "headers.json": 8,
};

function pickCases(): QttCase[] {
  const passing = readPassingList();
  const files = new Set(readdirSync(QTT_DIR));
  const out: QttCase[] = [];
  for (const [file, n] of Object.entries(SUBSET)) {
    if (!files.has(file)) continue;
    // kafkajs 2.2 cannot encode null header values (KafkaEventLog rejects them): such inputs cannot be written.
    const writable = (c: QttCase) => !c.inputs.some((r) => r.headers?.some((h) => h.VALUE === null));
    const cases = loadQttFile(join(QTT_DIR, file)).filter((c) => passing.has(caseId(c)) && writable(c));
    const step = cases.length / Math.min(n, cases.length);
    for (let i = 0; i < Math.min(n, cases.length); i++) out.push(cases[Math.floor(i * step)]!);
  }
  return out;
}

const available = KSQL_CASES_AVAILABLE;

describe.skipIf(!available)("ksqlDB cases on Kafka", () => {
  const brokers = inject("kafkaBrokers").split(",");
  const kafka = new KafkaEventLog({ brokers, clientId: "esql-conformance" });
  afterAll(() => kafka.close());

  it("a subset of the cases passing on the embedded log passes on a broker", { timeout: 600_000 }, async () => {
    const cases = pickCases();
    const run = randomBytes(3).toString("hex");
    const registry = withKsqlTestFunctions(functions);
    let n = 0;
    const started = Date.now();
    const outcomes = await mapConcurrent(cases, 4, (c) =>
      runQttCase(c, {
        functions: registry,
        log: () =>
          new NamespacedLog(kafka, `qtt-${run}-${n++}-`, {
            deleteTopicsOnClose: process.env.ESQL_KAFKA_CLEANUP === "1",
          }),
      }),
    );
    const failed = outcomes.filter((o) => o.status !== "passed");
    const files = new Set(cases.map((c) => c.file)).size;
    console.log(
      `conformance on Kafka: ${outcomes.length - failed.length} of ${outcomes.length} cases (from ${files} files) pass, ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(cases.length).toBeGreaterThanOrEqual(150);
    if (process.env.ESQL_KAFKA_CLEANUP === "1")
      expect((await kafka.listTopics()).filter((t) => t.startsWith(`qtt-${run}-`))).toEqual([]);
    expect(
      failed.map((o) => `${caseId(o)}\n    ${(o.message ?? o.status).split("\n").slice(0, 6).join("\n    ")}`),
    ).toEqual([]);
  });
});
