/**
 * `npm run bench`: prints figures and ratios. Benchmarks compare two things in one run on the same
 * machine (the machines here are shared and noisy), so the ratios matter more than the absolute figures.
 * `npm run bench -- --events 200000` runs a smaller runtime benchmark.
 */
import { cpus } from "node:os";
import { benchCompile } from "./compile.ts";
import { benchRuntime } from "./runtime.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

console.log(`esql benchmarks — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
console.log("");

const c = benchCompile();
console.log(`compile: a ${c.statements}-statement script`);
console.log(`  parse only                       ${fmt(c.parsePerSecond)} statements/s`);
console.log(`  parse + analyze + plan           ${fmt(c.compilePerSecond)} statements/s`);
console.log(`  ratio                            ${(c.compilePerSecond / c.parsePerSecond).toFixed(2)}`);
console.log("");

const events = arg("--events", 1_000_000);
const r = await benchRuntime(events, 10_000);
console.log(`runtime (embedded log): ${fmt(r.events)} JSON events, ${fmt(r.keys)} keys, windowed COUNT/SUM (1-minute tumbling)`);
console.log(`  JSON.parse only                  ${fmt(r.parseOnlyPerSecond)} events/s`);
console.log(`  projection catching up           ${fmt(r.projectionPerSecond)} events/s`);
console.log(`  ratio projection / JSON.parse    ${(r.projectionPerSecond / r.parseOnlyPerSecond).toFixed(3)}`);
console.log(`  peak RSS                         ${fmt(r.peakRssMb)} MiB`);
