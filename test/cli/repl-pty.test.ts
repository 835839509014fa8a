/**
 * `esql repl` through a real pseudo-terminal: statements, a windowed CTAS, pull and push queries, Ctrl-C
 * cancelling a push query, Tab completion, and history recalled by a new session. Checks what the screen shows.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { KEY, Terminal } from "./repl-terminal.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-repl-pty-");
const history = join(dir, "history");

let term: Terminal | undefined;
afterEach(() => term?.kill());

function repl(): Terminal {
  term = new Terminal(["repl", "--data", join(dir, "data")], { cwd: dir, env: { ESQL_HISTORY: history } });
  return term;
}

/** Types a statement, waits for `answer`, then for the next prompt. */
async function run(t: Terminal, statement: string, answer: string | RegExp): Promise<string> {
  t.line(statement);
  const shown = await t.expectScreen(answer);
  await t.expectScreen(/esql> $/);
  return shown;
}

describe("esql repl on a terminal", { timeout: 120_000 }, () => {
  it("runs a session: stream, inserts, windowed table, pull, push with LIMIT, Ctrl-C, Tab, errors", async () => {
    const t = repl();
    await t.expectScreen(/esql> $/);
    // The prompt is coloured on a terminal.
    expect(t.raw).toMatch(/\x1b\[[0-9;]*m/);

    // A statement over two lines: the second line gets the continuation prompt.
    t.line("CREATE STREAM pageviews (user_id STRING KEY, page STRING)");
    await t.expectScreen(/ {3}> $/);
    await run(
      t,
      "  WITH (kafka_topic = 'pageviews', value_format = 'JSON', partitions = 1);",
      "Stream PAGEVIEWS created",
    );

    await run(
      t,
      "INSERT INTO pageviews (user_id, page, ROWTIME) VALUES ('alice', '/home', 1704103200000);",
      "1 row inserted",
    );
    await run(
      t,
      "INSERT INTO pageviews (user_id, page, ROWTIME) VALUES ('alice', '/cart', 1704104400000);",
      "1 row inserted",
    );
    await run(
      t,
      "INSERT INTO pageviews (user_id, page, ROWTIME) VALUES ('bob', '/checkout', 1704105000000);",
      "1 row inserted",
    );
    await run(
      t,
      "CREATE TABLE views_per_user AS SELECT user_id, COUNT(*) AS views FROM pageviews WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY user_id EMIT CHANGES;",
      "Created query CTAS_VIEWS_PER_USER",
    );

    // Tab completes the table's name, then a pull query reads the windowed table.
    t.type("SELECT * FROM views_p");
    t.type(KEY.tab);
    await t.expectScreen("views_per_user");
    const pull = await run(t, " WHERE user_id = 'alice';", "(1 row)");
    expect(pull).toMatch(/│ USER_ID\s*│ WINDOWSTART\s*│ WINDOWEND\s*│ VIEWS │/);
    expect(pull).toMatch(/│ alice\s*│ 2024-01-01T10:00:00Z │ 2024-01-01T11:00:00Z │\s+2 │/);

    // A push query with LIMIT ends by itself.
    await run(t, "SET 'auto.offset.reset' = 'earliest';", "Property auto.offset.reset set to earliest");
    const limited = await run(t, "SELECT user_id, page FROM pageviews EMIT CHANGES LIMIT 2;", "Limit Reached (2 rows)");
    expect(limited).toMatch(/│ alice\s+│ \/home\s+│/);
    expect(limited).toMatch(/│ alice\s+│ \/cart\s+│/);
    expect(limited).not.toContain("/checkout");

    // A push query without LIMIT streams until Ctrl-C, which cancels it and keeps the session.
    t.line("SELECT user_id, page FROM pageviews EMIT CHANGES;");
    await t.expectScreen(/│ bob\s+│ \/checkout\s+│/);
    t.type(KEY.ctrlC);
    await t.expectScreen("Query terminated (3 rows)");
    await t.expectScreen(/esql> $/);
    await run(t, "SHOW TABLES;", /│ VIEWS_PER_USER\s*│ VIEWS_PER_USER\s*│/);

    // Mistakes show a caret and a hint; the session goes on.
    const mistake = await run(t, "SELECT page FROM pagevews;", "did you mean 'PAGEVIEWS'?");
    expect(mistake).toContain("SELECT page FROM pagevews;\n  |                  ^^^^^^^^");
    await run(t, "SELECT FROM WHERE;", "error[");

    // Ctrl-C at an empty prompt says how to leave; Ctrl-C while typing drops the statement.
    t.type(KEY.ctrlC);
    await t.expectScreen("press Ctrl-D or type exit to leave");
    t.line("SELECT *");
    await t.expectScreen(/ {3}> $/);
    t.type(KEY.ctrlC);
    await t.expectScreen(/\^C\nesql> $/);

    await run(
      t,
      "SELECT * FROM views_per_user WHERE user_id = 'bob';",
      /│ bob\s*│ 2024-01-01T10:00:00Z │ 2024-01-01T11:00:00Z │\s+1 │/,
    );
    t.type(KEY.ctrlD);
    expect(await t.exited()).toBe(0);
    expect(readFileSync(history, "utf8")).toContain("SELECT * FROM views_per_user WHERE user_id = 'bob';");
  });

  it("has no colours with NO_COLOR", async () => {
    const t = new Terminal(["repl", "--data", join(dir, "plain")], {
      cwd: dir,
      env: { ESQL_HISTORY: join(dir, "plain-history"), NO_COLOR: "1" },
    });
    term = t;
    await t.expectScreen(/esql> $/);
    await run(t, "SELECT nothing FROM nowhere;", "error[");
    t.type(KEY.ctrlD);
    expect(await t.exited()).toBe(0);
    expect(t.raw).not.toMatch(/\x1b\[[0-9;]*m/);
  });

  it("recalls the last statement of the previous session with the up arrow", async () => {
    const t = repl();
    await t.expectScreen(/esql> $/);
    t.type(KEY.up);
    await t.expectScreen("SELECT * FROM views_per_user WHERE user_id = 'bob';");
    t.type(KEY.enter);
    // The recalled statement runs on the tables the first session left in the data folder.
    await t.expectScreen(/│ bob\s*│ 2024-01-01T10:00:00Z │ 2024-01-01T11:00:00Z │\s+1 │/);
    await t.expectScreen(/esql> $/);
    t.line("exit");
    expect(await t.exited()).toBe(0);
  });
});
