/**
 * A process for the crash test. `setup DIR N`: defines the input stream and writes N events to it.
 * `run DIR`: resumes the engine in DIR (or deploys the projections the first time), processes everything,
 * prints the tables as JSON on the last line of stdout. The test SIGKILLs `run` at random moments.
 */
import { Engine } from "../../../runtime/engine/engine.ts";
import type { ProduceRecord } from "../../../runtime/log/types.ts";

const [mode, dir, n] = process.argv.slice(2);

const INPUT = `CREATE STREAM moves (account STRING KEY, kind STRING, amount BIGINT, teller STRING)
  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 3);`;
const PROJECTIONS: [name: string, sql: string][] = [
  [
    "BALANCES",
    `CREATE TABLE balances AS
  SELECT account, SUM(CASE WHEN kind = 'in' THEN amount ELSE -amount END) AS balance, COUNT(*) AS moves
  FROM moves GROUP BY account;`,
  ],
  [
    "PER_TELLER_HOUR",
    `CREATE TABLE per_teller_hour AS
  SELECT teller, COUNT(*) AS moves, SUM(amount) AS volume
  FROM moves WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY teller;`,
  ],
];

async function main(): Promise<void> {
  const engine = await Engine.open({ dataDir: dir!, properties: {} });
  try {
    if (mode === "setup") {
      const r = await engine.execute(INPUT);
      if (r.diagnostics.length) throw new Error(r.diagnostics[0]!.message);
      const total = Number(n);
      for (let i = 0; i < total; i += 5000) {
        const batch: ProduceRecord[] = [];
        for (let j = i; j < Math.min(total, i + 5000); j++) {
          const value = { KIND: j % 3 === 0 ? "out" : "in", AMOUNT: (j * 7919) % 1000, TELLER: `t${j % 17}` };
          batch.push({
            key: Buffer.from(JSON.stringify(`acc-${(j * 31) % 997}`)),
            value: Buffer.from(JSON.stringify(value)),
            timestamp: j * 1000,
          });
        }
        await engine.log.append("moves", batch);
      }
      return;
    }
    // A kill may land between two deployments: deploy whichever is missing (the engine resumed the rest).
    for (const [name, sql] of PROJECTIONS) {
      if (engine.catalog.source(name)) continue;
      const r = await engine.execute(sql);
      if (r.diagnostics.length) throw new Error(r.diagnostics[0]!.message);
    }
    await engine.drain();
    const tables: Record<string, unknown[]> = {};
    for (const name of ["BALANCES", "PER_TELLER_HOUR"]) {
      const t = await engine.table(name);
      tables[name] = t.rows
        .map((row) => JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
        .sort();
    }
    process.stdout.write(`${JSON.stringify(tables)}\n`);
  } finally {
    await engine.close();
  }
}

await main();
