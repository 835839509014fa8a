/**
 * Kill and bounce scenarios on a real broker (not part of `npm test`):
 *
 *   npm run chaos -- [--rounds N] [--seed S] [--events E] [--guarantee both|at-least-once|exactly-once]
 *                    [--no-bounce] [--kafka-version X.Y.Z]
 *
 * Starts its own single-node broker (scripts/kafka/broker.ts; never the one in KAFKA_BROKERS, since it stops
 * and restarts it). Each round runs one trial per processing guarantee: E events wait in a 4-partition topic;
 * `esql run --follow` or `esql serve` (picked at random) folds them into a GROUP BY aggregate and a re-keyed one
 * (a repartition stage) and is SIGKILLed at random points, 3 times; in one of those steps (unless --no-bounce)
 * the broker goes away meanwhile (SIGTERM or SIGKILL, down for a random while) and comes back on the same data
 * and ports. More events are appended between steps. A last `esql run` catches up and prints the tables, which
 * are compared with a direct fold of the input topic (read back, so it holds whatever was appended):
 *
 * - mismatches: table rows that differ from the fold (or are missing or extra);
 * - lost / duplicated: records the tables counted too few / too many times (from the COUNT columns);
 * - sink repeats: updates of the aggregate's sink topic, read committed, that do not move its count forward
 *   (allowed at-least-once after a crash; never with exactly-once); sink short: keys whose last committed
 *   update is not their total (an open transaction holding readers back would show here);
 * - exits: esql processes that ended by themselves (a crash) instead of being killed, and trials that could
 *   not finish (the message is printed).
 *
 * Everything random comes from --seed (default: the time), printed first, so a failing run can be repeated.
 * Exits 1 when a trial found a mismatch, a lost or duplicated record, an exactly-once sink repeat, a short
 * sink or an exit.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { KafkaEventLog } from "../runtime/log/kafka.ts";
import type { ProduceRecord } from "../runtime/log/types.ts";
import { startBroker, type RunningBroker } from "./kafka/broker.ts";
import { rng as random } from "./random.ts";

const ROOT = resolve(fileURLToPath(import.meta.url), "..", "..");
const BIN = join(ROOT, "bin", "esql.js");
const PARTITIONS = 4;
const KILLS = 3;

type Guarantee = "at-least-once" | "exactly-once";

interface Trial {
  readonly round: number;
  readonly guarantee: Guarantee;
  readonly steps: string[];
  readonly events: number;
  readonly mismatches: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly sinkRepeats: number;
  readonly sinkShort: number;
  readonly exits: number;
  readonly ms: number;
}

function events(from: number, n: number): ProduceRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const j = from + k;
    return {
      key: Buffer.from(`acc-${(j * 31) % 397}`),
      value: Buffer.from(JSON.stringify({ AMOUNT: (j * 7919) % 1000, TELLER: `t${j % 13}` })),
      timestamp: 1_000_000 + j,
    };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts an esql process; resolves once it has deployed (its deployment line), with how it ended later. */
function startEsql(
  mode: "run" | "serve",
  args: readonly string[],
): { child: ChildProcess; ready: Promise<void>; ended: Promise<{ code: number | null; signal: string | null }> } {
  const argv = mode === "run" ? ["run", ...args, "--follow"] : ["serve", ...args, "--port", "0", "--host", "127.0.0.1"];
  const child = spawn(process.execPath, [BIN, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const onData = (d: Buffer) => {
    out += String(d);
    if (/statement\(s\)|REST API[^\n]* at|resuming them/.test(out)) readyResolve();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const ended = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once("exit", (code, signal) => {
      readyResolve();
      if (signal !== "SIGKILL") process.stderr.write(`  esql ${mode} ended by itself (${code ?? signal}):\n${out}\n`);
      r({ code, signal });
    }),
  );
  return { child, ready, ended };
}

async function trial(
  broker: RunningBroker,
  round: number,
  guarantee: Guarantee,
  rnd: () => number,
  eventCount: number,
  bounce: boolean,
  workDir: string,
): Promise<Trial> {
  const started = Date.now();
  const tag = `${round}_${guarantee === "exactly-once" ? "eos" : "alos"}_${Math.floor(rnd() * 1e9).toString(36)}`;
  const topic = `chaos_moves_${tag}`;
  const dir = join(workDir, tag);
  const sql = join(workDir, `${tag}.esql`);
  writeFileSync(
    sql,
    `CREATE STREAM moves (account STRING KEY, amount BIGINT, teller STRING)
       WITH (kafka_topic = '${topic}', value_format = 'JSON', partitions = ${PARTITIONS});
     CREATE TABLE balances WITH (kafka_topic = 'chaos_balances_${tag}') AS
       SELECT account, SUM(amount) AS total, COUNT(*) AS moves FROM moves GROUP BY account;
     CREATE TABLE per_teller WITH (kafka_topic = 'chaos_tellers_${tag}') AS
       SELECT teller, SUM(amount) AS total, COUNT(*) AS moves FROM moves GROUP BY teller;`,
  );
  const log = new KafkaEventLog({ brokers: [broker.brokers], clientId: "esql-chaos" });
  const steps: string[] = [];
  let exits = 0;
  let produced = 0;
  const produce = async (n: number) => {
    for (let sent = 0; sent < n; sent += 5000) {
      const batch = events(produced, Math.min(5000, n - sent));
      await log.append(topic, batch);
      produced += batch.length;
    }
  };
  try {
    await log.createTopic(topic, { partitions: PARTITIONS });
    await produce(Math.ceil(eventCount / 2));
    const args = [sql, "--brokers", broker.brokers, "--service-id", `chaos-${tag}`, "--data", dir];
    if (guarantee === "exactly-once") args.push("--exactly-once");
    const bounceAt = bounce ? Math.floor(rnd() * KILLS) : -1;
    for (let k = 0; k < KILLS; k++) {
      const mode = rnd() < 0.5 ? "run" : "serve";
      const delay = Math.floor(100 + rnd() * 3000);
      const esql = startEsql(mode, args);
      await esql.ready;
      if (k === bounceAt) {
        const signal = rnd() < 0.5 ? "SIGTERM" : "SIGKILL";
        const downMs = Math.floor(rnd() * 5000);
        await sleep(delay);
        await broker.restart({ signal, downMs });
        const after = Math.floor(rnd() * 3000);
        await sleep(after);
        steps.push(`${mode}, broker ${signal} after ${delay} ms down ${downMs} ms, kill ${after} ms after it is back`);
      } else {
        await sleep(delay);
        steps.push(`${mode}, kill after ${delay} ms`);
      }
      esql.child.kill("SIGKILL");
      const end = await esql.ended;
      if (end.signal !== "SIGKILL") exits++;
      if (k === 0) await produce(Math.floor(eventCount / 2));
    }

    const final = spawnSync(process.execPath, [BIN, "run", ...args, "--json"], {
      encoding: "utf8",
      timeout: 900_000,
      maxBuffer: 1 << 28,
    });
    if (final.status !== 0) {
      process.stderr.write(`  the last esql run failed (${final.status ?? final.signal}):\n${final.stderr}\n`);
      exits++;
    }
    const tables = final.status === 0 ? (JSON.parse(final.stdout) as { tables: Record<string, Row[]> }).tables : {};

    // The direct fold of what the input topic holds.
    const byAccount = new Map<string, [number, number]>();
    const byTeller = new Map<string, [number, number]>();
    for (let p = 0; p < PARTITIONS; p++) {
      const end = await log.endOffset(topic, p);
      for (let offset = 0; offset < end;) {
        const batch = await log.read(topic, p, offset, 10_000);
        if (batch.length === 0) break;
        for (const r of batch) {
          const v = JSON.parse(r.value!.toString()) as { AMOUNT: number; TELLER: string };
          for (const [m, key] of [
            [byAccount, r.key!.toString()],
            [byTeller, v.TELLER],
          ] as const) {
            const t = m.get(key) ?? [0, 0];
            t[0] += v.AMOUNT;
            t[1]++;
            m.set(key, t);
          }
        }
        offset = batch[batch.length - 1]!.offset + 1;
      }
    }
    let mismatches = 0;
    let lost = 0;
    let duplicated = 0;
    for (const [name, keyColumn, want] of [
      ["BALANCES", "ACCOUNT", byAccount],
      ["PER_TELLER", "TELLER", byTeller],
    ] as const) {
      const got = new Map((tables[name] ?? []).map((r) => [String(r[keyColumn]), [Number(r.TOTAL), Number(r.MOVES)]]));
      for (const [key, [total, moves]] of want) {
        const g = got.get(key) ?? [0, 0];
        if (g[0] !== total || g[1] !== moves) mismatches++;
        lost += Math.max(0, moves - g[1]!);
        duplicated += Math.max(0, g[1]! - moves);
      }
      for (const [key, g] of got) {
        if (!want.has(key)) {
          mismatches++;
          duplicated += g[1]!;
        }
      }
    }

    // The aggregate's sink topic as a read-committed consumer sees it (markers may lag the last run a moment).
    const totals = new Map([...byAccount].map(([k, [, n]]) => [k, n]));
    let sinkRepeats = 0;
    let sinkShort = 0;
    for (const until = Date.now() + 30_000; ;) {
      const seen = new Map<string, number[]>();
      for (let p = 0; p < PARTITIONS; p++) {
        const sink = `chaos_balances_${tag}`;
        const end = await log.endOffset(sink, p);
        for (let offset = 0; offset < end;) {
          const batch = await log.read(sink, p, offset, 10_000);
          if (batch.length === 0) break;
          for (const r of batch) {
            if (r.value === null) continue;
            const key = r.key!.toString();
            seen.set(key, [...(seen.get(key) ?? []), (JSON.parse(r.value.toString()) as { MOVES: number }).MOVES]);
          }
          offset = batch[batch.length - 1]!.offset + 1;
        }
      }
      sinkRepeats = 0;
      for (const counts of seen.values())
        for (let i = 1; i < counts.length; i++) if (counts[i]! <= counts[i - 1]!) sinkRepeats++;
      sinkShort = [...totals].filter(([k, n]) => seen.get(k)?.at(-1) !== n).length;
      if (sinkShort === 0 || Date.now() > until) break;
      await sleep(1000);
    }
    return {
      round,
      guarantee,
      steps,
      events: produced,
      mismatches,
      lost,
      duplicated,
      sinkRepeats,
      sinkShort,
      exits,
      ms: Date.now() - started,
    };
  } finally {
    await log.close();
  }
}

type Row = Record<string, unknown>;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      seed: { type: "string" },
      events: { type: "string", default: "20000" },
      guarantee: { type: "string", default: "both" },
      "no-bounce": { type: "boolean" },
      "kafka-version": { type: "string" },
    },
  });
  const rounds = Number(values.rounds);
  const eventCount = Number(values.events);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000;
  for (const [flag, n] of [
    ["--rounds", rounds],
    ["--events", eventCount],
    ["--seed", seed],
  ] as const) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} wants a whole number, found '${n}'`);
  }
  const guarantees: Guarantee[] =
    values.guarantee === "both"
      ? ["at-least-once", "exactly-once"]
      : values.guarantee === "at-least-once" || values.guarantee === "exactly-once"
        ? [values.guarantee]
        : [];
  if (guarantees.length === 0) throw new Error(`--guarantee is both, at-least-once or exactly-once`);
  const bounce = values["no-bounce"] !== true;
  console.log(
    `chaos: seed ${seed}, ${rounds} round(s) x ${guarantees.join(" + ")}, ${eventCount} events per trial, ` +
      `${KILLS} SIGKILLs per trial${bounce ? ", one broker restart per trial" : ""}`,
  );
  const rnd = random(seed);
  const broker = await startBroker({
    ...(values["kafka-version"] ? { version: values["kafka-version"] } : {}),
    onProgress: (line) => console.log(`[kafka] ${line}`),
  });
  const workDir = mkdtempSync(join(tmpdir(), "esql-chaos-"));
  const trials: Trial[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const guarantee of guarantees) {
        const t = await trial(broker, round, guarantee, rnd, eventCount, bounce, workDir).catch(
          (e: unknown): Trial => ({
            round,
            guarantee,
            steps: [`the trial failed: ${(e as Error).message.split("\n")[0]}`],
            events: 0,
            mismatches: 0,
            lost: 0,
            duplicated: 0,
            sinkRepeats: 0,
            sinkShort: 0,
            exits: 1,
            ms: 0,
          }),
        );
        // A trial that failed while the broker was away leaves it halted: the next one needs it.
        await broker.start();
        trials.push(t);
        const bad = t.mismatches + t.lost + t.duplicated + t.sinkShort + t.exits > 0;
        console.log(
          `round ${round} ${guarantee}: ${t.events} events, ${t.mismatches} mismatches, ${t.lost} lost, ` +
            `${t.duplicated} duplicated, ${t.sinkRepeats} sink repeats, ${t.sinkShort} sink short, ${t.exits} exits ` +
            `(${(t.ms / 1000).toFixed(0)} s)${bad ? "  <-- FAILED" : ""}\n    ${t.steps.join("; ")}`,
        );
      }
    }
  } finally {
    await broker.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const sum = (f: (t: Trial) => number, g?: Guarantee) =>
    trials.filter((t) => g === undefined || t.guarantee === g).reduce((n, t) => n + f(t), 0);
  console.log(`\nseed ${seed}: ${trials.length} trials, ${sum((t) => t.events)} events`);
  for (const g of guarantees) {
    console.log(
      `  ${g.padEnd(13)}  trials ${sum(() => 1, g)}  mismatches ${sum((t) => t.mismatches, g)}  lost ${sum((t) => t.lost, g)}  ` +
        `duplicated ${sum((t) => t.duplicated, g)}  sink repeats ${sum((t) => t.sinkRepeats, g)}  ` +
        `sink short ${sum((t) => t.sinkShort, g)}  exits ${sum((t) => t.exits, g)}`,
    );
  }
  const failed =
    sum((t) => t.mismatches + t.lost + t.duplicated + t.sinkShort + t.exits) +
    sum((t) => t.sinkRepeats, "exactly-once");
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(2);
  },
);
