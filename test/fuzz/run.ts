/**
 * A longer fuzz run than CI's: `npm run fuzz -- --seed 7 --count 100000`. Prints the number of trials and
 * failures and the first few failing inputs, minimized. Exit code 1 when anything failed.
 */
import { parseArgs } from "node:util";
import { loadCorpus, minimize, runFuzz } from "./fuzz.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    count: { type: "string", default: "20000" },
    show: { type: "string", default: "3" },
  },
});
const seed = Number(values.seed);
const count = Number(values.count);
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
  console.error("usage: npm run fuzz -- [--seed N] [--count N] [--show N]");
  process.exit(2);
}
const corpus = loadCorpus();
if (corpus.note !== undefined) console.log(`note: ${corpus.note}`);
console.log(`fuzz: seed ${seed}, ${count} trials over ${corpus.scripts.length} scripts`);
const r = runFuzz({ seed, count, corpus, maxFailures: 100 });
console.log(
  `fuzz: ${r.trials} trials in ${(r.ms / 1000).toFixed(1)} s, ${r.withDiagnostics} with diagnostics, ${r.failures.length} failures`,
);
for (const f of r.failures.slice(0, Number(values.show))) {
  const m = minimize(f);
  const shown = m.input.length > 2000 ? `${m.input.slice(0, 2000)}... (${m.input.length} characters)` : m.input;
  console.log(`\n--- ${m.reason}\n${shown}`);
}
process.exit(r.failures.length > 0 ? 1 : 0);
