/**
 * Runs every ksqlDB case under `../shared/conformance/ksql/qtt` (shared by the conformance test and
 * `npm run conformance:update`). A case is named `file :: case name`; the list of cases known to pass is
 * `qtt-passing.txt`, one name a line.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { functions } from "../../src/functions/registry.ts";
import { mapConcurrent } from "../../runtime/testing/pool.ts";
import { withKsqlTestFunctions } from "../fixtures/ksql-test-functions.ts";
import { QTT_DIR } from "../fixtures/ksql-cases.ts";
import { loadQttFile, runQttCase } from "../../runtime/testing/qtt.ts";
import type { TestOutcome } from "../../runtime/testing/report.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const PASSING_LIST = join(REPO_ROOT, "test/conformance/qtt-passing.txt");
export const NEWLY_PASSING = join(REPO_ROOT, "tmp/qtt-newly-passing.txt");

export function caseId(o: { file: string; name: string }): string {
  return `${basename(o.file)} :: ${o.name}`;
}

/**
 * Runs every case, a few at a time (cases spend much of their time in LevelDB I/O), with the functions
 * ksqlDB's own test suite registers (the cases assume them; they are not part of esql).
 */
export async function runAllQtt(concurrency = 4): Promise<TestOutcome[]> {
  const cases = qttFiles().flatMap((f) => loadQttFile(join(QTT_DIR, f)));
  return mapConcurrent(cases, concurrency, (c) => runQttCase(c, { functions: QTT_FUNCTIONS }));
}

/** The case files (`*.json` under `QTT_DIR`), sorted. */
export function qttFiles(): string[] {
  return readdirSync(QTT_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

/** The built-in functions plus the ones ksqlDB's test suite registers (the cases assume them). */
export const QTT_FUNCTIONS = withKsqlTestFunctions(functions);

export function readPassingList(): Set<string> {
  if (!existsSync(PASSING_LIST)) return new Set();
  return new Set(
    readFileSync(PASSING_LIST, "utf8")
      .split("\n")
      // Not trimmed: a few case names end with a space.
      .map((l) => l.replace(/\r$/, ""))
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
}
