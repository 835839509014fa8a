/**
 * THE KEY FIGURE (see conformance.ts). Failures are listed in /tmp/esql-conformance-failures.txt.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runConformance, runRestConformance } from "./conformance.ts";

describe("ksqlDB conformance (compile only)", () => {
  it("compiles valid cases and rejects invalid ones", () => {
    const r = runConformance();
    writeFileSync(
      "/tmp/esql-conformance-failures.txt",
      r.failures.join("\n\n") + "\n",
    );
    const okPct = (100 * r.ok.pass) / r.ok.total;
    const okLibPct = (100 * r.ok.pass) / (r.ok.total - r.ok.needTestUdf);
    const badPct = (100 * r.bad.pass) / r.bad.total;
    console.log(
      `valid cases compiled clean: ${r.ok.pass}/${r.ok.total} (${okPct.toFixed(1)}%); ` +
        `excluding ${r.ok.needTestUdf} cases that call ksqlDB's test-fixture UDFs: ${okLibPct.toFixed(1)}%; ` +
        `invalid cases rejected: ${r.bad.pass}/${r.bad.total} (${badPct.toFixed(1)}%), ${r.bad.similar} with a message like ksqlDB's; threw: ${r.threw}`,
    );
    expect(r.threw).toBe(0);
    // The raw figure is bounded by cases calling ksqlDB's test-only UDFs (absent from any real registry).
    expect(okLibPct).toBeGreaterThanOrEqual(98);
    expect(okPct).toBeGreaterThanOrEqual(95);
    expect(badPct).toBeGreaterThanOrEqual(80);
  });

  it("compiles the statements of the REST cases (pull/push queries)", () => {
    const r = runRestConformance();
    console.log(
      `REST cases: valid ${r.ok.pass}/${r.ok.total}; invalid rejected ${r.bad.pass}/${r.bad.total}`,
    );
    expect(r.ok.pass / r.ok.total).toBeGreaterThanOrEqual(0.98);
  });
});
