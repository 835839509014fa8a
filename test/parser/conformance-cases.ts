/** Loads the statements of ksqlDB's conformance cases (qtt/*.json, rest/*.json) for parser tests. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KSQL_CASES_DIR } from "../fixtures/ksql-cases.ts";

export interface ConformanceScript {
  /** `file: case name [format]` */
  readonly id: string;
  readonly statements: readonly string[];
  /** The case expects a failure (`expectedException` / `expectedError`). */
  readonly expectsError: boolean;
  /** The expected exception's type, when there is one. */
  readonly errorType?: string;
  readonly errorMessage?: string;
}

interface RawCase {
  name: string;
  statements?: string[];
  format?: string[];
  expectedException?: { type?: string; message?: string };
  expectedError?: { type?: string; message?: string };
}

/** One script per case and `format` value (`{FORMAT}` substituted; JSON when the case has none). */
export function loadConformanceScripts(): ConformanceScript[] {
  const out: ConformanceScript[] = [];
  for (const sub of ["qtt", "rest"]) {
    const dir = join(KSQL_CASES_DIR, sub);
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort()) {
      const doc = JSON.parse(readFileSync(join(dir, file), "utf8")) as { tests?: RawCase[] };
      for (const c of doc.tests ?? []) {
        const err = c.expectedException ?? c.expectedError;
        for (const format of c.format ?? ["JSON"]) {
          out.push({
            id: `${sub}/${file}: ${c.name} [${format}]`,
            statements: (c.statements ?? []).map((s) => s.replaceAll("{FORMAT}", format)),
            expectsError: err !== undefined,
            ...(err?.type === undefined ? {} : { errorType: err.type }),
            ...(err?.message === undefined ? {} : { errorMessage: err.message }),
          });
        }
      }
    }
  }
  return out;
}
