/**
 * `npm run conformance:update`: runs every ksqlDB case and rewrites `qtt-passing.txt` with the cases that
 * pass now (sorted). Review the diff: a case that disappears from the list is a regression.
 */
import { writeFileSync } from "node:fs";
import { KSQL_CASES_AVAILABLE, QTT_DIR } from "../fixtures/ksql-cases.ts";
import { caseId, PASSING_LIST, readPassingList, runAllQtt } from "./qtt-cases.ts";

if (!KSQL_CASES_AVAILABLE) {
  console.error(`conformance: ${QTT_DIR} is absent; nothing to update`);
  process.exit(2);
}
const before = readPassingList();
const outcomes = await runAllQtt();
const passing = outcomes
  .filter((o) => o.status === "passed")
  .map(caseId)
  .sort();
writeFileSync(
  PASSING_LIST,
  `# ksqlDB cases (file :: case) that pass; regenerate with npm run conformance:update\n${passing.join("\n")}\n`,
);
const now = new Set(passing);
const lost = [...before].filter((id) => !now.has(id));
console.log(
  `${passing.length} of ${outcomes.length} cases pass (${((100 * passing.length) / outcomes.length).toFixed(1)}%): +${passing.filter((id) => !before.has(id)).length} -${lost.length}`,
);
for (const id of lost) console.log(`  no longer passing: ${id}`);
