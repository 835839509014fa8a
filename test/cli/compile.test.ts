/**
 * `esql compile` writes the plans CI tested; `esql run --plan` deploys exactly them: the statements with
 * their compiled topology plans, not plans made again at deploy time.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runEsql } from "../fixtures/cli.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-compile-");

const esql = (...args: string[]) => runEsql(args, { cwd: dir });

writeFileSync(
  join(dir, "pages.esql"),
  `CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 2);
CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;
`,
);
writeFileSync(
  join(dir, "clicks.jsonl"),
  ["a", "b", "a"].map((page, i) => JSON.stringify({ key: `u${i}`, value: { page } })).join("\n") + "\n",
);

describe("esql compile and run --plan", { timeout: 120_000 }, () => {
  it("writes the plans, and run --plan deploys them as written", () => {
    const c = esql("compile", "pages.esql", "--out", "plans.json");
    expect(c.stderr).toContain("wrote plans.json: 2 statement(s), 1 query plan(s)");
    expect(c.code).toBe(0);
    // What CI tested is what runs: a decision recorded in the file (here the internal topic's name) is kept.
    const file = readFileSync(join(dir, "plans.json"), "utf8");
    expect(file).toContain("-groupby-0-repartition");
    writeFileSync(join(dir, "tested.json"), file.replaceAll("-groupby-0-", "-as-tested-"));
    const r = esql("run", "--plan", "tested.json", "--input", "clicks=clicks.jsonl", "--data", "data", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tables = (JSON.parse(r.stdout) as { tables: Record<string, { PAGE: string; N: number }[]> }).tables;
    expect(tables.PER_PAGE!.map((row) => `${row.PAGE}=${row.N}`).sort()).toEqual(["a=2", "b=1"]);
    // EXPLAIN of the running query shows the topology it runs: the tested one.
    const id = (JSON.parse(file) as { files: { statements: { plan?: { queryId: string } }[] }[] }).files[0]!
      .statements[1]!.plan!.queryId;
    const explain = runEsql(["repl", "--data", "data"], { cwd: dir, input: `EXPLAIN ${id};\n` });
    expect(explain.stdout).toContain(`into _esql-${id}-as-tested-repartition`);
  });

  it("refuses a plan compiled for other partition counts, and files with errors", () => {
    expect(esql("compile", "pages.esql", "--out", "plans.json").code).toBe(0);
    writeFileSync(
      join(dir, "other.esql"),
      `CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 3);`,
    );
    // The topic exists with 3 partitions before the plan (compiled for 2) is deployed.
    expect(esql("run", "other.esql", "--data", "three").code).toBe(0);
    const plan = JSON.parse(readFileSync(join(dir, "plans.json"), "utf8")) as { files: { statements: unknown[] }[] };
    plan.files[0]!.statements.shift();
    writeFileSync(join(dir, "queries.json"), JSON.stringify(plan));
    const r = esql("run", "--plan", "queries.json", "--data", "three");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/reads topic clicks as 2 partition\(s\), but it has 3/);

    writeFileSync(join(dir, "bad.esql"), "CREATE TABLE t AS SELECT nope, COUNT(*) FROM clicks GROUP BY nope;");
    const bad = esql("compile", "bad.esql", "--out", "bad.json");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("bad.esql:1:");
    expect(bad.stderr).toContain("bad.json not written");
  });
});
