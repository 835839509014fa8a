/**
 * `esql compile` writes the plans CI tested; `esql run --plan` deploys exactly them: the statements with
 * their compiled topology plans, not plans made again at deploy time.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ESQL_BIN, runEsql } from "../fixtures/cli.ts";
import { eventually } from "../fixtures/eventually.ts";
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

  it("apply --plan deploys the file's statements with its plans, and finds nothing to change the second time", () => {
    expect(esql("compile", "pages.esql", "--out", "plans.json").code).toBe(0);
    const file = readFileSync(join(dir, "plans.json"), "utf8");
    writeFileSync(join(dir, "applied.json"), file.replaceAll("-groupby-0-", "-as-applied-"));
    const a = esql("apply", "--plan", "applied.json", "--data", "applied");
    expect(a.stderr, a.stdout).toContain("PER_PAGE: creating");
    expect(a.code).toBe(0);
    const id = (JSON.parse(file) as { files: { statements: { plan?: { queryId: string } }[] }[] }).files[0]!
      .statements[1]!.plan!.queryId;
    const explain = runEsql(["repl", "--data", "applied"], { cwd: dir, input: `EXPLAIN ${id};\n` });
    expect(explain.stdout).toContain(`into _esql-${id}-as-applied-repartition`);
    const again = esql("apply", "--plan", "applied.json", "--data", "applied");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Nothing to apply.");
    expect(esql("apply", "pages.esql", "--plan", "applied.json").code).toBe(2);
  });

  it("serve --plan serves the file's queries over HTTP: a pull query answers from the plan's stores", async () => {
    expect(esql("compile", "pages.esql", "--out", "plans.json").code).toBe(0);
    const server = spawn(
      process.execPath,
      [ESQL_BIN, "serve", "--plan", "plans.json", "--data", "served", "--port", "0"],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    server.stdout.on("data", (c: Buffer) => (output += String(c)));
    server.stderr.on("data", (c: Buffer) => (output += String(c)));
    try {
      await eventually(
        async () => /at http:\/\/\S+ /.test(output),
        60_000,
        async () => `server output: ${output}`,
      );
      const url = /at (http:\/\/\S+) /.exec(output)![1]!;
      const post = async (path: string, body: unknown) => {
        const r = await fetch(url + path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: r.status, text: await r.text() };
      };
      const insert = await post("/ksql", {
        ksql: "INSERT INTO clicks (user_id, page) VALUES ('u1', 'a'); INSERT INTO clicks (user_id, page) VALUES ('u2', 'a');",
      });
      expect(insert.status, insert.text).toBe(200);
      let last = "";
      await eventually(
        async () => {
          const pull = await post("/query", { ksql: "SELECT * FROM per_page WHERE page = 'a';" });
          last = `${pull.status} ${pull.text}`;
          return pull.status === 200 && pull.text.includes('"columns":["a",2]');
        },
        30_000,
        async () => `the pull query's last answer: ${last}`,
      );
    } finally {
      server.kill("SIGTERM");
      if (server.exitCode === null) await new Promise((r) => server.once("exit", r));
    }
  });
});
