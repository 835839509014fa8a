/** `esql run` and `esql test` say what a query dropped and why (spawns `node bin/esql.js`). */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { LocalBackend } from "../../src/cli/repl/local.ts";
import { runSession } from "../../src/cli/repl/session.ts";
import { tempDir } from "../fixtures/temp.ts";
import { openEngine } from "../fixtures/engine.ts";

const BIN = resolve(import.meta.dirname, "../../bin/esql.js");
const dir = tempDir("esql-cli-drops-");

function esql(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

writeFileSync(
  join(dir, "shop.esql"),
  `CREATE STREAM orders (shop STRING KEY, amount INT) WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
CREATE TABLE revenue_per_hour AS SELECT shop, SUM(amount) AS revenue FROM orders
  WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 0 SECONDS) GROUP BY shop EMIT CHANGES;
`,
);
const line = (key: string, amount: number | string, ts: string) =>
  `{"key": "${key}", "value": {"amount": ${amount}}, "timestamp": "${ts}"}\n`;
writeFileSync(
  join(dir, "orders.jsonl"),
  line("A", 10, "2024-03-04T09:10:00Z") +
    line("A", 20, "2024-03-04T10:10:00Z") +
    // The 09:00 window closed at 10:00 (no grace): late.
    line("A", 5, "2024-03-04T09:50:00Z") +
    line("B", 7, "2024-03-04T10:20:00Z"),
);

describe("dropped records in the CLI", { timeout: 120_000 }, () => {
  it("esql run prints what each query read and dropped; the processing log names the record and the reason", async () => {
    const r = esql("run", "shop.esql", "--input", "orders=orders.jsonl", "--data", "data");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "REVENUE_PER_HOUR: 4 records in, 1 dropped (1 late): see the processing log (KSQL_PROCESSING_LOG)",
    );
    expect(r.stdout).toMatch(
      /orders\[0\]@2 late: event time 2024-03-04T09:50:00.000Z is in the window 2024-03-04T09:00:00.000Z .. 2024-03-04T10:00:00.000Z/,
    );
    const json = esql("run", "shop.esql", "--data", "data", "--json");
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { processingErrors: number; queries: Record<string, unknown> };
    // Late records are the query's semantics, not processing errors; the counts survive the restart.
    expect(out.processingErrors).toBe(0);
    expect(out.queries.REVENUE_PER_HOUR).toMatchObject({ recordsIn: 4, dropped: { late: 1 } });

    const engine = await openEngine({ persistent: true, dataDir: join(dir, "data") });
    try {
      const log = await engine.pull("SELECT QUERY_ID, TOPIC, `PARTITION`, `OFFSET`, REASON FROM KSQL_PROCESSING_LOG;");
      expect(log.diagnostics).toEqual([]);
      expect(log.rows).toEqual([[expect.stringMatching(/^CTAS_REVENUE_PER_HOUR_/), "orders", 0, 2, "late"]]);
    } finally {
      await engine.close();
    }
  });

  it("esql test says, when a test fails, how many records a query dropped, why, and where the first were", () => {
    writeFileSync(
      join(dir, "shop.test.yaml"),
      `deploy: shop.esql
tests:
  - name: late order counted
    inputs:
      orders: orders.jsonl
    expect:
      revenue_per_hour:
        - { shop: A, windowstart: 1709543200000, revenue: 15 }
`,
    );
    const r = esql("test", "shop.test.yaml");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("(note: REVENUE_PER_HOUR 1 dropped (1 late); the first:");
    expect(r.stdout).toMatch(/orders\[0\]@2 late: event time 2024-03-04T09:50:00.000Z/);
  });

  it("DESCRIBE EXTENDED in the REPL shows the drops by operator and reason (kept across sessions) and the first records", async () => {
    const session = async (input: string) => {
      const backend = await LocalBackend.open(join(dir, "repl"), "test");
      const out = new PassThrough();
      let text = "";
      out.on("data", (d: Buffer) => (text += d.toString("utf8")));
      try {
        await runSession(backend, {
          input: Readable.from([input]),
          output: out,
          terminal: false,
          color: false,
          echo: true,
        });
      } finally {
        await backend.close();
      }
      return text;
    };
    const first = await session(
      [
        "CREATE STREAM clicks (page STRING KEY, n INT) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);",
        "CREATE TABLE per_minute AS SELECT page, COUNT(*) AS c FROM clicks WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY page EMIT CHANGES;",
        "INSERT INTO clicks (page, n, ROWTIME) VALUES ('/', 1, 600000);",
        "INSERT INTO clicks (page, n, ROWTIME) VALUES ('/', 1, 720000);",
        "INSERT INTO clicks (page, n, ROWTIME) VALUES ('/', 1, 600001);",
        "SELECT * FROM per_minute;",
        "DESCRIBE EXTENDED per_minute;",
      ].join("\n"),
    );
    expect(first).toMatch(/Records in\s+: 3/);
    expect(first).toMatch(/Records dropped\s+: 1 dropped \(1 late\)/);
    expect(first).toMatch(/aggregate: late\s+: 1/);
    expect(first).toContain("First dropped records (this session):");
    expect(first).toMatch(/│ clicks\s+│\s+0 │\s+2 │ aggregate │ late\s+│ event time 1970-01-01T00:10:00.001Z/);
    const second = await session("DESCRIBE EXTENDED per_minute;");
    expect(second).toMatch(/Records dropped\s+: 1 dropped \(1 late\)/);
  });
});
