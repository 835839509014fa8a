/**
 * esql's own test files (`*.test.yaml`): tests of a user's projections, written by hand and reviewed in
 * pull requests. The format is documented in `docs/testing.md`:
 *
 * ```yaml
 * deploy: bank.esql                 # or a list; paths relative to this file, deployed in order
 * properties: {}                    # optional session properties
 * tests:
 *   - name: balance folds deposits and withdrawals
 *     inputs:                       # topic (or source name) -> records, or a JSONL file
 *       transactions:
 *         - { key: A1, value: { kind: DEPOSIT, amount: 100.00 }, timestamp: 2024-03-01T09:00:00Z }
 *     expect:                       # source name -> rows (tables: final rows, any order; streams: in order)
 *       BALANCES:
 *         - { ACCOUNT_ID: A1, BALANCE: 100.00 }
 *     processingErrors: 0           # optional
 * ```
 *
 * Every test runs on a fresh engine over the embedded log in a temporary folder.
 */
import type { EventLog } from "../log/types.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { renderDiagnostic } from "../../src/diagnostics/render.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { BIGINT, type SqlType } from "../../src/types/sqltype.ts";
import { describeDrops } from "../query/drops.ts";
import { Engine } from "../engine/engine.ts";
import { functionPathsFor, loadFunctions } from "../engine/functions.ts";
import { sourceSerdes, splitWindowedKey } from "../serde/formats.ts";
import { parseInputRecord, produceAndDrain, readAll, sourceForTopic, type InputRecord } from "./records.ts";
import type { TestOutcome } from "./report.ts";
import { displayType, textOf, toPlain } from "../serde/display.ts";
import { matchesExpected } from "./values.ts";

/** Expected rows: column name (any case for unquoted columns) -> expected value. */
export type ExpectedRow = Readonly<Record<string, unknown>>;

export interface EsqlTest {
  readonly name: string;
  /** Inputs in the order written: topic or source name, and its records. */
  readonly inputs: readonly { readonly target: string; readonly records: readonly InputRecord[] }[];
  readonly expect: readonly { readonly source: string; readonly rows: readonly ExpectedRow[] }[];
  readonly processingErrors?: number;
  /** Present when the test is skipped: the reason (may be empty). */
  readonly skip?: string;
}

export interface EsqlTestFile {
  readonly path: string;
  /** Absolute paths of the `.esql` files to deploy, in order. */
  readonly deploy: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly tests: readonly EsqlTest[];
}

/** True for file names esql reads as its own test files. */
export function isEsqlTestFile(path: string): boolean {
  return /\.test\.ya?ml$/i.test(path);
}

/**
 * Reads and validates a test file. A problem (bad YAML, a missing field, an unreadable JSONL file) is
 * returned as a message naming the place, never thrown.
 */
export function loadEsqlTestFile(path: string): EsqlTestFile | { readonly error: string } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    if (e instanceof YAMLParseError) return { error: `invalid YAML: ${e.message}` };
    return { error: (e as Error).message };
  }
  const base = dirname(path);
  const fail = (where: string, msg: string) => ({ error: `${where}: ${msg}` });
  if (!isObject(doc)) return fail("file", "expected a mapping with `deploy` and `tests`");
  const unknownTop = Object.keys(doc).filter((k) => !["deploy", "properties", "tests"].includes(k));
  if (unknownTop.length > 0)
    return fail("file", `unknown key ${unknownTop.join(", ")} (expected deploy, properties, tests)`);
  const deployRaw = typeof doc.deploy === "string" ? [doc.deploy] : doc.deploy;
  if (!Array.isArray(deployRaw) || deployRaw.length === 0 || !deployRaw.every((d) => typeof d === "string")) {
    return fail("deploy", "expected an .esql path or a list of them (relative to the test file)");
  }
  const properties: Record<string, string> = {};
  if (doc.properties !== undefined) {
    if (!isObject(doc.properties)) return fail("properties", "expected a mapping of property names to values");
    for (const [k, v] of Object.entries(doc.properties)) properties[k] = String(v);
  }
  if (!Array.isArray(doc.tests) || doc.tests.length === 0) return fail("tests", "expected a list of tests");
  const tests: EsqlTest[] = [];
  for (const [i, t] of doc.tests.entries()) {
    const where = `tests[${i}]${isObject(t) && typeof t.name === "string" ? ` (${t.name})` : ""}`;
    if (!isObject(t)) return fail(where, "expected a mapping with name, inputs, expect");
    const unknown = Object.keys(t).filter((k) => !["name", "inputs", "expect", "processingErrors", "skip"].includes(k));
    if (unknown.length > 0)
      return fail(where, `unknown key ${unknown.join(", ")} (expected name, inputs, expect, processingErrors, skip)`);
    if (typeof t.name !== "string" || t.name.trim() === "") return fail(where, "`name` must be a non-empty text");
    const inputs: { target: string; records: InputRecord[] }[] = [];
    if (t.inputs !== undefined) {
      if (!isObject(t.inputs))
        return fail(`${where}.inputs`, "expected a mapping of topic -> records (a list, or a JSONL file path)");
      for (const [target, recs] of Object.entries(t.inputs)) {
        const loaded =
          typeof recs === "string"
            ? loadJsonl(resolve(base, recs))
            : Array.isArray(recs)
              ? parseRecords(recs)
              : `expected a list of records or a JSONL file path`;
        if (typeof loaded === "string") return fail(`${where}.inputs.${target}`, loaded);
        inputs.push({ target, records: loaded });
      }
    }
    const expect: { source: string; rows: ExpectedRow[] }[] = [];
    if (t.expect !== undefined) {
      if (!isObject(t.expect)) return fail(`${where}.expect`, "expected a mapping of table or stream name -> rows");
      for (const [source, rows] of Object.entries(t.expect)) {
        if (!Array.isArray(rows) || !rows.every(isObject))
          return fail(`${where}.expect.${source}`, "expected a list of rows (mappings of column -> value)");
        expect.push({ source, rows: rows as ExpectedRow[] });
      }
    }
    if (
      t.processingErrors !== undefined &&
      (typeof t.processingErrors !== "number" || !Number.isInteger(t.processingErrors))
    ) {
      return fail(`${where}.processingErrors`, "expected a whole number");
    }
    if (expect.length === 0 && t.processingErrors === undefined)
      return fail(where, "a test needs `expect` or `processingErrors`");
    const skip = t.skip === undefined || t.skip === false ? undefined : t.skip === true ? "" : textOf(t.skip);
    tests.push({
      name: t.name,
      inputs,
      expect,
      ...(typeof t.processingErrors === "number" ? { processingErrors: t.processingErrors } : {}),
      ...(skip === undefined ? {} : { skip }),
    });
  }
  return { path, deploy: deployRaw.map((d: string) => resolve(base, d)), properties, tests };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseRecords(items: readonly unknown[]): InputRecord[] | string {
  const out: InputRecord[] = [];
  for (const [i, item] of items.entries()) {
    const r = parseInputRecord(item);
    if (typeof r === "string") return `record ${i + 1}: ${r}`;
    out.push(r);
  }
  return out;
}

/** Reads a JSON-lines file of input records (blank lines and lines starting with `//` are skipped). */
export function loadJsonl(path: string): InputRecord[] | string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return `cannot read ${path}`;
  }
  const out: InputRecord[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    const t = line.trim();
    if (t === "" || t.startsWith("//")) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch (e) {
      return `${path}:${i + 1}: invalid JSON: ${(e as Error).message}`;
    }
    const r = parseInputRecord(doc);
    if (typeof r === "string") return `${path}:${i + 1}: ${r}`;
    out.push(r);
  }
  return out;
}

/** Runs one test of a loaded file. Never throws: an unexpected failure is a failed outcome. */
export async function runEsqlTest(
  file: EsqlTestFile,
  test: EsqlTest,
  options: { readonly log?: () => EventLog | Promise<EventLog>; readonly functions?: FunctionRegistry } = {},
): Promise<TestOutcome> {
  const base = { file: file.path, name: test.name };
  if (test.skip !== undefined) return { ...base, status: "skipped", ...(test.skip ? { message: test.skip } : {}) };
  const dir = mkdtempSync(join(tmpdir(), "esql-test-"));
  let engine: Engine | undefined;
  let log: EventLog | undefined;
  try {
    // `options.log`: a log of the test's own (e.g. a namespace on a broker); closed when the test ends.
    log = options.log ? await options.log() : undefined;
    // Default: the functions/ folder beside the deployed files, with the determinism check of test runs.
    const paths = options.functions ? [] : functionPathsFor(file.deploy);
    const functions =
      options.functions ?? (paths.length ? await loadFunctions(paths, { checkDeterminism: true }) : undefined);
    engine = await Engine.open({
      dataDir: dir,
      ...(log ? { log } : {}),
      ...(functions ? { functions } : {}),
      properties: { ...file.properties },
      persistent: false,
    });
    for (const path of file.deploy) {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return { ...base, status: "failed", message: `cannot read ${shown(path)} (listed in deploy)` };
      }
      const r = await engine.execute(text);
      if (r.diagnostics.length > 0) {
        const rendered = r.diagnostics.map((d) => renderDiagnostic(d, { path: shown(path), text })).join("\n");
        return { ...base, status: "failed", message: `${shown(path)} did not deploy:\n${rendered}` };
      }
    }
    await engine.drain();
    for (const input of test.inputs) {
      const topic = resolveInputTopic(engine, input.target);
      if (topic === undefined)
        return {
          ...base,
          status: "failed",
          message: `inputs: no source reads the topic ${input.target} (and no source is named so)`,
        };
      await produceAndDrain(engine, topic, input.records);
    }
    const problems: string[] = [];
    for (const e of test.expect) problems.push(...(await checkExpectation(engine, e.source, e.rows)));
    const errorCount = engine.processingErrorCount;
    if (test.processingErrors !== undefined && errorCount !== test.processingErrors) {
      const list = engine.processingErrors
        .slice(0, 5)
        .map((p) => `\n    ${p.topic}[${p.partition}]@${p.offset} ${p.where}: ${p.message}`)
        .join("");
      problems.push(`processing errors: expected ${test.processingErrors}, found ${errorCount}${list}`);
    } else if (problems.length > 0 && errorCount > 0) {
      const p = engine.processingErrors[0]!;
      problems.push(`(note: ${errorCount} processing error(s), the first: ${p.where}: ${p.message})`);
    }
    if (problems.length > 0) problems.push(...droppedNotes(engine));
    return problems.length === 0
      ? { ...base, status: "passed" }
      : { ...base, status: "failed", message: problems.join("\n") };
  } catch (e) {
    return { ...base, status: "failed", message: `error: ${(e as Error).stack ?? String(e)}` };
  } finally {
    await engine?.close().catch(() => {});
    await log?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For a failed test: what each query dropped and why, with the first few records (topic[partition]@offset). */
function droppedNotes(engine: Engine): string[] {
  const notes: string[] = [];
  for (const id of engine.queries.keys()) {
    const dropped = describeDrops(engine.drops(id));
    if (!dropped) continue;
    const sink = engine.catalog.queries.get(id)?.sink ?? id;
    const first = engine.droppedSamples
      .filter((p) => p.queryId === id)
      .slice(0, 3)
      .map((p) => `\n    ${p.topic}[${p.partition}]@${p.offset} ${p.reason}: ${p.message}`)
      .join("");
    notes.push(`(note: ${sink} ${dropped}; the first:${first})`);
  }
  return notes;
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith("..") ? path : r;
}

function findSource(engine: Engine, name: string): CatalogSource | undefined {
  return engine.catalog.source(name) ?? engine.catalog.source(name.toUpperCase());
}

function resolveInputTopic(engine: Engine, target: string): string | undefined {
  if (sourceForTopic(engine.catalog, target)) return target;
  return findSource(engine, target)?.topic;
}

/** Columns, types and rows of a source as the test compares them. */
interface Rows {
  readonly columns: readonly string[];
  readonly types: readonly SqlType[];
  readonly rows: readonly unknown[][];
  /** How many leading columns identify a row (key columns and window bounds): used to pair rows in diffs. */
  readonly keyCount: number;
  /** Streams: the topic's partition count. */
  readonly partitions?: number;
}

async function checkExpectation(engine: Engine, name: string, expected: readonly ExpectedRow[]): Promise<string[]> {
  const source = findSource(engine, name);
  if (!source) return [`expect: there is no table or stream named ${name}`];
  let actual: Rows;
  if (source.sourceType === "TABLE") {
    if (!source.writtenBy)
      return [`expect: ${source.name} is not written by a query (only CREATE TABLE AS SELECT tables can be checked)`];
    const t = await engine.table(source.name);
    const keyCount = source.columns.filter((c) => c.namespace === "KEY").length + (t.windowed ? 2 : 0);
    actual = { columns: t.columns, types: t.types, rows: t.rows, keyCount };
  } else {
    actual = await streamRows(engine, source);
  }
  const resolved: { index: number; value: unknown }[][] = [];
  const problems: string[] = [];
  for (const row of expected) {
    const cells: { index: number; value: unknown }[] = [];
    for (const [col, value] of Object.entries(row)) {
      const index = columnIndex(actual.columns, col);
      if (index < 0) problems.push(`expect ${source.name}: no column ${col} (columns: ${actual.columns.join(", ")})`);
      else cells.push({ index, value });
    }
    resolved.push(cells);
  }
  if (problems.length > 0) return [...new Set(problems)];
  // Window bounds and ROWTIME compare as times (ISO text or ms).
  actual = { ...actual, types: actual.types.map((t, i) => displayType(actual.columns[i]!, t)) };
  if (source.sourceType === "STREAM" && (actual.partitions ?? 1) > 1 && actual.keyCount > 0) {
    // Order is defined per partition, i.e. per key: compare each key's records in order.
    const keyCols = actual.columns.slice(0, actual.keyCount);
    const actualKey = (row: unknown[]) =>
      JSON.stringify(keyCols.map((c, i) => textOf(toPlain(row[i], displayType(c, actual.types[i]!)))));
    const expectedKey = (row: ExpectedRow) =>
      JSON.stringify(
        keyCols.map((c) => textOf(Object.entries(row).find(([k]) => columnIndex([c], k) === 0)?.[1] ?? null)),
      );
    actual = { ...actual, rows: byKey(actual.rows, actualKey) };
    const order = byKey(
      expected.map((_, i) => i),
      (i) => expectedKey(expected[i]!),
    );
    expected = order.map((i) => expected[i]!);
    resolved.splice(0, resolved.length, ...order.map((i) => resolved[i]!));
  }
  const a = actual;
  const matches = (e: number, r: number) =>
    resolved[e]!.every((c) => matchesExpected(c.value, a.rows[r]![c.index], a.types[c.index]!));
  return source.sourceType === "TABLE"
    ? compareTable(source.name, a, expected, resolved, matches)
    : compareStream(source.name, a, expected, resolved, matches);
}

function columnIndex(columns: readonly string[], name: string): number {
  const exact = columns.indexOf(name);
  return exact >= 0 ? exact : columns.findIndex((c) => c === name.toUpperCase());
}

/** Tables: the same number of rows, each expected row matching a different actual row (any order). */
function compareTable(
  name: string,
  actual: Rows,
  expected: readonly ExpectedRow[],
  resolved: readonly { index: number; value: unknown }[][],
  matches: (e: number, a: number) => boolean,
): string[] {
  // Maximum bipartite matching (augmenting paths): a row that matches several expectations must not
  // make the check depend on the order rows are listed in.
  const owner = new Array<number>(actual.rows.length).fill(-1);
  const assign = (e: number, seen: boolean[]): boolean => {
    for (let a = 0; a < actual.rows.length; a++) {
      if (seen[a] || !matches(e, a)) continue;
      seen[a] = true;
      if (owner[a] === -1 || assign(owner[a]!, seen)) {
        owner[a] = e;
        return true;
      }
    }
    return false;
  };
  const missing: number[] = [];
  for (let e = 0; e < expected.length; e++)
    if (!assign(e, new Array<boolean>(actual.rows.length).fill(false))) missing.push(e);
  const extra = actual.rows.map((_, a) => a).filter((a) => owner[a] === -1);
  if (missing.length === 0 && extra.length === 0) return [];
  const lines = [
    `table ${name}: expected ${expected.length} row(s), found ${actual.rows.length}; ${missing.length} expected row(s) not found, ${extra.length} row(s) not expected`,
  ];
  const usedExtra = new Set<number>();
  for (const e of missing) {
    // Pair the expectation with the unexpected row of the same key, so the diff names the differing columns.
    const keyCells = resolved[e]!.filter((c) => c.index < actual.keyCount);
    const partner =
      keyCells.length > 0
        ? extra.find(
            (a) =>
              !usedExtra.has(a) &&
              keyCells.every((c) => matchesExpected(c.value, actual.rows[a]![c.index], actual.types[c.index]!)),
          )
        : undefined;
    lines.push(`  - expected ${showExpected(expected[e]!)}`);
    if (partner !== undefined) {
      usedExtra.add(partner);
      lines.push(`  + actual   ${showActual(actual, partner)}`);
      lines.push(`    differs in ${differingColumns(actual, resolved[e]!, partner).join(", ")}`);
    }
  }
  for (const a of extra) if (!usedExtra.has(a)) lines.push(`  + unexpected ${showActual(actual, a)}`);
  return [lines.join("\n")];
}

/** Streams: the records in order (per key when the topic has several partitions, where only that order is defined). */
function compareStream(
  name: string,
  actual: Rows,
  expected: readonly ExpectedRow[],
  resolved: readonly { index: number; value: unknown }[][],
  matches: (e: number, a: number) => boolean,
): string[] {
  const lines: string[] = [];
  const n = Math.max(expected.length, actual.rows.length);
  let shownCount = 0;
  for (let i = 0; i < n && shownCount < 10; i++) {
    if (i >= expected.length) {
      lines.push(`  + unexpected record #${i + 1}: ${showActual(actual, i)}`);
      shownCount++;
    } else if (i >= actual.rows.length) {
      lines.push(`  - missing record #${i + 1}: ${showExpected(expected[i]!)}`);
      shownCount++;
    } else if (!matches(i, i)) {
      lines.push(`  record #${i + 1} differs in ${differingColumns(actual, resolved[i]!, i).join(", ")}:`);
      lines.push(`  - expected ${showExpected(expected[i]!)}`);
      lines.push(`  + actual   ${showActual(actual, i)}`);
      shownCount++;
    }
  }
  if (lines.length === 0) return [];
  return [`stream ${name}: expected ${expected.length} record(s), found ${actual.rows.length}\n${lines.join("\n")}`];
}

function differingColumns(actual: Rows, cells: readonly { index: number; value: unknown }[], a: number): string[] {
  return cells
    .filter((c) => !matchesExpected(c.value, actual.rows[a]![c.index], actual.types[c.index]!))
    .map((c) => actual.columns[c.index]!);
}

function showExpected(row: ExpectedRow): string {
  return `{${Object.entries(row)
    .map(([k, v]) => `${k}: ${JSON.stringify(v instanceof Date ? v.toISOString() : v)}`)
    .join(", ")}}`;
}

function showActual(actual: Rows, a: number): string {
  const row = actual.rows[a]!;
  return `{${actual.columns.map((c, i) => `${c}: ${JSON.stringify(toPlain(row[i], displayType(c, actual.types[i]!)))}`).join(", ")}}`;
}

/**
 * A stream's records as rows: key columns, `WINDOWSTART`/`WINDOWEND` when windowed, value columns, then
 * `ROWTIME`. Records of a multi-partition topic are ordered by key, then by offset, so the order compared
 * is the one Kafka defines (per key).
 */
async function streamRows(engine: Engine, source: CatalogSource): Promise<Rows> {
  const serdes = sourceSerdes(source);
  const records = await readAll(engine.log, source.topic);
  const windowed = source.window !== undefined;
  const columns = [
    ...serdes.keyColumns.map((c) => c.name),
    ...(windowed ? ["WINDOWSTART", "WINDOWEND"] : []),
    ...serdes.valueColumns.map((c) => c.name),
    "ROWTIME",
  ];
  const types = [
    ...serdes.keyColumns.map((c) => c.type),
    ...(windowed ? [BIGINT, BIGINT] : []),
    ...serdes.valueColumns.map((c) => c.type),
    BIGINT,
  ];
  const rows: unknown[][] = [];
  for (const r of records) {
    let keyBytes = r.key;
    let bounds: unknown[] = [];
    if (source.window && keyBytes) {
      const split = splitWindowedKey(keyBytes, source.window);
      keyBytes = split.key;
      bounds = [split.window.start, split.window.end];
    } else if (windowed) bounds = [null, null];
    const key =
      serdes.keyColumns.length === 0 ? [] : (serdes.key.deserialize(keyBytes) ?? serdes.keyColumns.map(() => null));
    const value =
      r.value === null
        ? serdes.valueColumns.map(() => null)
        : (serdes.value.deserialize(r.value) ?? serdes.valueColumns.map(() => null));
    rows.push([...key, ...bounds, ...value, r.timestamp]);
  }
  const partitions = (await engine.log.describeTopic(source.topic))?.partitions ?? 1;
  return { columns, types, rows, keyCount: serdes.keyColumns.length + (windowed ? 2 : 0), partitions };
}

/** Stable sort by a text key: puts each key's records together, keeping their order. */
function byKey<T>(items: readonly T[], key: (x: T) => string): T[] {
  return items
    .map((x, i) => ({ x, i, k: key(x) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((e) => e.x);
}
