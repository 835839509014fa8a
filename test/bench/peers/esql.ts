/**
 * The esql side of `npm run bench:peers`: what `esql run SCRIPT --brokers B --data D --fresh --json` does
 * (Engine.open on the Kafka log, execute the script, drain until every query is caught up, read the
 * materialized tables), with the processing timed apart from the process start and the output: `esql run
 * --json` prints no progress lines, so its processing cannot be told apart from Node's start and the JSON
 * printing from outside.
 *
 *   node --import tsx test/bench/peers/esql.ts SCRIPT BROKERS DATA_DIR OUT_FILE
 *
 * Writes `{"tables":{NAME:[{column: value}]},"processingErrors":n}` (the shape of `esql run --json`) to
 * OUT_FILE and prints `RESULT {"events":..,"processMs":..}`: processMs runs from the end of `execute` (the
 * queries deployed, their topics created, nothing read yet) to the end of `drain` (caught up, outputs and
 * commits written). With BENCH_CPU_PROFILE=FILE it writes a CPU profile of the drain alone to FILE.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { Engine } from "../../../runtime/engine/engine.ts";
import { KafkaEventLog } from "../../../runtime/log/kafka.ts";
import { toPlain } from "../../../runtime/serde/display.ts";

const [script, brokers, dataDir, outFile] = process.argv.slice(2);
if (!script || !brokers || !dataDir || !outFile) {
  console.error("usage: esql.ts SCRIPT BROKERS DATA_DIR OUT_FILE");
  process.exit(2);
}
rmSync(dataDir, { recursive: true, force: true });
const log = new KafkaEventLog({ brokers: brokers.split(",") });
const engine = await Engine.open({ dataDir, log });
try {
  const r = await engine.execute(readFileSync(script, "utf8"));
  if (r.diagnostics.length > 0) {
    console.error(r.diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
    process.exit(1);
  }
  // BENCH_CPU_PROFILE=FILE: a CPU profile of the drain alone (not of the start or the output).
  const profileFile = process.env.BENCH_CPU_PROFILE;
  const session = profileFile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const t0 = performance.now();
  const processed = await engine.drain();
  const processMs = performance.now() - t0;
  if (session && profileFile) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(profileFile, JSON.stringify(profile));
    session.disconnect();
  }

  const tables: Record<string, Record<string, unknown>[]> = {};
  for (const s of engine.catalog.sources.values()) {
    if (s.sourceType !== "TABLE" || !s.writtenBy || !engine.queries.has(s.writtenBy)) continue;
    const t = await engine.table(s.name);
    tables[t.name] = t.rows.map((row) =>
      Object.fromEntries(
        t.columns.map((c, i) => [c, c === "WINDOWSTART" || c === "WINDOWEND" ? row[i] : toPlain(row[i], t.types[i]!)]),
      ),
    );
  }
  writeFileSync(outFile, JSON.stringify({ tables, processingErrors: engine.processingErrors.length }));
  console.log(`RESULT ${JSON.stringify({ events: processed, processMs: Math.round(processMs) })}`);
} finally {
  await engine.close();
  await log.close();
}
