/**
 * The REPL session in process with piped input: client commands (RUN SCRIPT, PRINT, help), SHOW and
 * DESCRIBE, bad input of every kind, the server backend, and Tab completion.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer } from "../../runtime/http/server.ts";
import type { CompletionNames, ReplBackend } from "../../src/cli/repl/backend.ts";
import { completer } from "../../src/cli/repl/complete.ts";
import { LocalBackend } from "../../src/cli/repl/local.ts";
import { RemoteBackend } from "../../src/cli/repl/remote.ts";
import { complete, runSession } from "../../src/cli/repl/session.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-repl-");

/** Runs `input` through a session on `backend` without a terminal; returns what it printed. */
async function session(backend: ReplBackend, input: string): Promise<string> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString("utf8")));
  await runSession(backend, { input: Readable.from([input]), output: out, terminal: false, color: false, echo: true });
  return text;
}

const SETUP = `
CREATE STREAM moves (account STRING KEY, amount INT) WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);
INSERT INTO moves (account, amount, ROWTIME) VALUES ('alice', 100, 1704103200000);
INSERT INTO moves (account, amount, ROWTIME) VALUES ('bob', 7, 1704103260000);
CREATE TABLE totals AS SELECT account, SUM(amount) AS total FROM moves GROUP BY account EMIT CHANGES;
`;

describe("REPL session on the embedded log", { timeout: 60_000 }, () => {
  it("runs scripts, variables, PRINT, SHOW, DESCRIBE, EXPLAIN and survives bad input", async () => {
    writeFileSync(join(dir, "setup.esql"), SETUP);
    writeFileSync(
      join(dir, "more.sql"),
      "INSERT INTO moves (account, amount, ROWTIME) VALUES ('${who}', 1, 1704103320000);\n",
    );
    const backend = await LocalBackend.open(join(dir, "local"), "test");
    try {
      const cwd = process.cwd();
      process.chdir(dir);
      let out: string;
      try {
        out = await session(
          backend,
          [
            "RUN SCRIPT 'setup.esql';",
            "DEFINE who = 'carol';",
            "RUN SCRIPT 'more.sql';",
            "SHOW VARIABLES;",
            "SELECT * FROM totals WHERE account = 'carol';",
            "PRINT 'moves' FROM BEGINNING LIMIT 2;",
            "PRINT 'nope';",
            "RUN SCRIPT 'missing.sql';",
            "SHOW FUNCTIONS;",
            "SHOW TOPICS; SHOW QUERIES;",
            "DESCRIBE EXTENDED totals;",
            "DESCRIBE nothing;",
            "EXPLAIN CTAS_TOTALS_0;",
            "help",
            "!!! ;",
            // A ';' inside a string does not end the statement.
            "SELECT * FROM totals",
            "  WHERE account = 'alice;';",
            "SELECT * FROM totals WHERE account = 'alice'",
          ].join("\n"),
        );
      } finally {
        process.chdir(cwd);
      }
      expect(out).toContain("Created query CTAS_TOTALS_0");
      expect(out).toMatch(/│ WHO\s+│ carol\s+│/);
      expect(out).toMatch(/│ carol\s+│\s+1 │/);
      // Records of both partitions, ksqlDB's PRINT layout.
      expect(out).toMatch(
        /rowtime: 2024-01-01 10:0\d:00\.000 Z, key: (alice|bob), value: \{"AMOUNT":(100|7)\}, partition: [01]/,
      );
      expect(out).toContain("2 records");
      expect(out).toContain("error: no topic 'nope' (topic names are case-sensitive); topics: ");
      expect(out).toContain("error: cannot read missing.sql: ENOENT");
      expect(out).toMatch(/│ COUNT\s+│ AGGREGATE\s+│ AGGREGATE\s+│/);
      expect(out).toMatch(/│ moves\s+│\s+2 │ 1 1\s+│/);
      expect(out).toMatch(/│ CTAS_TOTALS_0 │ RUNNING │ TOTALS\s+│ CREATE TABLE totals AS SELECT/);
      expect(out).toContain("Written by      : CTAS_TOTALS_0 (RUNNING)");
      expect(out).toMatch(/Records in\s+: 3/);
      expect(out).toContain("input:1:10: error[");
      expect(out).toContain("Query ID  : CTAS_TOTALS_0");
      expect(out).toContain("Push queries (EMIT CHANGES) stream rows until LIMIT or Ctrl-C");
      expect(out).toContain("   >   WHERE account = 'alice;';\n┌");
      expect(out).toContain("(0 rows)");
      // A statement without ';' at the end of piped input still runs.
      expect(out).toMatch(/│ alice\s+│\s+100 │/);
    } finally {
      await backend.close();
    }
  });
});

describe("REPL session on esql serve", { timeout: 60_000 }, () => {
  it("sends statements to /ksql and queries to /query-stream, with session properties", async () => {
    const engine = await Engine.open({ dataDir: join(dir, "server") });
    const server = await startServer({ engine, drainIntervalMs: 50 });
    try {
      const backend = await RemoteBackend.connect(server.url);
      const out = await session(
        backend,
        [
          SETUP,
          "SELECT * FROM moves;",
          "SET 'auto.offset.reset' = 'earliest';",
          "SELECT account, total FROM totals EMIT CHANGES LIMIT 2;",
          "SELECT amout FROM moves;",
          "SHOW QUERIES;",
          "DESCRIBE EXTENDED totals;",
          "EXPLAIN CTAS_TOTALS_0;",
          "SHOW PROPERTIES;",
          "DEFINE who = 'alice';",
          "SELECT account, total FROM totals WHERE account = '${who}';",
        ].join("\n"),
      );
      // SHOW, DESCRIBE and EXPLAIN: the server's entities, shown as the local REPL shows the engine's.
      expect(out).toMatch(/│ CTAS_TOTALS_0 │ RUNNING │ TOTALS\s+│ CREATE TABLE totals AS SELECT/);
      expect(out).toContain("Written by      : CTAS_TOTALS_0 (RUNNING)");
      expect(out).toMatch(/│ ACCOUNT │ STRING \(primary key\) │/);
      expect(out).toContain("Query ID  : CTAS_TOTALS_0");
      expect(out).toContain("Topology (what runs)");
      expect(out).toMatch(/│ auto\.offset\.reset\s+│ earliest\s+│/);
      // Variables the session defined go with each request: the last query answers alice's row alone.
      expect(out.slice(out.lastIndexOf("Property auto.offset.reset"))).toMatch(
        /│ alice\s+│\s+100 │\n└[─┴]+┘\n\(1 row\)/,
      );
      expect(out).toContain("Stream MOVES created");
      expect(out).toContain("Created query CTAS_TOTALS_0");
      // A pull query over a stream: its rows, then the end.
      expect(out).toMatch(/│ alice\s+│\s+100 │/);
      expect(out).toContain("(2 rows)");
      expect(out).toContain("Property auto.offset.reset set to earliest");
      expect(out).toContain("Limit Reached (2 rows)");
      // The server's error position becomes a caret under the statement.
      expect(out).toContain("SELECT amout FROM moves;\n  |        ^^^^^");
    } finally {
      await server.close();
      await engine.close();
    }
  });

  it("reports a server it cannot reach", async () => {
    await expect(RemoteBackend.connect("http://127.0.0.1:9")).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe("statement ends and completion", () => {
  it("ends a statement at a ';' outside strings and comments", () => {
    expect(complete("SELECT 1;")).toBe(true);
    expect(complete("SELECT 1; -- done\n")).toBe(true);
    expect(complete("SELECT 'a;")).toBe(false);
    expect(complete("SELECT 1 /* ; */")).toBe(false);
    expect(complete("SELECT 1\n")).toBe(false);
  });

  const names: CompletionNames = {
    sources: ["PAGEVIEWS", "VIEWS_PER_USER"],
    columns: new Map([
      ["PAGEVIEWS", ["USER_ID", "PAGE"]],
      ["VIEWS_PER_USER", ["USER_ID", "VIEWS"]],
    ]),
    functions: ["COUNT", "CONCAT", "UCASE"],
    topics: ["pageviews"],
  };

  it("offers sources after FROM, topics after PRINT, keywords, columns and functions elsewhere", () => {
    expect(completer("SELECT * FROM views_p", names)).toEqual([["views_per_user"], "views_p"]);
    expect(completer("SELECT * FROM V", names)).toEqual([["VIEWS_PER_USER"], "V"]);
    expect(completer("PRINT pag", names)).toEqual([["pageviews"], "pag"]);
    expect(completer("SEL", names)[0]).toContain("SELECT");
    expect(completer("SELECT CO", names)[0]).toEqual(expect.arrayContaining(["COUNT", "CONCAT"]));
    // Columns of the sources the statement names.
    expect(completer("SELECT PA", names)[0]).toEqual(expect.arrayContaining(["PAGE", "PAGEVIEWS"]));
    expect(completer("SELECT VI", names)[0]).toContain("VIEWS");
    expect(completer("SELECT pa FROM pageviews", names, "SELECT pa")[0]).toContain("page");
    expect(completer("SELECT ", names)).toEqual([[], ""]);
  });
});
