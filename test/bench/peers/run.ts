/**
 * `npm run bench:peers`: esql against a Kafka Streams application doing the same work, on the same broker
 * and the same input, in one run (see the README's "Against Kafka Streams").
 *
 *   npm run bench:peers -- [--events N] [--rounds R] [--projections 1,2,3,4] [--profile DIR]
 *
 * Steps: starts a broker (scripts/kafka/broker.ts; or uses KAFKA_BROKERS), builds the Java peer
 * (`mvn -q package` in ./streams), writes the input once (N JSON events to `bench_events` and N account
 * upserts/tombstones to `bench_accounts`, 8 partitions each, keyed with Kafka's default partitioner), then
 * for each projection runs R rounds of, in turn: the raw kafkajs consumer (./raw.ts), `esql run` on the
 * projection's script (./esql/*.esql), and the peer; for projection 3 also the hand-written Node program
 * (./handwritten.ts: kafkajs, a Map of windows, one LevelDB batch per batch); each a separate process from
 * empty state (every topic but the input is deleted before each run). It compares esql's final results with
 * the peer's (the sink topic for projection 1, the materialized table for 2-4) and the hand-written
 * program's, and prints events/s, the ratios and peak RSS.
 * `--profile DIR` adds one esql run per projection (not counted in the figures) with a CPU profile of its
 * processing (written to DIR) and prints where its time goes.
 *
 * Benchmarks may import kafkajs directly; the "only runtime/log/kafka/ imports kafkajs" rule is for
 * product code. Not part of `npm test`.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Table from "cli-table3";
import kafkajs from "kafkajs";
import { DEFAULT_KAFKA_VERSION, startBroker } from "../../../scripts/kafka/broker.ts";
import { summarizeProfile } from "./profile.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..", "..");
const PEER_DIR = join(HERE, "streams");
const EVENTS_TOPIC = "bench_events";
const ACCOUNTS_TOPIC = "bench_accounts";
const INPUTS = new Set([EVENTS_TOPIC, ACCOUNTS_TOPIC]);
const PARTITIONS = 8;
const KEYS = 10_000;
const REGIONS = 50;
/** Event timestamps: one millisecond apart from here (1M events span about 17 one-minute windows). */
const BASE_TS = 1_700_000_000_000;

const PROJECTIONS = [
  {
    id: 1,
    name: "filter + projection → sink topic",
    script: "1-filter.esql",
    input: EVENTS_TOPIC,
    sink: "p1_sink",
    table: undefined,
  },
  {
    id: 2,
    name: "COUNT, SUM per key (10k keys)",
    script: "2-count-sum.esql",
    input: EVENTS_TOPIC,
    sink: "p2_sink",
    table: "PER_KEY",
  },
  {
    id: 3,
    name: "same, 1-minute tumbling window",
    script: "3-windowed.esql",
    input: EVENTS_TOPIC,
    sink: "p3_sink",
    table: "PER_KEY_MINUTE",
    /** The hand-written reference program (./handwritten.ts) does this projection. */
    handwritten: true,
  },
  {
    id: 4,
    name: "table (upserts, tombstones) → GROUP BY other column",
    script: "4-table-regroup.esql",
    input: ACCOUNTS_TOPIC,
    sink: "p4_sink",
    table: "PER_REGION",
  },
] as const;
type Projection = (typeof PROJECTIONS)[number];
type Engine = "raw" | "esql" | "streams" | "hand";

interface RunResult {
  readonly engine: Engine;
  readonly events: number;
  readonly processMs: number;
  readonly wallMs: number;
  readonly peakRssMb: number;
  /** Canonical result lines (sorted), for esql and the peer. */
  readonly rows?: string[];
}

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    events: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "2" },
    projections: { type: "string", default: "1,2,3,4" },
    profile: { type: "string" },
  },
});
const events = Number(opts.events);
const rounds = Number(opts.rounds);
const chosen = PROJECTIONS.filter((p) => opts.projections.split(",").map(Number).includes(p.id));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const log = (line: string) => console.error(line);
const loadAtStart = loadavg()
  .map((l) => l.toFixed(1))
  .join(", ");

// ---- broker and peer ----

const version = process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
const broker = process.env.KAFKA_BROKERS
  ? undefined
  : await startBroker({ version, onProgress: log, mode: "attached" });
const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
log(`broker ${brokers} (Kafka ${version})`);

log(`building the Kafka Streams peer (mvn -q package, kafka-streams ${version})`);
const mvn = spawnSync(process.env.KAFKA_MVN ?? "mvn", ["-B", "-q", `-Dkafka.version=${version}`, "package"], {
  cwd: PEER_DIR,
  encoding: "utf8",
});
if (mvn.status !== 0) throw new Error(`mvn package failed:\n${mvn.stdout}\n${mvn.stderr}`);
const peerClasspath = `${join(PEER_DIR, "target", "streams-peer.jar")}:${join(PEER_DIR, "target", "libs", "*")}`;

const kafka = new kafkajs.Kafka({
  clientId: "bench-peers",
  brokers: brokers.split(","),
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
/**
 * Topics that were on the broker before this run (KAFKA_BROKERS may be a broker others use): never deleted,
 * except this bench's own inputs.
 */
const othersTopics = new Set((await admin.listTopics()).filter((t) => !INPUTS.has(t)));

// ---- input, written once ----

await deleteTopics(() => true);
await admin.createTopics({
  waitForLeaders: true,
  topics: [...INPUTS].map((topic) => ({
    topic,
    numPartitions: PARTITIONS,
    replicationFactor: 1,
    configEntries: [{ name: "retention.ms", value: "-1" }],
  })),
});
{
  const t0 = performance.now();
  const producer = kafka.producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const kinds = ["deposit", "withdrawal", "fee"];
  const CHUNK = 20_000;
  for (let from = 0; from < events; from += CHUNK) {
    const evs: kafkajs.Message[] = [];
    const accs: kafkajs.Message[] = [];
    for (let i = from; i < Math.min(events, from + CHUNK); i++) {
      const timestamp = String(BASE_TS + i);
      // Amounts are multiples of 1/4: their sums are exact in doubles, whatever order they are added in.
      evs.push({
        key: `k${i % KEYS}`,
        value: JSON.stringify({ KIND: kinds[i % 3], AMOUNT: (i % 401) / 4, QTY: i % 10 }),
        timestamp,
      });
      // Accounts: 10k ids, upserts moving between 50 regions, every 10th record a tombstone.
      const id = `a${(i * 7919) % KEYS}`;
      const value =
        i % 10 === 9 ? null : JSON.stringify({ REGION: `r${(i * 31 + (i >> 7)) % REGIONS}`, BALANCE: (i % 1001) / 4 });
      accs.push({ key: id, value, timestamp });
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        { topic: EVENTS_TOPIC, messages: evs },
        { topic: ACCOUNTS_TOPIC, messages: accs },
      ],
    });
  }
  await producer.disconnect();
  log(
    `wrote ${fmt(events)} events to ${EVENTS_TOPIC} and ${fmt(events)} account records to ${ACCOUNTS_TOPIC} (${PARTITIONS} partitions each) in ${fmt(performance.now() - t0)} ms`,
  );
}

// ---- runs ----

const work = mkdtempSync(join(tmpdir(), "esql-bench-peers-"));
const results = new Map<number, RunResult[]>();
const agreement = new Map<number, string[]>();
const profiles = new Map<number, string>();
try {
  for (const p of chosen) {
    const runs: RunResult[] = [];
    const problems: string[] = [];
    for (let round = 1; round <= rounds; round++) {
      const raw = await runRaw(p);
      const esql = await runEsql(p);
      const streams = await runStreams(p);
      const hand = "handwritten" in p ? await runHand() : undefined;
      for (const r of [raw, esql, streams, ...(hand ? [hand] : [])]) {
        runs.push(r);
        log(
          `  P${p.id} round ${round} ${r.engine.padEnd(7)} ${fmt((r.events / r.processMs) * 1000).padStart(9)} events/s  (${fmt(r.processMs)} ms processing, ${fmt(r.wallMs)} ms process, peak RSS ${fmt(r.peakRssMb)} MiB${r.rows ? `, ${fmt(r.rows.length)} result rows` : ""})`,
        );
      }
      const diff = compare(esql.rows!, streams.rows!);
      if (diff) problems.push(`round ${round}: ${diff}`);
      const handDiff = hand && compare(esql.rows!, hand.rows!, "hand-written");
      if (handDiff) problems.push(`round ${round}: ${handDiff}`);
    }
    if (opts.profile !== undefined) {
      const file = join(resolve(opts.profile), `esql-p${p.id}.cpuprofile`);
      mkdirSync(dirname(file), { recursive: true });
      const r = await runEsql(p, file);
      log(`  P${p.id} profiled esql run: ${fmt((r.events / r.processMs) * 1000)} events/s, profile in ${file}`);
      profiles.set(p.id, file);
    }
    results.set(p.id, runs);
    agreement.set(p.id, problems);
    log(
      problems.length === 0
        ? `  P${p.id}: esql and Kafka Streams${"handwritten" in p ? " and the hand-written program" : ""} agree`
        : `  P${p.id}: MISMATCH\n    ${problems.join("\n    ")}`,
    );
  }
} finally {
  await deleteTopics((t) => !INPUTS.has(t));
  await admin.disconnect();
  rmSync(work, { recursive: true, force: true });
  await broker?.stop();
}

// ---- report ----

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rate = (runs: RunResult[], engine: Engine) =>
  mean(runs.filter((r) => r.engine === engine).map((r) => (r.events / r.processMs) * 1000));
const rss = (runs: RunResult[], engine: Engine) =>
  Math.max(...runs.filter((r) => r.engine === engine).map((r) => r.peakRssMb));
const table = new Table({
  head: [
    "projection",
    "raw kafkajs",
    "esql",
    "Kafka Streams",
    "esql / KS",
    "esql / raw",
    "esql / hand-written",
    "peak RSS raw / esql / KS",
    "results",
  ],
  style: { head: [], border: [], compact: true },
  colAligns: ["left", "right", "right", "right", "right", "right", "right", "right", "left"],
});
for (const p of chosen) {
  const runs = results.get(p.id)!;
  const [raw, esql, ks] = [rate(runs, "raw"), rate(runs, "esql"), rate(runs, "streams")];
  table.push([
    `${p.id}. ${p.name}`,
    fmt(raw),
    fmt(esql),
    fmt(ks),
    (esql / ks).toFixed(2),
    (esql / raw).toFixed(2),
    "handwritten" in p ? (esql / rate(runs, "hand")).toFixed(2) : "—",
    `${fmt(rss(runs, "raw"))} / ${fmt(rss(runs, "esql"))} / ${fmt(rss(runs, "streams"))} MiB`,
    agreement.get(p.id)!.length === 0 ? "agree" : "MISMATCH",
  ]);
}
const cpu = cpus();
console.log(
  `esql vs Kafka Streams — ${new Date().toISOString().slice(0, 10)}, ${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${fmt(totalmem() / 2 ** 30)} GiB, node ${process.version}, Kafka ${version} (one local broker)`,
);
console.log(
  `${fmt(events)} events per input topic, ${PARTITIONS} partitions, ${rounds} round(s) of raw → esql → Kafka Streams (→ hand-written for 3) per projection; events/s (mean of rounds) from the start of processing to caught up with outputs flushed; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(", ")} at the end (at the start: ${loadAtStart})`,
);
console.log(table.toString());
for (const [id, file] of profiles) {
  console.log("");
  console.log(`esql CPU profile of projection ${id}, processing only (an extra run, not in the table; ${file}):`);
  console.log(summarizeProfile(file));
}
const mismatches = [...agreement.values()].some((p) => p.length > 0);
process.exit(mismatches ? 1 : 0);

// ---- one run of each engine ----

async function runRaw(p: Projection): Promise<RunResult> {
  await deleteTopics((t) => !INPUTS.has(t));
  const r = await measure("raw", process.execPath, ["--import", "tsx", join(HERE, "raw.ts"), brokers, p.input]);
  const result = resultLine(r.stdout, "raw");
  return {
    engine: "raw",
    events: result.events,
    processMs: result.processMs,
    wallMs: r.wallMs,
    peakRssMb: r.peakRssMb,
  };
}

async function runEsql(p: Projection, profile?: string): Promise<RunResult> {
  await deleteTopics((t) => !INPUTS.has(t));
  const data = join(work, `esql-${p.id}`);
  const out = join(work, `esql-${p.id}.json`);
  // esql.ts does what `esql run --brokers --json` does, timing the processing alone (see there).
  const env: Record<string, string> = profile ? { BENCH_CPU_PROFILE: profile } : {};
  const r = await measure(
    "esql",
    process.execPath,
    ["--import", "tsx", join(HERE, "esql.ts"), join(HERE, "esql", p.script), brokers, data, out],
    env,
  );
  rmSync(data, { recursive: true, force: true });
  const result = resultLine(r.stdout, "esql");
  const output = JSON.parse(readFileSync(out, "utf8")) as {
    tables: Record<string, Record<string, unknown>[]>;
    processingErrors: number;
  };
  if (output.processingErrors > 0) log(`  esql: ${output.processingErrors} processing error(s)`);
  const rows = p.table ? canonicalRows(output.tables[p.table] ?? []) : await readSink(p.sink);
  const ends = await admin.fetchTopicOffsets(p.input);
  return {
    engine: "esql",
    events: ends.reduce((a, o) => a + Number(o.high), 0),
    processMs: result.processMs,
    wallMs: r.wallMs,
    peakRssMb: r.peakRssMb,
    rows,
  };
}

/** The hand-written program of projection 3 (./handwritten.ts), results read back from its LevelDB. */
async function runHand(): Promise<RunResult> {
  await deleteTopics((t) => !INPUTS.has(t));
  const data = join(work, "hand");
  const out = join(work, "hand.json");
  const r = await measure("hand", process.execPath, [
    "--import",
    "tsx",
    join(HERE, "handwritten.ts"),
    brokers,
    data,
    out,
  ]);
  const result = resultLine(r.stdout, "hand-written");
  const output = JSON.parse(readFileSync(out, "utf8")) as { tables: Record<string, Record<string, unknown>[]> };
  return {
    engine: "hand",
    events: result.events,
    processMs: result.processMs,
    wallMs: r.wallMs,
    peakRssMb: r.peakRssMb,
    rows: canonicalRows(output.tables.PER_KEY_MINUTE ?? []),
  };
}

async function runStreams(p: Projection): Promise<RunResult> {
  await deleteTopics((t) => !INPUTS.has(t));
  const out = join(work, `streams-${p.id}.json`);
  const java = process.env.KAFKA_JAVA ?? "java";
  const r = await measure("streams", java, ["-cp", peerClasspath, "esql.bench.Peer", String(p.id), brokers, out]);
  const result = resultLine(r.stdout, "streams");
  const rows = p.table
    ? canonicalRows(
        (JSON.parse(readFileSync(out, "utf8")) as { tables: Record<string, Record<string, unknown>[]> }).tables[
          p.table
        ] ?? [],
      )
    : await readSink(p.sink);
  return {
    engine: "streams",
    events: result.events,
    processMs: result.processMs,
    wallMs: r.wallMs,
    peakRssMb: r.peakRssMb,
    rows,
  };
}

/**
 * Runs a command under GNU time (`%M`: the peak RSS of the process, in KiB), collecting stdout and
 * stderr.
 */
function measure(
  label: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; wallMs: number; peakRssMb: number }> {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "BENCH_MAXRSS_KB %M", command, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - t0;
      const m = /BENCH_MAXRSS_KB (\d+)/.exec(stderr);
      if (code !== 0 || !m)
        return reject(new Error(`${label} failed (exit ${code}):\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`));
      resolveRun({ stdout, stderr, wallMs, peakRssMb: Number(m[1]) / 1024 });
    });
  });
}

function resultLine(stdout: string, label: string): { events: number; processMs: number } {
  const m = /^RESULT (\{.*\})$/m.exec(stdout);
  if (!m) throw new Error(`${label} printed no RESULT line:\n${stdout.slice(-2000)}`);
  return JSON.parse(m[1]!) as { events: number; processMs: number };
}

// ---- results ----

/** One JSON text per row with its fields in name order (numbers as JSON.parse gives them), sorted. */
function canonicalRows(rows: readonly Record<string, unknown>[]): string[] {
  return rows.map((r) => canonical(r)).sort();
}

function canonical(v: unknown): string {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Every record of a sink topic as `key<TAB>canonical value`, sorted (a multiset: order across partitions is free). */
async function readSink(topic: string): Promise<string[]> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  const pending = new Set([...ends].filter(([, e]) => e > 0).map(([p]) => p));
  const rows: string[] = [];
  if (pending.size === 0) return rows;
  const consumer = kafka.consumer({ groupId: `bench-sink-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((done) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition) ?? 0;
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          const value = m.value === null ? "null" : canonical(JSON.parse(m.value.toString("utf8")));
          rows.push(`${m.key?.toString("utf8") ?? "null"}\t${value}`);
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last && Number(last.offset) + 1 >= end && pending.delete(batch.partition) && pending.size === 0) done();
      },
    });
  });
  await consumer.disconnect();
  return rows.sort();
}

/** Undefined when both sorted lists are equal; else how they differ (counts and the first lines). */
function compare(esql: string[], streams: string[], other = "Kafka Streams"): string | undefined {
  const digest = (xs: string[]) => createHash("sha256").update(xs.join("\n")).digest("hex");
  if (esql.length === streams.length && digest(esql) === digest(streams)) return undefined;
  const count = (xs: string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const [a, b] = [count(esql), count(streams)];
  const only = (x: Map<string, number>, y: Map<string, number>) =>
    [...x].filter(([k, n]) => (y.get(k) ?? 0) < n).map(([k]) => k);
  const onlyEsql = only(a, b);
  const onlyStreams = only(b, a);
  return (
    `${esql.length} esql rows vs ${streams.length} ${other} rows; ${onlyEsql.length} only in esql, ${onlyStreams.length} only in ${other}` +
    onlyEsql
      .slice(0, 5)
      .map((l) => `\n      esql:    ${l}`)
      .join("") +
    onlyStreams
      .slice(0, 5)
      .map((l) => `\n      other:   ${l}`)
      .join("")
  );
}

// ---- topics ----

/**
 * Deletes the topics this run made (not Kafka's own `__*`, nor any that were there before it) that `which`
 * selects, and waits until they are gone.
 */
async function deleteTopics(which: (topic: string) => boolean): Promise<void> {
  const doomed = (await admin.listTopics()).filter((t) => !t.startsWith("__") && !othersTopics.has(t) && which(t));
  if (doomed.length === 0) return;
  await admin.deleteTopics({ topics: doomed, timeout: 30_000 });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const left = (await admin.listTopics()).filter((t) => doomed.includes(t));
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`topics not deleted within 30 s: ${doomed.join(", ")}`);
}
