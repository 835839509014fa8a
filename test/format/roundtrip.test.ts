/**
 * The formatter on every script we have (golden corpus, examples, ksqlDB's conformance cases):
 * formatting is idempotent and keeps the meaning (same AST without spans, same physical plans).
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { collectEsqlFiles } from "../../src/cli/files.ts";
import { format } from "../../src/format/plugin.ts";
import { parseScript } from "../../src/parse.ts";
import { compileScript } from "../../src/compile.ts";
import { loadConformanceScripts } from "../parser/conformance-cases.ts";
import { KSQL_CASES_AVAILABLE } from "../fixtures/ksql-cases.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The statements' ASTs without positions. */
function meaning(text: string): string {
  const { statements, diagnostics } = parseScript(text);
  return JSON.stringify(
    {
      statements: statements.map((s) => s.statement),
      errors: diagnostics.length,
    },
    (k, v) => {
      return k === "span" || k === "nameSpan" ? undefined : v;
    },
  );
}

function plans(text: string): string | undefined {
  try {
    const compiled = compileScript(text);
    if (compiled.statements.length === 0 || compiled.statements.every((s) => s.physical === undefined))
      return undefined;
    // A transient query's id is a hash of its text: the only part of a plan that may follow the layout.
    return JSON.stringify(
      compiled.statements.map((s) => s.physical ?? null),
      (k, v) =>
        k === "span" || k === "nameSpan"
          ? undefined
          : typeof v === "string" && /^TRANSIENT_[0-9A-F]+/.test(v)
            ? v.replace(/^TRANSIENT_[0-9A-F]+/, "TRANSIENT_*")
            : v,
    );
  } catch {
    return undefined;
  }
}

interface Outcome {
  readonly id: string;
  readonly problem?: string;
  readonly planCompared: boolean;
}

async function check(id: string, text: string): Promise<Outcome> {
  let once: string;
  try {
    once = await format(text);
  } catch (e) {
    return {
      id,
      problem: `format failed: ${(e as Error).message}`,
      planCompared: false,
    };
  }
  const twice = await format(once);
  if (twice !== once)
    return {
      id,
      problem: `not idempotent:\n${once}\n---\n${twice}`,
      planCompared: false,
    };
  if (meaning(once) !== meaning(text))
    return {
      id,
      problem: `meaning changed:\n${text}\n---\n${once}`,
      planCompared: false,
    };
  const before = plans(text);
  if (before === undefined) return { id, planCompared: false };
  const after = plans(once);
  if (after !== before)
    return {
      id,
      problem: `physical plans changed:\n${text}\n---\n${once}`,
      planCompared: true,
    };
  return { id, planCompared: true };
}

function report(label: string, outcomes: Outcome[]): void {
  const failed = outcomes.filter((o) => o.problem !== undefined);
  const planned = outcomes.filter((o) => o.planCompared).length;
  console.log(
    `format ${label}: ${outcomes.length} scripts, ${outcomes.length - failed.length} idempotent with the same AST, ` +
      `physical plans compared for ${planned}`,
  );
  expect(failed.slice(0, 3).map((f) => `${f.id}: ${f.problem}`)).toEqual([]);
}

describe("formatter round trip", () => {
  it("golden corpus and examples", async () => {
    const files = collectEsqlFiles([`${ROOT}test/corpus/golden`, `${ROOT}examples`]);
    expect(files.length).toBeGreaterThan(5);
    const outcomes: Outcome[] = [];
    for (const f of files) outcomes.push(await check(f, readFileSync(f, "utf8")));
    report("corpus", outcomes);
  });

  it.skipIf(!KSQL_CASES_AVAILABLE)(
    "ksqlDB conformance statements (cases without an expected error)",
    async () => {
      const scripts = loadConformanceScripts().filter((s) => !s.expectsError && s.statements.length > 0);
      const outcomes: Outcome[] = [];
      const seen = new Set<string>();
      for (const s of scripts) {
        const text = s.statements.map((st) => st.trim().replace(/;\s*$/, "") + ";").join("\n");
        if (seen.has(text)) continue;
        seen.add(text);
        // Statements the parser rejects are the parser's business (test/parser); skip them here.
        if (parseScript(text).diagnostics.length > 0) continue;
        outcomes.push(await check(s.id, text));
      }
      expect(outcomes.length).toBeGreaterThan(500);
      report("conformance", outcomes);
    },
    600_000,
  );
});
