/**
 * `npm run bench`: prints figures and ratios. Benchmarks compare two things in one run on the same
 * machine (the machines here are shared and noisy), so the ratios matter more than the absolute figures.
 * `npm run bench -- --events 200000` runs smaller runtime and Kafka benchmarks; `--only start|compile|functions|runtime|retention|kafka|pull`
 * runs one of them; `--pull-keys 200000 --pull-seconds 5` make the pull benchmark smaller. The Kafka benchmark uses `KAFKA_BROKERS` when set, else starts a broker
 * (`scripts/kafka/broker.ts`) for the run, and is skipped with a note when none can be started.
 */
import { cpus, loadavg } from "node:os";
import { benchCompile } from "./compile.ts";
import { benchFunctions } from "./functions.ts";
import { benchKafka } from "./kafka.ts";
import { benchPull, type LatencyFigures } from "./pull.ts";
import { benchRetention } from "./retention.ts";
import { benchRuntime } from "./runtime.ts";
import { benchStart, START_CHECK_FILE } from "./start.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && !["start", "compile", "functions", "runtime", "retention", "kafka", "pull"].includes(only)) {
  console.error(`--only expects start, compile, functions, runtime, retention, kafka or pull, found '${only}'`);
  process.exit(2);
}
const runs = (name: string) => only === undefined || only === name;

console.log(
  `esql benchmarks — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`,
);
console.log("");

if (runs("start")) {
  const s = await benchStart();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(`CLI start: bin/esql.js (the build in dist/), median wall time of ${s.runs} runs (load average ${load})`);
  const row = (label: string, ms: number) =>
    console.log(`  ${label.padEnd(37)}${ms.toFixed(0).padStart(5)} ms   ratio to node ${(ms / s.nodeMs).toFixed(1)}`);
  row("node -e 0", s.nodeMs);
  row("esql --version", s.versionMs);
  row(`esql check ${START_CHECK_FILE}`, s.checkMs);
  row("from the sources (tsx): --version", s.sourceVersionMs);
  row("from the sources (tsx): check", s.sourceCheckMs);
  console.log("");
}

if (runs("compile")) {
  const c = benchCompile();
  console.log(`compile: a ${c.statements}-statement script`);
  console.log(`  parse only                       ${fmt(c.parsePerSecond)} statements/s`);
  console.log(`  parse + analyze + plan           ${fmt(c.compilePerSecond)} statements/s`);
  console.log(`  ratio                            ${(c.compilePerSecond / c.parsePerSecond).toFixed(2)}`);
  console.log("");
}

if (runs("functions")) {
  const f = benchFunctions(1_000_000);
  console.log(`functions: a user function against a built-in of the same work, ${fmt(f.rows)} rows each`);
  console.log(`  UCASE(s)                         ${fmt(f.builtinUnary)} calls/s`);
  console.log(`  user fn s.toUpperCase()          ${fmt(f.userUnary)} calls/s`);
  console.log(`  ratio user / built-in            ${(f.userUnary / f.builtinUnary).toFixed(2)}`);
  console.log(`  CONCAT(a, b, c)                  ${fmt(f.builtinVariadic)} calls/s`);
  console.log(`  user variadic join               ${fmt(f.userVariadic)} calls/s`);
  console.log(`  ratio user / built-in            ${(f.userVariadic / f.builtinVariadic).toFixed(2)}`);
  console.log("");
}

const events = arg("--events", 1_000_000);
if (runs("runtime")) {
  const r = await benchRuntime(events, 10_000);
  console.log(
    `runtime (embedded log): ${fmt(r.events)} JSON events, ${fmt(r.keys)} keys, windowed COUNT/SUM (1-minute tumbling)`,
  );
  console.log(`  JSON.parse only                  ${fmt(r.parseOnlyPerSecond)} events/s`);
  console.log(`  projection catching up           ${fmt(r.projectionPerSecond)} events/s`);
  console.log(`  ratio projection / JSON.parse    ${(r.projectionPerSecond / r.parseOnlyPerSecond).toFixed(3)}`);
  console.log(`  peak RSS                         ${fmt(r.peakRssMb)} MiB`);
  console.log("");
}

if (runs("retention")) {
  const r = await benchRetention(events, 1_000, 30);
  console.log(
    `window retention (embedded log): ${fmt(r.events)} JSON events over ${r.days} days, ${fmt(r.keys)} keys, hourly COUNT/SUM, RETENTION 1 DAY`,
  );
  console.log(`  windows the replay creates       ${fmt(r.windowsCreated)}`);
  console.log(`  windows in the store after it    ${fmt(r.storeEntries)} (time index ${fmt(r.timeIndexEntries)})`);
  console.log(`  ratio kept / created             ${(r.storeEntries / r.windowsCreated).toFixed(3)}`);
  console.log(`  state on disk                    ${(r.stateBytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`  replay                           ${fmt(r.eventsPerSecond)} events/s`);
  console.log("");
}

if (runs("kafka")) {
  let brokers = process.env.KAFKA_BROKERS?.trim();
  let stop: (() => Promise<void>) | undefined;
  if (!brokers) {
    try {
      const { startBroker } = await import("../../scripts/kafka/broker.ts");
      const b = await startBroker();
      brokers = b.brokers;
      stop = () => b.stop();
    } catch (e) {
      console.log(
        `kafka: skipped (no KAFKA_BROKERS and no broker could be started: ${(e as Error).message.split("\n")[0]})`,
      );
    }
  }
  if (brokers) {
    try {
      const k = await benchKafka(brokers.split(","), events, 10_000, 8);
      console.log(
        `kafka (one broker): ${fmt(k.events)} JSON events, ${k.partitions} partitions, ${fmt(k.keys)} keys, windowed COUNT/SUM (1-minute tumbling)`,
      );
      console.log(`  producing the topic (esql's log)  ${fmt(k.producePerSecond)} events/s`);
      console.log(`  kafkajs consumer + JSON.parse     ${fmt(k.consumerPerSecond)} events/s`);
      console.log(`  projection catching up           ${fmt(k.projectionPerSecond)} events/s`);
      console.log(`  ratio projection / consumer      ${(k.projectionPerSecond / k.consumerPerSecond).toFixed(3)}`);
    } finally {
      await stop?.();
    }
  }
}

if (runs("pull")) {
  const keys = arg("--pull-keys", 1_000_000);
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(`pull queries: a table of ${fmt(keys)} keys (GROUP BY aggregate, 4 partitions), key lookups`);
  console.log(`  load average before               ${load()}`);
  const p = await benchPull({ keys, seconds: arg("--pull-seconds", 10), log: (line) => console.log(line) });
  const ms = (n: number) => `${n.toFixed(2)} ms`.padStart(9);
  const row = (label: string, f: LatencyFigures) =>
    console.log(`  ${label.padEnd(33)}p50 ${ms(f.p50Ms)}   p99 ${ms(f.p99Ms)}   ${fmt(f.perSecond)} lookups/s`);
  for (const [name, f] of [
    [`uniformly random keys over ${fmt(p.keys)}`, p.uniform],
    [`a cached working set of ${fmt(p.hotKeys)} keys`, p.cached],
  ] as const) {
    console.log(`  ${name}`);
    row(`  HTTP, ${p.concurrency} keep-alive clients`, f.http);
    row(`  in process, ${p.concurrency} concurrent`, f.inProcess);
    console.log(
      `    ratio HTTP / in process        p99 ${(f.http.p99Ms / f.inProcess.p99Ms).toFixed(2)}   throughput ${(f.http.perSecond / f.inProcess.perSecond).toFixed(2)}`,
    );
  }
  console.log(`  load average after                ${load()}`);
}
