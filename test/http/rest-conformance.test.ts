import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { expandFormats, runRestCase, type RestCase, type RestOutcome } from "../../runtime/testing/rest.ts";

import { KSQL_CASES_AVAILABLE, REST_DIR as DIR } from "../fixtures/ksql-cases.ts";

const available = KSQL_CASES_AVAILABLE;

it.skipIf(!available)(
  "runs ksqlDB's REST cases through the HTTP server: at least 75% pass",
  async () => {
    const results: { file: string; outcome: RestOutcome }[] = [];
    for (const file of readdirSync(DIR)
      .filter((f) => f.endsWith(".json"))
      .sort()) {
      const cases = (JSON.parse(readFileSync(join(DIR, file), "utf8")) as { tests: RestCase[] }).tests;
      for (const c of cases.flatMap(expandFormats)) results.push({ file, outcome: await runRestCase(c) });
    }
    const passed = results.filter((r) => r.outcome.passed).length;
    const byFile = new Map<string, [number, number]>();
    for (const r of results) {
      const f = byFile.get(r.file) ?? [0, 0];
      f[0] += r.outcome.passed ? 1 : 0;
      f[1]++;
      byFile.set(r.file, f);
    }
    const lines = [...byFile].map(([f, [p, n]]) => `  ${f}: ${p}/${n}`);
    if (process.env.REST_VERBOSE)
      for (const r of results)
        if (!r.outcome.passed) lines.push(`  FAIL ${r.file} > ${r.outcome.name}: ${r.outcome.reason}`);
    console.log(`rest conformance: ${passed} of ${results.length} cases pass\n${lines.join("\n")}`);
    expect(results.length).toBeGreaterThan(0);
    expect(passed / results.length).toBeGreaterThanOrEqual(0.75);
  },
  600_000,
);
