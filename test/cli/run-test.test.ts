/** `esql run` and `esql test` end to end: spawns `node bin/esql.js` in a temporary folder. */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/temp.ts";
import { runEsql } from "../fixtures/cli.ts";

const dir = tempDir("esql-cli-");

const esql = (...args: string[]) => runEsql(args, { cwd: dir });

const ESQL = `
CREATE STREAM tx (account STRING KEY, amount DECIMAL(10, 2)) WITH (kafka_topic = 'tx', value_format = 'JSON');
CREATE TABLE balances AS SELECT account, SUM(amount) AS balance, COUNT(*) AS n FROM tx GROUP BY account EMIT CHANGES;
CREATE TABLE hourly AS SELECT account, COUNT(*) AS n FROM tx WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY account EMIT CHANGES;
`;
const line = (key: string, amount: string, ts: string) =>
  `{"key": "${key}", "value": {"amount": ${amount}}, "timestamp": "${ts}"}\n`;
writeFileSync(join(dir, "bank.esql"), ESQL);
writeFileSync(
  join(dir, "tx.jsonl"),
  line("A", "100.00", "2024-03-04T09:00:00Z") +
    line("A", "-19.75", "2024-03-04T09:30:00Z") +
    line("B", "5.5", "2024-03-04T10:15:00Z"),
);

describe("esql run", { timeout: 120_000 }, () => {
  it("deploys, loads the input and prints every table", () => {
    const r = esql("run", "bank.esql", "--input", "tx=tx.jsonl", "--data", "data");
    expect(r.stderr).toContain("loaded 3 record(s) from tx.jsonl into tx");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("BALANCES (2 rows)");
    expect(r.stdout).toMatch(/│ A\s+│\s+80\.25 │\s+2 │/);
    expect(r.stdout).toMatch(/│ B\s+│\s+5\.50 │\s+1 │/);
    expect(r.stdout).toContain("HOURLY (2 rows, windowed)");
    expect(r.stdout).toMatch(/│ A\s+│ 2024-03-04T09:00:00Z │ 2024-03-04T10:00:00Z │\s+2 │/);
  });

  it("skips what the data folder already holds, and loads only appended lines", () => {
    let r = esql("run", "bank.esql", "--input", "tx=tx.jsonl", "--data", "data", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tables.BALANCES).toEqual([
      { ACCOUNT: "A", BALANCE: "80.25", N: 2 },
      { ACCOUNT: "B", BALANCE: "5.50", N: 1 },
    ]);
    appendFileSync(join(dir, "tx.jsonl"), line("B", "1.25", "2024-03-04T11:00:00Z"));
    r = esql("run", "bank.esql", "--input", "tx=tx.jsonl", "--data", "data", "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { tables: Record<string, unknown[]>; processingErrors: number };
    expect(out.tables.BALANCES).toContainEqual({ ACCOUNT: "B", BALANCE: "6.75", N: 2 });
    expect(out.tables.HOURLY).toContainEqual({
      ACCOUNT: "B",
      WINDOWSTART: Date.UTC(2024, 2, 4, 11),
      WINDOWEND: Date.UTC(2024, 2, 4, 12),
      N: 1,
    });
    expect(out.processingErrors).toBe(0);
  });

  it("refuses a changed definition or a rewritten input without --fresh", () => {
    writeFileSync(
      join(dir, "changed.esql"),
      ESQL.replace("COUNT(*) AS n FROM tx GROUP", "COUNT(*) AS cnt FROM tx GROUP"),
    );
    let r = esql("run", "changed.esql", "--data", "data");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("BALANCES is already deployed in data with a different definition");
    writeFileSync(join(dir, "tx2.jsonl"), readFileSync(join(dir, "tx.jsonl"), "utf8").replace("100.00", "200.00"));
    r = esql("run", "bank.esql", "--input", "tx=tx2.jsonl", "--data", "data");
    expect(r.code).toBe(0); // a different file is a new input
    writeFileSync(join(dir, "tx2.jsonl"), line("C", "1", "2024-03-04T09:00:00Z"));
    r = esql("run", "bank.esql", "--input", "tx=tx2.jsonl", "--data", "data");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tx2.jsonl changed since it was loaded");
    r = esql("run", "changed.esql", "--input", "tx=tx2.jsonl", "--data", "data", "--fresh", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tables.BALANCES).toEqual([{ ACCOUNT: "C", BALANCE: "1.00", CNT: 1 }]);
  });

  it("reports bad usage with exit code 2 and bad input lines with exit code 1", () => {
    expect(esql("run", "missing.esql").code).toBe(2);
    expect(esql("run", "bank.esql", "--input", "tx").code).toBe(2);
    writeFileSync(join(dir, "bad.jsonl"), '{"key": "A", "value": {"amount": 1}}\n{"key": "A", "vale": {}}\n');
    const r = esql("run", "bank.esql", "--input", "tx=bad.jsonl", "--data", "data3");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.jsonl:2: unknown field "vale"');
  });
});

describe("esql test", { timeout: 120_000 }, () => {
  writeFileSync(
    join(dir, "bank.test.yaml"),
    `deploy: bank.esql
tests:
  - name: sums per account
    inputs:
      tx:
        - { key: A, value: { amount: 80.25 } }
        - { key: A, value: { amount: 0.5 } }
    expect:
      balances:
        - { account: A, balance: 80.75, n: 2 }
  - name: wrong on purpose
    inputs:
      tx: tx.jsonl
    expect:
      BALANCES:
        - { ACCOUNT: A, BALANCE: 80.00 }
  - name: not yet
    skip: waiting for joins
    expect:
      BALANCES: []
`,
  );
  writeFileSync(
    join(dir, "ksql.json"),
    JSON.stringify({
      tests: [
        {
          name: "project",
          statements: [
            "CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', value_format='JSON');",
            "CREATE STREAM O AS SELECT ID, V * 2 AS W FROM S;",
          ],
          inputs: [{ topic: "s", key: 1, value: { V: 21 } }],
          outputs: [{ topic: "O", key: 1, value: { W: 42 } }],
        },
      ],
    }),
  );

  it("prints failures with a diff, the summary line last, and exits 1 when a test failed", () => {
    const r = esql("test", "bank.test.yaml", "ksql.json", "--json", "report.json");
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[lines.length - 1]).toBe("2 passed, 1 failed, 1 skipped");
    expect(r.stdout).toContain("bank.test.yaml › wrong on purpose");
    expect(r.stdout).toContain('- expected {ACCOUNT: "A", BALANCE: 80}');
    expect(r.stdout).toContain('+ actual   {ACCOUNT: "A", BALANCE: "80.25", N: 2}');
    expect(r.stdout).toContain("differs in BALANCE");
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    expect(report).toMatchObject({ passed: 2, failed: 1, skipped: 1 });
    expect(report.tests).toContainEqual({
      file: "bank.test.yaml",
      name: "not yet",
      status: "skipped",
      message: "waiting for joins",
    });
    expect(report.tests).toContainEqual({ file: "ksql.json", name: "project", status: "passed", message: "" });
  });

  it("--filter selects tests by name; a folder is searched for test files", () => {
    const r = esql("test", ".", "--filter", "SUMS");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n").pop()).toBe("1 passed, 0 failed, 0 skipped");
  });

  it("reports an invalid test file as a failure naming the place", () => {
    writeFileSync(
      join(dir, "broken.test.yaml"),
      "deploy: bank.esql\ntests:\n  - name: x\n    inputs: { tx: [ { key: A } ] }\n    expect: { balances: [] }\n",
    );
    const r = esql("test", "broken.test.yaml");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('tests[0] (x).inputs.tx: record 1: a record needs a "value"');
  });

  it("has help texts and exit code 2 for bad usage", () => {
    expect(esql("test", "nothing-here").code).toBe(2);
    const run = esql("run", "--help");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("--input <topic=file>");
    expect(run.stdout).toContain("--follow");
    const test = esql("test", "--help");
    expect(test.code).toBe(0);
    expect(test.stdout).toContain("--filter <text>");
    expect(test.stdout).toContain("N passed, N failed, N skipped");
  });
});
