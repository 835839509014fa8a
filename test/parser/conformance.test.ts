/**
 * Every statement of ksqlDB's own conformance cases parses; the cases ksqlDB rejects at parse time
 * are rejected here too (a few are rejected by later stages, listed below with the reason).
 */
import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";
import { KSQL_CASES_AVAILABLE } from "../fixtures/ksql-cases.ts";
import { loadConformanceScripts } from "./conformance-cases.ts";

const scripts = KSQL_CASES_AVAILABLE ? loadConformanceScripts() : [];

/** ParseFailedException cases that are not syntax errors for esql, and why. */
const NOT_SYNTAX_ERRORS: Record<string, string> = {
  "qtt/asserts.json: should not parse RUN SCRIPT [JSON]":
    "RUN SCRIPT is part of esql's language (ksqlDB keeps it to its CLI)",
  "qtt/hopping-windows.json: import table with invalid window size [JSON]":
    "WITH property values are checked by the analyzer",
  "qtt/session-windows.json: import table with invalid window size [JSON]":
    "WITH property values are checked by the analyzer",
};

describe.skipIf(!KSQL_CASES_AVAILABLE)("conformance statements", () => {
  it("every statement of every case that must succeed parses without a diagnostic", () => {
    let total = 0;
    const failures: string[] = [];
    for (const s of scripts) {
      if (s.expectsError) continue;
      for (const text of s.statements) {
        total++;
        const r = parseScript(text);
        if (r.diagnostics.length > 0 || r.statements.length !== 1) {
          const d = r.diagnostics[0];
          failures.push(`${s.id}: ${text}\n    ${d ? `${d.span.line}:${d.span.col} ${d.message}` : "no statement"}`);
        }
      }
    }
    console.log(
      `conformance: ${total - failures.length}/${total} statements parse (${(((total - failures.length) / total) * 100).toFixed(2)}%)`,
    );
    expect(failures).toEqual([]);
  });

  it("whole case scripts parse as one script each", () => {
    let bad = 0;
    for (const s of scripts) {
      if (s.expectsError) continue;
      const text = s.statements.map((t) => (t.trimEnd().endsWith(";") ? t : `${t};`)).join("\n");
      const r = parseScript(text);
      if (r.diagnostics.length > 0 || r.statements.length !== s.statements.length) bad++;
    }
    expect(bad).toBe(0);
  });

  it("cases ksqlDB rejects with ParseFailedException give a diagnostic", () => {
    const missed: string[] = [];
    let count = 0;
    for (const s of scripts) {
      if (!s.errorType?.endsWith("ParseFailedException")) continue;
      count++;
      const r = parseScript(s.statements.join("\n"));
      if (r.diagnostics.length === 0) missed.push(s.id);
    }
    console.log(`conformance: ${count - missed.length}/${count} ParseFailedException cases rejected by the parser`);
    expect(missed.sort()).toEqual(Object.keys(NOT_SYNTAX_ERRORS).sort());
  });
});
