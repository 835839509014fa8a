/**
 * ksqlDB's query translation tests, one test per case (`describe` per case file), as a ratchet: every case
 * listed in `qtt-passing.txt` must pass; a case not listed that fails is reported as skipped (not expected to
 * pass yet); a case not listed that passes is written to `tmp/qtt-newly-passing.txt` after a full run, and
 * `npm run conformance:update` regenerates the list. One case: `npx vitest run test/conformance/qtt.test.ts
 * -t "<case name>"`. Skipped when `../shared/conformance` is absent (see test/fixtures/ksql-cases.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadQttFile, runQttCase, type QttCase } from "../../runtime/testing/qtt.ts";
import { KSQL_CASES_AVAILABLE, QTT_DIR } from "../fixtures/ksql-cases.ts";
import { caseId, NEWLY_PASSING, QTT_FUNCTIONS, qttFiles, readPassingList } from "./qtt-cases.ts";

const files = KSQL_CASES_AVAILABLE ? qttFiles().map((f) => ({ file: f, cases: loadQttFile(join(QTT_DIR, f)) })) : [];
const total = files.reduce((n, f) => n + f.cases.length, 0);
const listed = readPassingList();
/** Outcomes of the cases this run executed (all of them, or those `-t` selected). */
const passed: string[] = [];
let ran = 0;

async function check(c: QttCase, skip: (note: string) => void): Promise<void> {
  const id = caseId(c);
  const o = await runQttCase(c, { functions: QTT_FUNCTIONS });
  ran++;
  if (o.status === "passed") {
    passed.push(id);
    return;
  }
  const why = (o.message ?? o.status).split("\n").slice(0, 6).join("\n    ");
  // Not listed: not expected to pass yet.
  if (!listed.has(id)) return skip(`not in qtt-passing.txt: ${why}`);
  expect.fail(`${id} is listed in qtt-passing.txt but ${o.status}:\n    ${why}`);
}

// Cases spend most of their time in LevelDB I/O: run them concurrently (vitest's maxConcurrency, 5).
describe.skipIf(!KSQL_CASES_AVAILABLE).concurrent("ksqlDB query translation tests", () => {
  it("every case listed in qtt-passing.txt exists", () => {
    const ids = new Set(files.flatMap((f) => f.cases.map(caseId)));
    expect(
      [...listed].filter((id) => !ids.has(id)),
      "listed cases not found (renamed or removed?)",
    ).toEqual([]);
  });

  for (const { file, cases } of files) {
    describe(file, () => {
      for (const c of cases) it(c.name, { timeout: 120_000 }, ({ skip }) => check(c, skip));
    });
  }

  afterAll(() => {
    if (ran === 0) return;
    const pct = ((100 * passed.length) / ran).toFixed(1);
    console.log(`conformance: ${passed.length} of ${ran} ksqlDB cases pass (${pct}%); ${listed.size} listed`);
    if (ran < total) return; // a selection (-t): the newly passing list needs every case
    const newly = passed.filter((id) => !listed.has(id)).sort();
    mkdirSync(dirname(NEWLY_PASSING), { recursive: true });
    writeFileSync(NEWLY_PASSING, newly.join("\n") + (newly.length > 0 ? "\n" : ""));
    if (newly.length > 0)
      console.log(
        `conformance: ${newly.length} case(s) pass but are not listed: see ${NEWLY_PASSING} (npm run conformance:update)`,
      );
  });
});
