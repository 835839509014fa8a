/**
 * Runs ksqlDB's query translation test cases (the format of `shared/conformance/ksql/qtt`): statements,
 * input records, expected output records or an expected exception, and `post` checks of the resulting
 * sources. Each case runs on a fresh engine in its own temporary folder, over the embedded log there or,
 * with the `log` option, over a log the caller makes for the case (e.g. a namespace of a Kafka broker).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileScript } from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { EventLog } from "../log/types.ts";
import { formatType } from "../../src/types/sqltype.ts";
import { Engine } from "../engine/engine.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import type { LogRecord } from "../log/types.ts";
import { parseJsonLossless } from "../serde/json.ts";
import {
  decodeRecord,
  produceAndDrain,
  readAll,
  sourceForTopic,
  type ActualRecord,
  type InputRecord,
} from "./records.ts";
import { sameValue, show } from "./compare.ts";
import type { TestOutcome } from "./report.ts";

export interface QttRecord extends InputRecord {
  readonly topic: string;
}

export interface QttCase {
  readonly file: string;
  readonly name: string;
  readonly statements: readonly string[];
  readonly inputs: readonly QttRecord[];
  readonly outputs: readonly QttRecord[];
  readonly expectedException?: { readonly type?: string; readonly message?: string };
  readonly properties: Readonly<Record<string, string>>;
  readonly post?: {
    readonly sources?: readonly {
      readonly name: string;
      readonly type: string;
      readonly schema?: string;
      readonly keyFormat?: {
        readonly format?: string;
        readonly windowType?: string;
        readonly windowSize?: number | null;
      };
      readonly valueFormat?: string;
    }[];
    readonly topics?: { readonly blacklist?: string };
  };
}

/** True when the JSON document looks like a ksqlDB test case file. */
export function isQttDocument(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && Array.isArray((doc as { tests?: unknown }).tests);
}

/** Reads a case file; a case with `format` becomes one case per format (`name - FORMAT`). */
export function loadQttFile(path: string): QttCase[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as { tests: Record<string, unknown>[] };
  const out: QttCase[] = [];
  for (const t of doc.tests) {
    const formats = (t.format as string[] | undefined) ?? [undefined];
    for (const f of formats) {
      const sub = (s: string) => (f === undefined ? s : s.replaceAll("{FORMAT}", f));
      out.push({
        file: path,
        name: f === undefined ? String(t.name) : `${String(t.name)} - ${f}`,
        statements: (t.statements as string[]).map(sub),
        inputs: (t.inputs as QttRecord[] | undefined) ?? [],
        outputs: (t.outputs as QttRecord[] | undefined) ?? [],
        ...(t.expectedException ? { expectedException: t.expectedException as QttCase["expectedException"] } : {}),
        properties: Object.fromEntries(
          Object.entries((t.properties as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [k, String(v)]),
        ),
        ...(t.post ? { post: t.post as QttCase["post"] } : {}),
      });
    }
  }
  return out;
}

export interface QttRunOptions {
  /** The function registry the engine uses (default: the built-in one), e.g. with ksqlDB's test-suite functions. */
  readonly functions?: FunctionRegistry;
  /**
   * Makes the log of one case (called once per case; default: the embedded log in the case's folder).
   * Each call must give a log of its own topic namespace (see `NamespacedLog`): case files reuse topic
   * names. `runQttCase` closes it when the case ends.
   */
  readonly log?: (c: QttCase) => EventLog | Promise<EventLog>;
}

/** Runs one case. Never throws: an unexpected failure is a failed outcome with the error's message. */
export async function runQttCase(c: QttCase, options: QttRunOptions = {}): Promise<TestOutcome> {
  const dir = mkdtempSync(join(tmpdir(), "esql-qtt-"));
  const base = { file: c.file, name: c.name };
  let engine: Engine | undefined;
  let log: EventLog | undefined;
  try {
    log = options.log ? await options.log(c) : undefined;
    // ksqlDB's test harness turns the record cache off, so every update is an output record.
    engine = await Engine.open({
      dataDir: dir,
      ...(log ? { log } : {}),
      properties: { "ksql.streams.cache.max.bytes.buffering": "0", ...c.properties },
      persistent: false,
      processingLogStream: false,
      ...(options.functions ? { functions: options.functions } : {}),
    });
    const errors: string[] = [];
    for (const s of c.statements) {
      const r = await engine.execute(s);
      if (r.diagnostics.length > 0) errors.push(...r.diagnostics.map((d: Diagnostic) => `${d.code}: ${d.message}`));
      if (errors.length > 0) break;
      await engine.drain();
    }
    if (c.expectedException) {
      if (errors.length > 0) return { ...base, status: "passed" };
    } else if (errors.length > 0) {
      return { ...base, status: "failed", message: `statement rejected: ${errors.join("; ")}` };
    }
    await produceInputs(engine, c.inputs);
    const runtimeErrors = engine.processingErrors;
    if (c.expectedException) {
      return runtimeErrors.length > 0
        ? { ...base, status: "passed" }
        : {
            ...base,
            status: "failed",
            message: `expected an error (${c.expectedException.type ?? ""}: ${c.expectedException.message ?? ""}) but the statements ran`,
          };
    }
    const problems = await compareOutputs(engine, c.outputs);
    problems.push(...checkPost(engine, c));
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

/** Writes the inputs in order; runs the queries whenever the topic changes, so topics interleave as given. */
async function produceInputs(engine: Engine, inputs: readonly QttRecord[]): Promise<void> {
  let i = 0;
  while (i < inputs.length) {
    const topic = inputs[i]!.topic;
    const start = i;
    while (i < inputs.length && inputs[i]!.topic === topic) i++;
    await produceAndDrain(engine, topic, inputs.slice(start, i));
  }
}

async function compareOutputs(engine: Engine, expected: readonly QttRecord[]): Promise<string[]> {
  const problems: string[] = [];
  const topics = [...new Set(expected.map((e) => e.topic))];
  for (const topic of topics) {
    const want = expected.filter((e) => e.topic === topic);
    const source = sourceForTopic(engine.catalog, topic);
    const records = await readAll(engine.log, topic);
    let got = records.map((r) => exactJsonValue(source, r, decodeRecord(source, r)));
    let exp = [...want];
    const partitions = (await engine.log.describeTopic(topic))?.partitions ?? 1;
    if (partitions > 1) {
      // Order is only defined per partition, i.e. per key: compare each key's sequence.
      const byKey = <T extends { key?: unknown }>(xs: T[]) =>
        xs
          .map((x, i) => [show(x.key ?? null), i, x] as const)
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
          .map((x) => x[2]);
      got = byKey(got);
      exp = byKey(exp);
    }
    const n = Math.max(exp.length, got.length);
    for (let i = 0; i < n; i++) {
      const e = exp[i];
      const g = got[i];
      if (!e) {
        problems.push(`${topic}: unexpected extra record #${i + 1}: ${showRecord(g!)}`);
        continue;
      }
      if (!g) {
        problems.push(`${topic}: missing record #${i + 1}: expected ${showRecord(e)}`);
        continue;
      }
      const diffs: string[] = [];
      if ("key" in e && !sameValue(e.key ?? null, g.key)) diffs.push("key");
      if (!sameValue(e.value, g.value)) diffs.push("value");
      if (e.timestamp !== undefined && e.timestamp !== g.timestamp) diffs.push("timestamp");
      if (e.window && (!g.window || e.window.start !== g.window.start || e.window.end !== g.window.end))
        diffs.push("window");
      if (diffs.length > 0) {
        problems.push(
          `${topic} record #${i + 1} differs in ${diffs.join(", ")}:\n  expected ${showRecord(e)}\n  actual   ${showRecord(g)}`,
        );
      }
    }
    if (problems.length > 8) break;
  }
  return problems;
}

/**
 * A JSON value read again keeping each number's digits, so that a DECIMAL compares with its scale (what the
 * expected text of a DECIMAL states, as ksqlDB's harness reads it).
 */
function exactJsonValue(source: CatalogSource | undefined, r: LogRecord, d: ActualRecord): ActualRecord {
  if (source?.valueFormat.format !== "JSON" || r.value === null) return d;
  return { ...d, value: parseJsonLossless(r.value.toString("utf8")) };
}

function showRecord(r: {
  key?: unknown;
  value: unknown;
  timestamp?: number;
  window?: { start: number; end: number };
}): string {
  const parts = [`key=${show(r.key ?? null)}`, `value=${show(r.value)}`];
  if (r.timestamp !== undefined) parts.push(`ts=${r.timestamp}`);
  if (r.window) parts.push(`window=[${r.window.start},${r.window.end}]`);
  return parts.join(" ");
}

/** Checks `post.sources` (type, schema, formats, window) and `post.topics.blacklist`. */
function checkPost(engine: Engine, c: QttCase): string[] {
  const problems: string[] = [];
  for (const s of c.post?.sources ?? []) {
    const actual = engine.catalog.source(s.name);
    if (!actual) {
      problems.push(`post: source ${s.name} does not exist`);
      continue;
    }
    if (actual.sourceType.toLowerCase() !== s.type.toLowerCase())
      problems.push(`post: ${s.name} is a ${actual.sourceType}, expected ${s.type}`);
    if (s.schema !== undefined) {
      const want = normalizeSchema(s.schema);
      const got = actual.columns
        .map(
          (col) =>
            `${col.name} ${formatType(col.type)}${col.namespace === "KEY" ? " KEY" : col.namespace === "HEADER" ? (col.headerKey === undefined ? " HEADERS" : ` HEADER('${col.headerKey}')`) : ""}`,
        )
        .join(", ");
      if (want !== undefined && want !== got)
        problems.push(`post: ${s.name} schema\n  expected ${want}\n  actual   ${got}`);
    }
    if (s.keyFormat?.format && s.keyFormat.format !== actual.keyFormat.format)
      problems.push(`post: ${s.name} key format ${actual.keyFormat.format}, expected ${s.keyFormat.format}`);
    if (s.keyFormat?.windowType !== undefined && s.keyFormat.windowType !== (actual.window?.type ?? null)) {
      problems.push(`post: ${s.name} window type ${actual.window?.type ?? "none"}, expected ${s.keyFormat.windowType}`);
    }
    if (s.valueFormat && s.valueFormat !== actual.valueFormat.format)
      problems.push(`post: ${s.name} value format ${actual.valueFormat.format}, expected ${s.valueFormat}`);
  }
  return problems;
}

/** Puts a `post` schema (`ID INT KEY, V STRING`) in the form the catalog prints, by compiling it. */
function normalizeSchema(schema: string): string | undefined {
  const compiled = compileScript(`CREATE STREAM X (${schema}) WITH (kafka_topic='x', value_format='JSON');`);
  const source = compiled.catalog.source("X");
  if (compiled.diagnostics.some((d) => d.severity === "error") || !source) return undefined;
  return source.columns
    .map((c) => {
      const suffix =
        c.namespace === "KEY"
          ? " KEY"
          : c.namespace === "HEADER"
            ? c.headerKey !== undefined
              ? ` HEADER('${c.headerKey}')`
              : " HEADERS"
            : "";
      return `${c.name} ${formatType(c.type)}${suffix}`;
    })
    .join(", ");
}
