/**
 * THE KEY FIGURE: every ksqlDB QTT case through compileScript (with ksqlDB's test-suite functions registered,
 * see test/fixtures/ksql-test-functions.ts). Cases without expectedException must compile
 * without diagnostics (≥ 98%); cases expecting a statement/type error must be rejected (≥ 80%).
 * The runner; conformance.test.ts asserts the figures.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { compileScript } from "../../src/compile.ts";
import { functions as builtins } from "../../src/functions/registry.ts";
import { Catalog } from "../../src/semantic/catalog.ts";
import { withKsqlTestFunctions } from "../fixtures/ksql-test-functions.ts";
import { KSQL_CASES_DIR, QTT_DIR } from "../fixtures/ksql-cases.ts";

/** The built-in functions plus the ones ksqlDB's test suite registers (the cases call them). */
const functions = withKsqlTestFunctions(builtins);

const KSQL = KSQL_CASES_DIR;
const DIR = QTT_DIR;

interface Case {
  name: string;
  statements: string[];
  format?: string[];
  properties?: Record<string, string>;
  expectedException?: { type: string; message?: string };
  inputs?: { topic: string }[];
  outputs?: { topic: string }[];
  topics?: { name: string; partitions?: number }[];
}

export function runConformance() {
  const ok = { total: 0, pass: 0 };
  /** `similar`: rejected with a message containing (the start of) ksqlDB's. */
  const bad = { total: 0, pass: 0, similar: 0 };
  const failures: string[] = [];
  let threw = 0;
  for (const file of readdirSync(DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const cases = (JSON.parse(readFileSync(join(DIR, file), "utf8")) as { tests: Case[] }).tests;
    for (const c of cases) {
      const formats = c.format ?? ["JSON"];
      for (const f of formats) {
        const text = c.statements.join("\n").replaceAll("{FORMAT}", f);
        const topics: { name: string; partitions?: number }[] = [
          ...(c.topics ?? []),
          ...(c.inputs ?? []).map((i) => ({ name: i.topic })),
          ...(c.outputs ?? []).map((i) => ({ name: i.topic })),
        ];
        const catalog = Catalog.empty().withTopics(
          topics.map((t) => ({ name: t.name, partitions: t.partitions ?? 1 })),
        );
        let diags: { message: string; code: string }[];
        try {
          diags = compileScript(text, {
            catalog,
            properties: c.properties ?? {},
            strictTopics: process.env.STRICT_TOPICS === "1",
            functions,
          }).diagnostics;
        } catch (e) {
          threw++;
          diags = [{ message: `THREW ${(e as Error).stack}`, code: "THROW" }];
        }
        const ex = c.expectedException;
        const label = `${file} :: ${c.name}${formats.length > 1 ? ` [${f}]` : ""}`;
        if (!ex) {
          ok.total++;
          if (diags.length === 0) ok.pass++;
          else
            failures.push(
              `FALSE-ERROR ${label}\n  ${diags.map((d) => `${d.code} ${d.message}`).join("\n  ")}\n  ${text.replace(/\n/g, "\n  ")}`,
            );
        } else if (/KsqlStatementException|KsqlException/.test(ex.type)) {
          bad.total++;
          if (diags.length > 0) {
            bad.pass++;
            const norm = (t: string) => t.replace(/\s+/g, " ").trim();
            const want = norm((ex.message ?? "").replace(/^Line: \d+, Col: \d+: /, "")).slice(0, 60);
            if (diags.some((d) => norm(d.message).includes(want))) bad.similar++;
          } else failures.push(`MISSED ${label}\n  expected: ${ex.message ?? ""}\n  ${text.replace(/\n/g, "\n  ")}`);
        }
      }
    }
  }
  return { ok, bad, failures, threw };
}

/** The statements of ksqlDB's REST cases (pull/push queries, INSERT VALUES): valid ones must compile clean. */
export function runRestConformance() {
  const REST = join(KSQL, "rest");
  const ok = { total: 0, pass: 0 };
  const bad = { total: 0, pass: 0 };
  const failures: string[] = [];
  for (const file of readdirSync(REST)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const cases =
      (
        JSON.parse(readFileSync(join(REST, file), "utf8")) as {
          tests?: (Case & { expectedError?: unknown })[];
        }
      ).tests ?? [];
    for (const c of cases) {
      for (const f of c.format ?? ["JSON"]) {
        const text = c.statements.join("\n").replaceAll("{FORMAT}", f);
        const diags = compileScript(text, {
          properties: c.properties ?? {},
          functions,
        }).diagnostics;
        const label = `${file} :: ${c.name}${(c.format ?? []).length > 1 ? ` [${f}]` : ""}`;
        if (c.expectedError) {
          bad.total++;
          if (diags.length) bad.pass++;
          else failures.push(`REST-MISSED ${label}\n  expected: ${JSON.stringify(c.expectedError)}`);
        } else {
          ok.total++;
          if (!diags.length) ok.pass++;
          else failures.push(`REST-FALSE-ERROR ${label}\n  ${diags.map((d) => `${d.code} ${d.message}`).join("\n  ")}`);
        }
      }
    }
  }
  return { ok, bad, failures };
}
