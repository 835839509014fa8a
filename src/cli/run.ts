/**
 * `esql run`: deploys `.esql` files on the embedded log in a data folder, loads JSON-lines input files
 * into topics, processes everything and prints the materialized tables.
 *
 * Running again with the same data folder continues where the last run stopped:
 * - the engine resumes what it deployed (its command topic); a CREATE whose source already exists with
 *   the same text (tokens, ignoring whitespace and comments) is skipped, one with a different text is an
 *   error (use `--fresh`, or CREATE OR REPLACE); other statements (INSERT, DROP, CREATE TYPE, ...) are
 *   skipped when the same text already ran here (counted per occurrence), as recorded in `run-ledger.json`;
 * - an input file already loaded is skipped; lines appended since are loaded; a file changed in any other
 *   way is an error (`--fresh` starts over). The ledger records, per topic and file, the bytes loaded and
 *   their SHA-256.
 */
import type { FunctionRegistry } from "../functions/types.ts";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import Table from "cli-table3";
import { lexText } from "../../grammar/tokens.ts";
import { Engine, type TableSnapshot } from "../../runtime/engine/engine.ts";
import { LogError } from "../../runtime/log/types.ts";
import { PROCESSING_LOG_STREAM, PROCESSING_LOG_TOPIC } from "../../runtime/engine/engine.ts";
import { isErrorReason, type DropReason } from "../../runtime/processors/types.ts";
import { describeDrops, type DropSummary } from "../../runtime/query/drops.ts";
import { encodeRecord, parseInputRecord, sourceForTopic } from "../../runtime/testing/records.ts";
import { displayType, displayValue, toPlain } from "../../runtime/serde/display.ts";
import { error as diagError, type Diagnostic } from "../diagnostics/diagnostic.ts";
import { renderDiagnostic } from "../diagnostics/render.ts";
import { parseScript } from "../parse.ts";
import { artifactSources, plansOf, readArtifact } from "./artifact.ts";
import { collectEsqlFiles, readSource, UsageError } from "./files.ts";
import { restoreProgress, withReplayProgress } from "./progress.ts";
import type { ClusterOptions } from "../../runtime/cluster/member.ts";
import { openKafkaLog } from "./kafka.ts";
import { colors, EXIT, useColor } from "./output.ts";

export interface RunOptions {
  /** The data folder (embedded log and state stores). */
  readonly data: string;
  /** `TOPIC=FILE` pairs. */
  readonly inputs: readonly string[];
  readonly follow: boolean;
  readonly fresh: boolean;
  readonly json: boolean;
  /** Rows shown per table in text output. */
  readonly limit?: number;
  /** Kafka bootstrap addresses: run on this broker instead of the embedded log (state stays in `data`). */
  readonly brokers?: readonly string[];
  /** Run as one instance of a service sharing the deployment (Kafka; see `src/cli/kafka.ts`). */
  readonly cluster?: ClusterOptions;
  /** `processing.guarantee = exactly_once`: outputs, state and offsets in one Kafka transaction per batch. */
  readonly exactlyOnce?: boolean;
  /** A plan file of `esql compile`: deploy its statements with their compiled plans (instead of `.esql` files). */
  readonly plan?: string;
  /** The built-in and user functions (default: the built-ins). */
  readonly functions?: FunctionRegistry;
}

/** What earlier runs did in a data folder (`<data>/run-ledger.json`). */
interface Ledger {
  /** Normalized texts of statements that ran (not CREATE of sources, which the catalog tracks). */
  statements: string[];
  /** `topic=absolute path` → the prefix of the file already loaded. */
  inputs: Record<string, { bytes: number; sha256: string; records: number }>;
  /**
   * Write-ahead intent for the chunk being appended: saved before the append, cleared after. A run killed
   * in between finds it on the next start and tells from the topic's end offsets whether the (atomic)
   * append happened, so a chunk is never loaded twice nor lost.
   */
  pending?: { id: string; topic: string; bytes: number; sha256: string; records: number; endsBefore: number };
}

const LEDGER = "run-ledger.json";

interface InputSpec {
  readonly topic: string;
  readonly path: string;
}

export async function runRun(
  paths: readonly string[],
  options: RunOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const inputs = options.inputs.map(parseInputOption);
  const artifact = options.plan ? readArtifact(options.plan) : undefined;
  if (artifact && paths.length > 0) throw new UsageError("give .esql files or --plan, not both");
  const files = artifact ? [] : collectEsqlFiles(paths);
  if (!artifact && files.length === 0) throw new UsageError(`no .esql files in ${paths.join(", ")}`);
  const sources = artifact ? artifactSources(artifact) : files.map(readSource);
  const plans = artifact ? plansOf(artifact) : undefined;
  const dataDir = resolve(options.data);
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  const err = process.stderr;
  const color = useColor(err);

  // Replays and restores show a bar on a terminal, log lines otherwise (none with --json off a terminal).
  const showProgress = !options.json || err.isTTY === true;
  const showRestore = showProgress ? restoreProgress({ stream: err }) : () => undefined;
  const replay = <T>(work: () => Promise<T>) =>
    showProgress ? withReplayProgress(engine, "replaying", { stream: err }, work) : work();

  let engine: Engine;
  // On Kafka the engine does not own the log: it is closed after the engine, in the `finally` below.
  // Loaded only when asked for: kafkajs is not needed on the embedded log.
  const kafka = await openKafkaLog(options.brokers ? { brokers: options.brokers } : {});
  try {
    engine = await Engine.open({
      dataDir,
      ...(kafka ? { log: kafka } : {}),
      ...(options.functions ? { functions: options.functions } : {}),
      ...(options.cluster ? { cluster: options.cluster, onClusterEvent: (m: string) => err.write(`${m}\n`) } : {}),
      ...(options.exactlyOnce ? { properties: { "processing.guarantee": "exactly_once" } } : {}),
      // Only when a store was missing or behind its changelog (Kafka: e.g. a new or wiped data folder).
      onRestore: (p) => {
        showRestore(p);
        if (p.done && !err.isTTY) err.write(`restored ${p.topic}[${p.partition}] from ${p.read} changelog records\n`);
      },
    });
  } catch (e) {
    if (e instanceof LogError && e.code === "LOCKED") {
      err.write(`esql: the data folder ${options.data} is in use by another esql process\n`);
      return EXIT.failed;
    }
    err.write(`esql: cannot open the data folder ${options.data}: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  for (const w of engine.warnings) err.write(`esql: warning: ${w}\n`);
  const ledgerPath = join(dataDir, LEDGER);
  const ledger: Ledger = existsSync(ledgerPath)
    ? (JSON.parse(readFileSync(ledgerPath, "utf8")) as Ledger)
    : { statements: [], inputs: {} };
  const saveLedgerNow = () => saveLedger(ledger, ledgerPath);
  const progress = (line: string) => {
    if (!options.json) err.write(`${line}\n`);
  };

  try {
    // Deploy.
    let deployed = 0;
    let skipped = 0;
    for (const file of sources) {
      const plan = planDeploy(engine, file.text, ledger, options.data);
      if (plan.diagnostics.length > 0) {
        for (const d of plan.diagnostics) err.write(renderDiagnostic(d, file, { color }) + "\n\n");
        return EXIT.failed;
      }
      skipped += plan.skipped;
      if (plan.text.trim() === "") continue;
      const r = await engine.execute(plan.text, plans ? { plans } : {});
      if (r.diagnostics.length > 0) {
        for (const d of r.diagnostics) err.write(renderDiagnostic(d, file, { color }) + "\n\n");
        return EXIT.failed;
      }
      for (const res of r.results)
        if (res.kind === "ok" && res.compiled && !isCreate(res.compiled.statement.kind))
          ledger.statements.push(normalize(res.text));
      deployed += r.results.length;
      saveLedgerNow();
    }
    progress(
      skipped > 0
        ? `${skipped} statement(s) already deployed in ${options.data}, ${deployed} new`
        : `deployed ${deployed} statement(s)`,
    );
    // Following, a broker that is away is waited for (as `esql serve` does); a one-off run fails instead.
    const catchUp = <T>(work: () => Promise<T>) =>
      options.follow ? untilTheLogAnswers(work, logName(options), (line) => err.write(`${line}\n`)) : work();
    await catchUp(() => replay(() => engine.drain()));

    // Load inputs.
    for (const input of inputs) {
      const loaded = await loadInput(engine, input, ledger, ledgerPath, options.data, false);
      saveLedgerNow();
      if (typeof loaded === "string") {
        err.write(`esql: ${loaded}\n`);
        return EXIT.failed;
      }
      progress(
        loaded.records > 0
          ? `loaded ${loaded.records} record(s) from ${shown(input.path)} into ${input.topic}`
          : `${shown(input.path)}: already loaded into ${input.topic}, nothing new`,
      );
    }
    const processed = await catchUp(() => replay(() => engine.drain()));
    progress(`${engine.queries.size} quer${engine.queries.size === 1 ? "y" : "ies"} processed ${processed} record(s)`);

    if (options.follow) {
      const code = await follow(engine, inputs, ledger, saveLedgerNow, ledgerPath, options, progress);
      if (code !== EXIT.ok) return code;
    }
    await printResults(engine, options, out);
    return EXIT.ok;
  } finally {
    await engine.close();
    await kafka?.close();
  }
}

function parseInputOption(spec: string): InputSpec {
  const eq = spec.indexOf("=");
  if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--input expects TOPIC=FILE, found '${spec}'`);
  const path = resolve(spec.slice(eq + 1));
  if (!existsSync(path)) throw new UsageError(`no such file: ${spec.slice(eq + 1)} (in --input ${spec})`);
  return { topic: spec.slice(0, eq), path };
}

function isCreate(kind: string): boolean {
  return kind === "CreateSource" || kind === "CreateAsSelect";
}

/** A statement's tokens joined by single spaces: the same for texts that differ in layout or comments only. */
function normalize(text: string): string {
  return lexText(text)
    .tokens.map((t) => t.image)
    .filter((t) => t !== ";")
    .join(" ");
}

/**
 * Decides which statements of a file still need to run here, and masks the others with spaces (keeping
 * line breaks) so the engine's diagnostics keep their positions in the file.
 */
function planDeploy(
  engine: Engine,
  text: string,
  ledger: Ledger,
  dataLabel: string,
): { text: string; skipped: number; diagnostics: Diagnostic[] } {
  const parsed = parseScript(text, { variables: engine.variables });
  if (parsed.diagnostics.some((d) => d.severity === "error"))
    return { text, skipped: 0, diagnostics: [...parsed.diagnostics] };
  const diagnostics: Diagnostic[] = [];
  const ran = new Map<string, number>();
  for (const s of ledger.statements) ran.set(s, (ran.get(s) ?? 0) + 1);
  let masked = text;
  let skipped = 0;
  for (const p of parsed.statements) {
    const st = p.statement;
    let skip = false;
    if (st.kind === "CreateSource" || st.kind === "CreateAsSelect") {
      const existing = engine.catalog.source(st.name.value);
      if (existing) {
        if (normalize(existing.sql) === normalize(p.text)) skip = true;
        else if (!st.orReplace) {
          diagnostics.push(
            diagError(
              "RUN010",
              `${st.name.value} is already deployed in ${dataLabel} with a different definition`,
              st.span,
              "run with --fresh to start over, or use CREATE OR REPLACE",
            ),
          );
        }
      }
    } else if (
      st.kind !== "Define" &&
      st.kind !== "Undefine" &&
      st.kind !== "SetProperty" &&
      st.kind !== "UnsetProperty"
    ) {
      const key = normalize(p.text);
      const n = ran.get(key) ?? 0;
      if (n > 0) {
        skip = true;
        ran.set(key, n - 1);
      }
    }
    if (skip) {
      skipped++;
      // Blank the statement and its `;` (the span's end is exclusive and leaves the `;` out).
      const { start } = st.span;
      const semi = /^\s*;/.exec(masked.slice(st.span.end));
      const end = st.span.end + (semi ? semi[0].length : 0);
      masked = masked.slice(0, start) + masked.slice(start, end).replace(/[^\n]/g, " ") + masked.slice(end);
    }
  }
  return { text: masked, skipped, diagnostics };
}

/**
 * Loads the part of an input file not loaded yet (all of it the first time). `completeLinesOnly` leaves
 * a last line without a line break for later (a writer may be in the middle of it).
 */
async function loadInput(
  engine: Engine,
  input: InputSpec,
  ledger: Ledger,
  ledgerFile: string,
  dataLabel: string,
  completeLinesOnly: boolean,
): Promise<{ records: number } | string> {
  const source = sourceForTopic(engine.catalog, input.topic);
  if (!source) {
    const names = [...new Set([...engine.catalog.sources.values()].filter((s) => !s.writtenBy).map((s) => s.topic))];
    return `no stream or table reads the topic ${input.topic} (--input ${input.topic}=...); topics read: ${names.join(", ") || "none"}`;
  }
  const bytes = readFileSync(input.path);
  const id = `${input.topic}=${input.path}`;
  await settlePending(engine, ledger);
  const prev = ledger.inputs[id];
  let from = 0;
  if (prev) {
    const sameStart = bytes.length >= prev.bytes && sha256(bytes.subarray(0, prev.bytes)) === prev.sha256;
    if (!sameStart)
      return `${shown(input.path)} changed since it was loaded into ${dataLabel} (only appending lines is supported); run with --fresh to load everything again`;
    from = prev.bytes;
  }
  let to = bytes.length;
  if (completeLinesOnly) to = bytes.lastIndexOf(0x0a) + 1;
  if (to <= from) return { records: 0 };
  const text = bytes.subarray(from, to).toString("utf8");
  const firstLine = bytes.subarray(0, from).toString("utf8").split("\n").length;
  const records = [];
  /** For each record, the byte offset (from `from`) just past its line. */
  const lineEnds: number[] = [];
  let pos = 0;
  for (const [i, line] of text.split("\n").entries()) {
    pos += Buffer.byteLength(line) + 1;
    const t = line.trim();
    if (t === "" || t.startsWith("//")) continue;
    const where = `${shown(input.path)}:${firstLine + i}`;
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch (e) {
      return `${where}: invalid JSON: ${(e as Error).message}`;
    }
    const r = parseInputRecord(doc);
    if (typeof r === "string") return `${where}: ${r}`;
    try {
      records.push(encodeRecord(source, r));
      lineEnds.push(Math.min(pos, to - from));
    } catch (e) {
      return `${where}: cannot encode the record for ${source.name}: ${(e as Error).message}`;
    }
  }
  if (!(await engine.log.describeTopic(input.topic))) await engine.log.createTopic(input.topic, { partitions: 1 });
  // Chunks of whole lines, each appended atomically and recorded in the ledger with a write-ahead intent.
  for (let i = 0; i < records.length; i += CHUNK) {
    const chunk = records.slice(i, i + CHUNK);
    const end = i + CHUNK >= records.length ? to : from + lineEnds[i + CHUNK - 1]!;
    const before = ledger.inputs[id];
    const entry = {
      bytes: end,
      sha256: sha256(bytes.subarray(0, end)),
      records: (before?.records ?? 0) + chunk.length,
    };
    ledger.pending = { id, topic: input.topic, ...entry, endsBefore: await totalEnd(engine, input.topic) };
    saveLedger(ledger, ledgerFile);
    await engine.log.append(input.topic, chunk);
    ledger.inputs[id] = entry;
    delete ledger.pending;
    saveLedger(ledger, ledgerFile);
  }
  return { records: records.length };
}

const CHUNK = 5000;

async function totalEnd(engine: Engine, topic: string): Promise<number> {
  const d = await engine.log.describeTopic(topic);
  let n = 0;
  for (let p = 0; p < (d?.partitions ?? 0); p++) n += await engine.log.endOffset(topic, p);
  return n;
}

/** Resolves a chunk a killed run was appending: done if the topic grew by it, else forgotten. */
async function settlePending(engine: Engine, ledger: Ledger): Promise<void> {
  const p = ledger.pending;
  if (!p) return;
  const grown = (await totalEnd(engine, p.topic)) - p.endsBefore;
  if (grown === p.records - (ledger.inputs[p.id]?.records ?? 0))
    ledger.inputs[p.id] = { bytes: p.bytes, sha256: p.sha256, records: p.records };
  delete ledger.pending;
}

function saveLedger(ledger: Ledger, path: string): void {
  // Write then rename, so a kill never leaves half a ledger.
  writeFileSync(`${path}.tmp`, JSON.stringify(ledger, null, 2) + "\n");
  renameSync(`${path}.tmp`, path);
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r === "" || r.startsWith("..") ? path : r;
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/**
 * Keeps processing until SIGINT/SIGTERM: waits for new records on the queries' input topics (the log's
 * `waitForData`) and polls the input files for appended lines; prints a progress line per batch.
 */
async function follow(
  engine: Engine,
  inputs: readonly InputSpec[],
  ledger: Ledger,
  saveLedger: () => void,
  ledgerFile: string,
  options: RunOptions,
  progress: (line: string) => void,
): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  progress(`following ${inputs.map((i) => shown(i.path)).join(", ") || "the input topics"}; press Ctrl-C to stop`);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  try {
    while (!stop.signal.aborted) await untilTheLogAnswers(step, logName(options), say, stop.signal);
  } catch (e) {
    if (!(e instanceof FollowFailed)) throw e;
    say(`esql: ${e.message}`);
    return EXIT.failed;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return EXIT.ok;

  /** Waits for new records (or new lines in the input files), loads and processes them. */
  async function step(): Promise<void> {
    const round = new AbortController();
    const abortRound = () => round.abort();
    stop.signal.addEventListener("abort", abortRound, { once: true });
    // The timer also keeps the process alive while waiting (the embedded log holds no handle).
    const waits: Promise<unknown>[] = [new Promise((r) => setTimeout(r, 500))];
    for (const q of engine.queries.values()) {
      for (const { topic, partitions } of q.inputs()) {
        const positions = await Promise.all(
          partitions.map(async (p) => ({ partition: p, offset: await engine.log.endOffset(topic, p) })),
        );
        waits.push(engine.log.waitForData(topic, positions, round.signal));
      }
    }
    await Promise.race(waits).finally(() => {
      round.abort();
      stop.signal.removeEventListener("abort", abortRound);
    });
    if (stop.signal.aborted) return;
    let loaded = 0;
    for (const input of inputs) {
      const r = await loadInput(engine, input, ledger, ledgerFile, options.data, true);
      if (typeof r === "string") throw new FollowFailed(r);
      loaded += r.records;
    }
    if (loaded > 0) saveLedger();
    const before = engine.processingErrorCount;
    const droppedBefore = totalDropped(engine);
    const n = await engine.drain();
    if (n > 0 || loaded > 0) {
      const errors = engine.processingErrorCount - before;
      const dropped = totalDropped(engine) - droppedBefore;
      progress(
        `${new Date().toISOString().slice(11, 19)} processed ${n} record(s)${loaded > 0 ? ` (${loaded} loaded)` : ""}${errors > 0 ? `, ${errors} processing error(s)` : ""}${dropped > 0 ? `, ${dropped} dropped (see the processing log)` : ""}`,
      );
    }
  }
}

/** An input file that cannot be loaded while following: the run ends (EXIT.failed) with this message. */
class FollowFailed extends Error {}

function logName(options: RunOptions): string {
  return options.brokers ? `Kafka at ${options.brokers.join(",")}` : "the log";
}

/**
 * Runs `work` until it does not fail for want of the log (`LogError` IO: a broker away, a connection refused),
 * trying again every second; says once that it waits (and why) and once that the log answers again. Other
 * errors, and any error once `signal` aborted, pass through.
 */
async function untilTheLogAnswers<T>(
  work: () => Promise<T>,
  what: string,
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<T> {
  let since: number | undefined;
  for (;;) {
    try {
      const result = await work();
      if (since !== undefined) say(`esql: ${what} answers again after ${Date.now() - since} ms; going on`);
      return result;
    } catch (e) {
      if (!(e instanceof LogError && e.code === "IO") || signal?.aborted) throw e;
      if (since === undefined) {
        since = Date.now();
        say(`esql: cannot reach ${what} (${e.message}); waiting for it, retrying every second`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The tables every query materializes, in the order they were created. */
async function snapshots(engine: Engine): Promise<TableSnapshot[]> {
  const out: TableSnapshot[] = [];
  for (const s of engine.catalog.sources.values()) {
    if (s.sourceType !== "TABLE" || !s.writtenBy || !engine.queries.has(s.writtenBy)) continue;
    const t = await engine.table(s.name);
    const keyCount = s.columns.filter((c) => c.namespace === "KEY").length + (t.windowed ? 2 : 0);
    out.push({ ...t, rows: sortRows(t.rows, keyCount) });
  }
  return out;
}

/** Rows in key order (then window bounds, which follow the key columns): the same output on every run. */
function sortRows(rows: readonly unknown[][], keyCount: number): unknown[][] {
  const cmp = (a: unknown, b: unknown): number => {
    if (a === b) return 0;
    if (a === null || a === undefined) return -1;
    if (b === null || b === undefined) return 1;
    if ((typeof a === "number" || typeof a === "bigint") && (typeof b === "number" || typeof b === "bigint"))
      return a < b ? -1 : a > b ? 1 : 0;
    const x =
      typeof a === "string" ? a : JSON.stringify(a, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    const y =
      typeof b === "string" ? b : JSON.stringify(b, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return [...rows].sort((a, b) => {
    for (let i = 0; i < keyCount; i++) {
      const c = cmp(a[i], b[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/**
 * Processing errors in the processing log (every run on this data folder): its entries but those of records
 * dropped as the query's semantics (late, NULL key), a flood's summary entry counting for the records it stands for.
 */
async function countProcessingErrors(engine: Engine): Promise<number> {
  let errors = 0;
  const end = await engine.log.endOffset(PROCESSING_LOG_TOPIC, 0);
  for (let at = await engine.log.beginningOffset(PROCESSING_LOG_TOPIC, 0); at < end;) {
    const batch = await engine.log.read(PROCESSING_LOG_TOPIC, 0, at, 10_000);
    if (batch.length === 0) break;
    for (const r of batch) {
      let e: { REASON?: DropReason; MORE?: number } = {};
      try {
        e = r.value ? (JSON.parse(r.value.toString("utf8")) as typeof e) : {};
      } catch {
        // not ours: counted as an error entry
      }
      if (e.REASON === undefined || isErrorReason(e.REASON)) errors += e.MORE ?? 1; // a flood summary stands for MORE records, the first at its offset
    }
    at = batch[batch.length - 1]!.offset + 1;
  }
  return errors;
}

function totalDropped(engine: Engine): number {
  let n = 0;
  for (const id of engine.queries.keys()) n += engine.drops(id).total;
  return n;
}

/** What each running query read and dropped (counted in its stores: every run on this data folder). */
function querySummaries(engine: Engine): { id: string; sink: string; recordsIn: number; drops: DropSummary }[] {
  return [...engine.queries.keys()].map((id) => ({
    id,
    sink: engine.catalog.queries.get(id)?.sink ?? id,
    recordsIn: engine.recordsIn(id),
    drops: engine.drops(id),
  }));
}

async function printResults(engine: Engine, options: RunOptions, out: NodeJS.WriteStream): Promise<void> {
  const tables = await snapshots(engine);
  const errors = await countProcessingErrors(engine);
  const queries = querySummaries(engine);
  if (options.json) {
    const json = {
      tables: Object.fromEntries(
        tables.map((t) => [
          t.name,
          t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, toJsonValue(r[i], c, t)]))),
        ]),
      ),
      processingErrors: errors,
      queries: Object.fromEntries(
        queries.map((q) => [
          q.sink,
          { queryId: q.id, recordsIn: q.recordsIn, dropped: Object.fromEntries(q.drops.byReason) },
        ]),
      ),
    };
    out.write(JSON.stringify(json, null, 2) + "\n");
    return;
  }
  const c = colors(out);
  const limit = options.limit ?? 100;
  for (const t of tables) {
    out.write(
      `\n${c.bold(t.name)} ${c.dim(`(${t.rows.length} row${t.rows.length === 1 ? "" : "s"}${t.windowed ? ", windowed" : ""})`)}\n`,
    );
    const types = t.columns.map((name, i) => displayType(name, t.types[i]!));
    const table = new Table({
      head: [...t.columns],
      // compact: no rule between rows, like psql.
      style: { compact: true, head: useColor(out) ? ["cyan"] : [], border: useColor(out) ? ["grey"] : [] },
    });
    for (const row of t.rows.slice(0, limit)) {
      table.push(
        row.map((v, i) => {
          const numeric = ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"].includes(types[i]!.kind);
          return {
            content: v === null ? c.dim("null") : displayValue(v, types[i]!),
            hAlign: numeric ? "right" : "left",
          } as const;
        }),
      );
    }
    out.write(table.toString() + "\n");
    if (t.rows.length > limit) out.write(c.dim(`… ${t.rows.length - limit} more row(s); use --json to see all\n`));
  }
  if (tables.length === 0) out.write("no materialized tables (CREATE TABLE ... AS SELECT) to show\n");
  if (queries.length > 0) out.write("\n");
  for (const q of queries) {
    const dropped = describeDrops(q.drops);
    const line = `${q.sink}: ${q.recordsIn} record${q.recordsIn === 1 ? "" : "s"} in, ${dropped || "none dropped"}`;
    out.write(dropped ? `${c.yellow(line)}: see the processing log (${PROCESSING_LOG_STREAM})\n` : `${c.dim(line)}\n`);
  }
  const samples = engine.droppedSamples.slice(0, 3);
  for (const e of samples)
    out.write(c.dim(`  ${e.queryId} ${e.topic}[${e.partition}]@${e.offset} ${e.reason}: ${e.message}\n`));
  if (errors > 0) {
    out.write(
      `\n${c.yellow(`${errors} processing error(s)`)}: records that could not be processed are in the topic ${PROCESSING_LOG_TOPIC}\n`,
    );
    for (const e of engine.processingErrors.filter((x) => !samples.includes(x)).slice(0, 3))
      out.write(c.dim(`  ${e.queryId} ${e.topic}[${e.partition}]@${e.offset} ${e.where}: ${e.message}\n`));
  }
}

/**
 * JSON output: numbers as numbers except DECIMAL, which is its exact text (`"80.25"`: a JSON number would
 * pass through a double in most readers); window bounds as epoch milliseconds; TIMESTAMP as ISO text.
 */
function toJsonValue(v: unknown, column: string, t: TableSnapshot): unknown {
  if (column === "WINDOWSTART" || column === "WINDOWEND") return v;
  return toPlain(v, t.types[t.columns.indexOf(column)]!);
}
