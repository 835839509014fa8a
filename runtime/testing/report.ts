/** Test outcomes and the report every test runner prints: readable failures, a summary line, JSON. */
import { writeFileSync } from "node:fs";

export interface TestOutcome {
  readonly file: string;
  readonly name: string;
  readonly status: "passed" | "failed" | "skipped";
  readonly message?: string;
}

export interface Summary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

export function summarize(outcomes: readonly TestOutcome[]): Summary {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const o of outcomes) {
    if (o.status === "passed") passed++;
    else if (o.status === "failed") failed++;
    else skipped++;
  }
  return { passed, failed, skipped };
}

/** The closing line: `N passed, N failed, N skipped`. */
export function summaryLine(s: Summary): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}

export function writeJsonReport(path: string, outcomes: readonly TestOutcome[]): void {
  const s = summarize(outcomes);
  writeFileSync(
    path,
    JSON.stringify(
      {
        ...s,
        tests: outcomes.map((o) => ({ file: o.file, name: o.name, status: o.status, message: o.message ?? "" })),
      },
      null,
      2,
    ) + "\n",
  );
}
