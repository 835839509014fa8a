/**
 * Crash safety on a real broker: 100k events wait in an 8-partition topic; `esql run --follow --brokers
 * --service-id` folds them into a re-keyed aggregate and a windowed one and is SIGKILLed at random points
 * while it works; each restart resumes from the offsets stored with the state. A last run (no --follow)
 * catches up and prints the tables, which must equal the ones computed here: no event lost, none counted
 * twice. (The window's grace period spans the whole input: partitions are folded one after another, so
 * the repartitioned stream is far from time order, and the expected tables here count every event.)
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "esql.js");
const dir = tempDir("esql-kafka-kill-");

const EVENTS = 100_000;
const HOUR = 3_600_000;

function event(j: number) {
  return {
    account: `acc-${(j * 31) % 997}`,
    kind: j % 3 === 0 ? "out" : "in",
    amount: (j * 7919) % 1000,
    teller: `t${j % 17}`,
    ts: j * 1000,
  };
}

function expected() {
  const balances = new Map<string, [number, number]>();
  const tellers = new Map<string, [number, number]>();
  for (let j = 0; j < EVENTS; j++) {
    const e = event(j);
    const b = balances.get(e.account) ?? [0, 0];
    b[0] += e.kind === "in" ? e.amount : -e.amount;
    b[1]++;
    balances.set(e.account, b);
    const start = Math.floor(e.ts / HOUR) * HOUR;
    const k = `${e.teller}|${start}|${start + HOUR}`;
    const t = tellers.get(k) ?? [0, 0];
    t[0]++;
    t[1] += e.amount;
    tellers.set(k, t);
  }
  return {
    balances: [...balances].map(([a, [bal, n]]) => `${a}|${bal}|${n}`).sort(),
    tellers: [...tellers].map(([k, [n, v]]) => `${k}|${n}|${v}`).sort(),
  };
}

describe("esql run on Kafka under SIGKILL", () => {
  const kafka = useKafka("esql-kill-cleanup");
  const brokers = kafka.brokers.join(",");

  it.each([
    { guarantee: "at-least-once", flags: [] as string[] },
    { guarantee: "exactly-once", flags: ["--exactly-once"] },
  ])(
    "$guarantee: ends with exactly the expected tables after kills at random points in 100k events",
    { timeout: 900_000 },
    async ({ guarantee, flags }) => {
      const tag = kafka.tag("kill");
      const topic = `moves_${tag}`;
      const sql = join(dir, "moves.esql");
      writeFileSync(
        sql,
        `CREATE STREAM moves (account STRING KEY, kind STRING, amount BIGINT, teller STRING)
         WITH (kafka_topic = '${topic}', value_format = 'JSON', partitions = 8);
       CREATE TABLE balances WITH (kafka_topic = 'balances_${tag}') AS
         SELECT account, SUM(CASE WHEN kind = 'in' THEN amount ELSE -amount END) AS balance, COUNT(*) AS moves
         FROM moves GROUP BY account;
       CREATE TABLE per_teller_hour WITH (kafka_topic = 'per_teller_${tag}') AS
         SELECT teller, COUNT(*) AS moves, SUM(amount) AS volume
         FROM moves WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 2 DAYS) GROUP BY teller;`,
      );
      const log = new KafkaEventLog({ brokers: brokers.split(","), clientId: "esql-kill-producer" });
      try {
        await log.createTopic(topic, { partitions: 8 });
        for (let from = 0; from < EVENTS; from += 10_000) {
          const batch = [];
          for (let j = from; j < from + 10_000; j++) {
            const e = event(j);
            batch.push({
              key: Buffer.from(e.account),
              value: Buffer.from(JSON.stringify({ KIND: e.kind, AMOUNT: e.amount, TELLER: e.teller })),
              timestamp: e.ts,
            });
          }
          await log.append(topic, batch);
        }
      } finally {
        await log.close();
      }

      const data = join(dir, `data-${tag}`);
      const args = [bin, "run", sql, "--brokers", brokers, "--service-id", `kill-${tag}`, "--data", data, ...flags];
      /** Starts a follow run and SIGKILLs it `ms` after it reported its deployment (so the kill lands in the fold). */
      const killAfter = (ms: number) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, [...args, "--follow"], { stdio: ["ignore", "ignore", "pipe"] });
          let stderr = "";
          let timer: NodeJS.Timeout | undefined;
          child.stderr.on("data", (d) => {
            stderr += d;
            if (timer === undefined && /statement\(s\)/.test(stderr))
              timer = setTimeout(() => child.kill("SIGKILL"), ms);
          });
          child.on("exit", (code, signal) => {
            clearTimeout(timer);
            if (signal === "SIGKILL") resolve(stderr);
            else reject(new Error(`esql run --follow ended by itself (${code}): ${stderr}`));
          });
        });
      // Random points, but reproducible from the seed printed on failure.
      const seed = Number.parseInt(tag, 16);
      const delays = [0, 1, 2, 3].map((i) => 200 + ((seed * (i + 7)) % 2500));
      const reports: string[] = [];
      for (const ms of delays) reports.push(await killAfter(ms));

      const final = spawnSync(process.execPath, [...args, "--json"], { encoding: "utf8", timeout: 600_000 });
      expect(
        final.status,
        `${final.stderr}\nkills after ${delays.join(", ")} ms; reports:\n${reports.join("\n---\n")}`,
      ).toBe(0);
      const tables = (JSON.parse(final.stdout) as { tables: Record<string, Record<string, unknown>[]> }).tables;
      const want = expected();
      const ms = (v: unknown) => (typeof v === "string" ? Date.parse(v) : v);
      const cells = (...vs: unknown[]) => vs.map(String).join("|");
      expect(tables.BALANCES!.map((r) => cells(r.ACCOUNT, r.BALANCE, r.MOVES)).sort()).toEqual(want.balances);
      expect(
        tables
          .PER_TELLER_HOUR!.map((r) => cells(r.TELLER, ms(r.WINDOWSTART), ms(r.WINDOWEND), r.MOVES, r.VOLUME))
          .sort(),
      ).toEqual(want.tellers);
      if (guarantee === "exactly-once") await checkSinkReadCommitted(brokers, `balances_${tag}`, want.balances);
    },
  );
});

/**
 * The sink topic as a read-committed consumer sees it: each account's running count only goes up, to its
 * total. (A kill rarely lands between a batch's output and its commit, so at-least-once usually passes this
 * too: the crash in that window is forced in exactly-once.test.ts, which tells them apart.) Transaction
 * markers land just after a commit returns, so the committed view may lag the final run by a moment: read
 * until it is complete, for a while; a transaction left open by a killed run (not aborted when the next run
 * took its transactional id over) would hold it back past the deadline and fail here.
 */
async function checkSinkReadCommitted(brokers: string, topic: string, balances: readonly string[]): Promise<void> {
  const reader = new KafkaEventLog({ brokers: brokers.split(","), clientId: "esql-kill-reader" });
  try {
    const totals = new Map(balances.map((row) => [row.split("|")[0]!, Number(row.split("|")[2])]));
    let counts = new Map<string, number[]>();
    const progress: string[] = [];
    for (const until = Date.now() + 60_000; ;) {
      counts = new Map();
      progress.length = 0;
      for (let p = 0; p < 8; p++) {
        const end = await reader.endOffset(topic, p);
        let offset = 0;
        while (offset < end) {
          const batch = await reader.read(topic, p, offset, 10_000);
          if (batch.length === 0) break;
          for (const r of batch) {
            const account = r.key!.toString();
            const moves = (JSON.parse(r.value!.toString()) as { MOVES: number }).MOVES;
            counts.set(account, [...(counts.get(account) ?? []), moves]);
          }
          offset = batch[batch.length - 1]!.offset + 1;
        }
        progress.push(`${p}: read to ${offset} of ${end}`);
      }
      const complete = [...totals].every(([account, total]) => counts.get(account)?.at(-1) === total);
      if (complete || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(counts.size, progress.join("; ")).toBe(totals.size);
    for (const [account, seen] of counts) {
      for (let i = 1; i < seen.length; i++)
        expect(seen[i]!, `${account}: ${seen.join(",")}`).toBeGreaterThan(seen[i - 1]!);
      expect(seen.at(-1), `${account}: ${seen.join(",")}; ${progress.join("; ")}`).toBe(totals.get(account));
    }
  } finally {
    await reader.close();
  }
}
