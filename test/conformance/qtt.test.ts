/**
 * ksqlDB's query translation tests as a ratchet: every case listed in `qtt-passing.txt` must pass. Cases
 * that pass but are not listed yet are written to `tmp/qtt-newly-passing.txt`; `npm run conformance:update`
 * regenerates the list. Skipped (with a note) when `../shared/conformance` is absent.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestOutcome } from "../../runtime/testing/report.ts";
import { caseId, NEWLY_PASSING, QTT_DIR, qttAvailable, readPassingList, runAllQtt } from "./qtt-cases.ts";

const available = qttAvailable();
if (!available) console.warn(`conformance: ${QTT_DIR} is absent; the ksqlDB case suite is skipped`);

describe.skipIf(!available)("ksqlDB query translation tests", () => {
  it("every case listed in qtt-passing.txt still passes", { timeout: 600_000 }, async () => {
    const outcomes = await runAllQtt();
    const byId = new Map<string, TestOutcome>(outcomes.map((o) => [caseId(o), o]));
    const listed = readPassingList();
    const passing = outcomes.filter((o) => o.status === "passed").map(caseId);
    const pct = ((100 * passing.length) / outcomes.length).toFixed(1);
    console.log(
      `conformance: ${passing.length} of ${outcomes.length} ksqlDB cases pass (${pct}%); ${listed.size} listed`,
    );

    const newly = passing.filter((id) => !listed.has(id));
    mkdirSync(dirname(NEWLY_PASSING), { recursive: true });
    writeFileSync(NEWLY_PASSING, newly.join("\n") + (newly.length > 0 ? "\n" : ""));
    if (newly.length > 0)
      console.log(
        `conformance: ${newly.length} case(s) pass but are not listed: see ${NEWLY_PASSING} (npm run conformance:update)`,
      );

    const regressions = [...listed].filter((id) => byId.get(id)?.status !== "passed");
    const report = regressions.map((id) => {
      const o = byId.get(id);
      return `${id}\n    ${o ? (o.message ?? o.status).split("\n").slice(0, 6).join("\n    ") : "case not found (renamed or removed?)"}`;
    });
    expect(report, `${regressions.length} listed case(s) no longer pass`).toEqual([]);
  });
});
