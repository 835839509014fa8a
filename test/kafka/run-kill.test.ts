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
    async ({ flags }) => {
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
      // Not checked here: the sink as a read-committed consumer sees it. After these kills a transaction of the
      // first run can stay open on one sink partition (a known defect, see README "Many instances"), which
      // stalls such a consumer; the exactly-once guarantee itself is shown in exactly-once.test.ts.
    },
  );
});
