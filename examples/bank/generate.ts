/**
 * Writes `transactions.jsonl`: a week of deposits and withdrawals for ten accounts, the same bytes on
 * every run (a seeded generator), so the committed file can be regenerated and reviewed.
 *
 *   node --import tsx examples/bank/generate.ts
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// mulberry32: a tiny seeded PRNG; Math.random cannot be seeded.
let seed = 20240304;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const cents = (min: number, max: number) => Math.round((min + random() * (max - min)) * 100);
const money = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`;

const accounts = Array.from({ length: 10 }, (_, i) => `ACC-${1001 + i}`);
const tellers = ["atm", "online", "branch-lyon", "branch-paris", "mobile"];
const start = Date.UTC(2024, 2, 4); // Monday 4 March 2024
const days = 7;

interface Tx {
  account: string;
  kind: "DEPOSIT" | "WITHDRAWAL";
  cents: number;
  teller: string;
  ts: number;
}
const txs: Tx[] = [];
const balance = new Map<string, number>();
// Opening deposits (salaries) on the first morning.
for (const [i, a] of accounts.entries()) {
  const c = cents(1800, 4200);
  txs.push({ account: a, kind: "DEPOSIT", cents: c, teller: "payroll", ts: start + 7 * 3600_000 + i * 60_000 });
  balance.set(a, c);
}
for (let d = 0; d < days; d++) {
  const perDay = 35 + Math.floor(random() * 15);
  const times = Array.from(
    { length: perDay },
    () => start + d * 86_400_000 + 8 * 3600_000 + Math.floor(random() * 13 * 3600) * 1000,
  ).sort((x, y) => x - y);
  for (const ts of times) {
    const account = pick(accounts);
    const b = balance.get(account)!;
    // Mostly spending; a withdrawal never takes an account below zero.
    const withdraw = random() < 0.75 && b > 25_000;
    const c = withdraw ? Math.min(cents(5, 250), b) : cents(20, 600);
    txs.push({ account, kind: withdraw ? "WITHDRAWAL" : "DEPOSIT", cents: c, teller: pick(tellers), ts });
    balance.set(account, b + (withdraw ? -c : c));
  }
}
txs.sort((x, y) => x.ts - y.ts);
const lines = txs.map((t, i) => {
  const id = `T${String(i + 1).padStart(5, "0")}`;
  const ts = new Date(t.ts).toISOString().replace(".000Z", "Z");
  return `{"key": "${t.account}", "value": {"tx_id": "${id}", "kind": "${t.kind}", "amount": ${money(t.cents)}, "teller": "${t.teller}"}, "timestamp": "${ts}"}`;
});
const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, "transactions.jsonl"), lines.join("\n") + "\n");
console.log(`${lines.length} transactions; final balances:`);
for (const a of accounts) console.log(`  ${a} ${money(balance.get(a)!)}`);
