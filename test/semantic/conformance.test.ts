/**
 * THE KEY FIGURE (see conformance.ts). Failures are listed in /tmp/esql-conformance-failures.txt.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KSQL_CASES_AVAILABLE } from "../fixtures/ksql-cases.ts";
import { runConformance, runRestConformance } from "./conformance.ts";

describe.skipIf(!KSQL_CASES_AVAILABLE)("ksqlDB conformance (compile only)", () => {
  it("compiles valid cases and rejects invalid ones", () => {
    const r = runConformance();
    writeFileSync("/tmp/esql-conformance-failures.txt", r.failures.join("\n\n") + "\n");
    const okPct = (100 * r.ok.pass) / r.ok.total;
    const badPct = (100 * r.bad.pass) / r.bad.total;
    console.log(
      `valid cases compiled clean: ${r.ok.pass}/${r.ok.total} (${okPct.toFixed(1)}%); ` +
        `invalid cases rejected: ${r.bad.pass}/${r.bad.total} (${badPct.toFixed(1)}%), ${r.bad.similar} with a message like ksqlDB's; threw: ${r.threw}`,
    );
    expect(r.threw).toBe(0);
    // The raw figures, every case counted (ksqlDB's test-suite functions come from the test fixture).
    expect(okPct).toBeGreaterThanOrEqual(98);
    expect(badPct).toBeGreaterThanOrEqual(80);
  });

  it("compiles the statements of the REST cases (pull/push queries)", () => {
    const r = runRestConformance();
    console.log(`REST cases: valid ${r.ok.pass}/${r.ok.total}; invalid rejected ${r.bad.pass}/${r.bad.total}`);
    expect(r.ok.pass / r.ok.total).toBeGreaterThanOrEqual(0.98);
  });
});
