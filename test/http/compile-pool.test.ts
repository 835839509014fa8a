/**
 * The server's SQL parser pool (`runtime/http/compile-pool.ts`): a long text parsed on a worker gives what
 * `parseScript` gives inline (diagnostics, statement texts, kinds and spans, with variables); a job over its
 * time limit fails with a reason and the next job gets a new worker.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";
import { CompilePool, ParseTimeout, type ParsedSql } from "../../runtime/http/compile-pool.ts";

const pool = new CompilePool({ size: 1, inlineLength: 100 });

afterAll(() => pool.close());

/** What the server reads of a parse: the diagnostics, and each statement's text, kind and span. */
function seen(r: ParsedSql) {
  return {
    statements: r.statements.map((p) => ({ text: p.text, kind: p.statement.kind, span: p.statement.span })),
    diagnostics: r.diagnostics,
  };
}
const inline = (text: string, variables: ReadonlyMap<string, string>) => seen(parseScript(text, { variables }));

describe("CompilePool", () => {
  it("parses a long text on a worker exactly as parseScript does inline", { timeout: 120_000 }, async () => {
    const variables = new Map([["TOPIC", "orders"]]);
    const text = [
      "CREATE STREAM s (id INT KEY, v STRING) WITH (kafka_topic='${TOPIC}', value_format='json');",
      "DEFINE n = '3';",
      `SELECT id, ${"v, ".repeat(40)}v FROM s WHERE id > \${n} EMIT CHANGES;`,
      "SELECT FROM WHERE;",
      "INSERT INTO s (id, v) VALUES (1, 'unterminated);",
    ].join("\n");
    expect(pool.offloads(text)).toBe(true);
    const parsed = await pool.parse(text, variables);
    expect(seen(parsed)).toEqual(inline(text, variables));
    expect(parsed.diagnostics.map((d) => d.code)).toContain("SYN001");
  });

  it("parses a short text inline", async () => {
    const text = "SELECT nope FROM s;";
    expect(pool.offloads(text)).toBe(false);
    expect(seen(await pool.parse(text, new Map()))).toEqual(inline(text, new Map()));
  });

  it(
    "fails a job over its time limit with a reason; the next job gets a new worker",
    { timeout: 120_000 },
    async () => {
      const slow = new CompilePool({ size: 1, inlineLength: 100, timeoutMs: 1 });
      try {
        const text = `SELECT ${"(".repeat(500_000)}1 FROM s;`;
        await expect(slow.parse(text, new Map())).rejects.toThrow(ParseTimeout);
        // Not stuck behind the ended worker: the next job runs (on a new one) and meets the same limit.
        await expect(slow.parse(text, new Map())).rejects.toThrow(/took longer than 1 ms to parse/);
      } finally {
        await slow.close();
      }
    },
  );
});
