/**
 * `esql test`: runs esql's own test files (`*.test.yaml`, see docs/testing.md) and ksqlDB case files
 * (`*.json` with a `tests` list). Prints each failure with its diff, then `N passed, N failed, N skipped`.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { relative } from "node:path";
import {
  isEsqlTestFile,
  loadEsqlTestFile,
  runEsqlTest,
  type EsqlTest,
  type EsqlTestFile,
} from "../../runtime/testing/esqltest.ts";
import { mapConcurrent } from "../../runtime/testing/pool.ts";
import { isQttDocument, loadQttFile, runQttCase, type QttCase } from "../../runtime/testing/qtt.ts";
import { summarize, summaryLine, writeJsonReport, type TestOutcome } from "../../runtime/testing/report.ts";
import { collectEsqlFiles, UsageError } from "./files.ts";
import { functionsFor } from "./functions.ts";
import { FunctionLoadError } from "../../runtime/engine/functions.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { colors, EXIT } from "./output.ts";

export interface TestOptions {
  /** Write the JSON report here. */
  readonly json?: string;
  /** Run only tests whose name (or file) contains this text, ignoring case. */
  readonly filter?: string;
  /** Tests run at the same time (each has its own engine and folder). */
  readonly concurrency?: number;
  /**
   * Kafka bootstrap addresses: run every test on this broker instead of the embedded log, each in its own
   * topic namespace (`esql-test-<run>-<n>-`), whose topics are deleted when the test ends.
   */
  readonly brokers?: readonly string[];
  /**
   * User-function paths (`--functions`); default: the `functions/` folder beside each test file's deploy
   * files. Tests call every user scalar and table function twice and fail a record whose results differ.
   */
  readonly functions?: readonly string[];
}

type Job =
  | {
      readonly kind: "esql";
      readonly file: EsqlTestFile;
      readonly test: EsqlTest;
      readonly functions: FunctionRegistry | undefined;
    }
  | { readonly kind: "qtt"; readonly test: QttCase }
  | { readonly kind: "broken"; readonly outcome: TestOutcome };

export async function runTest(
  paths: readonly string[],
  options: TestOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const files = collectTestFiles(paths);
  const jobs: Job[] = [];
  for (const path of files) {
    if (isEsqlTestFile(path)) {
      const loaded = loadEsqlTestFile(path);
      if ("error" in loaded)
        jobs.push({
          kind: "broken",
          outcome: { file: path, name: "(test file)", status: "failed", message: loaded.error },
        });
      else {
        let functions: FunctionRegistry | undefined;
        try {
          functions = await functionsFor(loaded.deploy, options.functions, { checkDeterminism: true });
        } catch (e) {
          if (!(e instanceof FunctionLoadError)) throw e;
          jobs.push({
            kind: "broken",
            outcome: { file: path, name: "(user functions)", status: "failed", message: e.message },
          });
          continue;
        }
        for (const test of loaded.tests) jobs.push({ kind: "esql", file: loaded, test, functions });
      }
    } else {
      let cases: QttCase[];
      try {
        cases = loadQttFile(path);
      } catch (e) {
        jobs.push({
          kind: "broken",
          outcome: {
            file: path,
            name: "(case file)",
            status: "failed",
            message: `cannot read: ${(e as Error).message}`,
          },
        });
        continue;
      }
      for (const test of cases) jobs.push({ kind: "qtt", test });
    }
  }
  const filter = options.filter?.toLowerCase();
  const selected =
    filter === undefined
      ? jobs
      : jobs.filter((j) => jobName(j).toLowerCase().includes(filter) || jobFile(j).toLowerCase().includes(filter));
  if (files.length === 0)
    throw new UsageError(`no test files (*.test.yaml, or ksqlDB *.json case files) under ${paths.join(", ")}`);

  const c = colors(out);
  const tty = out.isTTY === true;
  let done = 0;
  // Loaded only when asked for: kafkajs is not needed on the embedded log.
  const kafka = options.brokers
    ? new (await import("../../runtime/log/kafka.ts")).KafkaEventLog({ brokers: [...options.brokers] })
    : undefined;
  const run = randomBytes(3).toString("hex");
  let n = 0;
  const log = kafka
    ? { log: () => new NamespacedLog(kafka, `esql-test-${run}-${n++}-`, { deleteTopicsOnClose: true }) }
    : {};
  const outcomes = await mapConcurrent(selected, options.concurrency ?? 2, async (job) => {
    const outcome =
      job.kind === "broken"
        ? job.outcome
        : job.kind === "esql"
          ? await runEsqlTest(job.file, job.test, { ...log, ...(job.functions ? { functions: job.functions } : {}) })
          : await runQttCase(job.test, log);
    done++;
    // Progress only on a terminal: a dot per test, a line every 80.
    if (tty)
      out.write(
        (outcome.status === "failed" ? c.red("F") : outcome.status === "skipped" ? c.yellow("s") : c.green(".")) +
          (done % 80 === 0 ? "\n" : ""),
      );
    return outcome;
  });
  await kafka?.close();
  if (tty && done % 80 !== 0) out.write("\n");

  for (const o of outcomes) {
    if (o.status !== "failed") continue;
    out.write(`\n${c.red("✗")} ${c.bold(`${shown(o.file)} › ${o.name}`)}\n`);
    out.write(`${indent(o.message ?? "", "    ")}\n`);
  }
  const s = summarize(outcomes);
  if (options.json !== undefined)
    writeJsonReport(
      options.json,
      outcomes.map((o) => ({ ...o, file: shown(o.file) })),
    );
  // The summary is always the last line, set off from the failures above it.
  out.write(`${s.failed > 0 ? "\n" : ""}${summaryLine(s)}\n`);
  return s.failed > 0 ? EXIT.failed : EXIT.ok;
}

function jobName(j: Job): string {
  return j.kind === "broken" ? j.outcome.name : j.test.name;
}

function jobFile(j: Job): string {
  return j.kind === "broken" ? j.outcome.file : j.kind === "esql" ? j.file.path : j.test.file;
}

/**
 * Test files named on the command line: a folder contributes its `*.test.yaml`/`*.test.yml` files and
 * its `*.json` files that are ksqlDB case files; a file named explicitly must be one of those.
 */
function collectTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const isDir = statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
    const candidates = isDir
      ? [...collectEsqlFiles([p], ".yaml"), ...collectEsqlFiles([p], ".yml"), ...collectEsqlFiles([p], ".json")].sort()
      : collectEsqlFiles([p]);
    for (const f of candidates) {
      if (isEsqlTestFile(f) || (f.endsWith(".json") && isCaseFile(f))) out.push(f);
      else if (!isDir)
        throw new UsageError(
          `${p} is not a test file (expected *.test.yaml or a ksqlDB case file *.json with "tests")`,
        );
    }
  }
  return out;
}

function isCaseFile(path: string): boolean {
  try {
    return isQttDocument(JSON.parse(readFileSync(path, "utf8")));
  } catch {
    return false;
  }
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r === "" || r.startsWith("..") ? path : r;
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
}
