/**
 * CREATE OR REPLACE in the REPL, in process and against `esql serve`: a refused redefinition prints the
 * analyzer's message (what changed, why, `esql apply`) under the statement, and the session goes on.
 */
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer } from "../../runtime/http/server.ts";
import type { ReplBackend } from "../../src/cli/repl/backend.ts";
import { LocalBackend } from "../../src/cli/repl/local.ts";
import { RemoteBackend } from "../../src/cli/repl/remote.ts";
import { runSession } from "../../src/cli/repl/session.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-repl-replace-");

async function session(backend: ReplBackend, input: string): Promise<string> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString("utf8")));
  await runSession(backend, { input: Readable.from([input]), output: out, terminal: false, color: false, echo: true });
  return text;
}

const INPUT = [
  "CREATE STREAM moves (account STRING KEY, amount INT) WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 1);",
  "CREATE TABLE totals AS SELECT account, SUM(amount) AS total FROM moves GROUP BY account;",
  "CREATE OR REPLACE TABLE totals AS SELECT account, SUM(amount) AS total, COUNT(*) AS n FROM moves GROUP BY account;",
  "CREATE OR REPLACE TABLE totals AS SELECT account, SUM(amount) AS total FROM moves GROUP BY account HAVING SUM(amount) > 0;",
].join("\n");

const REFUSED =
  "CREATE OR REPLACE cannot change the aggregation of table TOTALS: COUNT(*) was added; the stored state would be misread. " +
  "Use `esql apply`, which rebuilds it as a new version.";

describe("CREATE OR REPLACE in the REPL", { timeout: 60_000 }, () => {
  it("prints the refusal in process, then accepts a compatible replacement", async () => {
    const backend = await LocalBackend.open(join(dir, "local"), "test");
    try {
      const out = await session(backend, INPUT);
      expect(out).toContain(REFUSED);
      expect(out).toMatch(/CREATE OR REPLACE TABLE totals AS SELECT account, SUM\(amount\) AS total, COUNT/);
      expect(out.match(/Created query CTAS_TOTALS_0/g)).toHaveLength(2);
    } finally {
      await backend.close();
    }
  });

  it("prints the server's refusal", async () => {
    const engine = await Engine.open({ dataDir: join(dir, "server") });
    const server = await startServer({ engine, drainIntervalMs: 50 });
    try {
      const out = await session(await RemoteBackend.connect(server.url), INPUT);
      expect(out).toContain(REFUSED);
      expect(out.match(/Created query CTAS_TOTALS_0/g)).toHaveLength(2);
    } finally {
      await server.close();
      await engine.close();
    }
  });
});
