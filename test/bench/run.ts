/**
 * `npm run bench`: prints figures and ratios. Benchmarks compare two things in one run on the same
 * machine (the machines here are shared and noisy), and print the command that produced them.
 */
import { cpus } from "node:os";
import { benchCompile } from "./compile.ts";

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

console.log(`esql benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
console.log("");

const c = benchCompile();
console.log(`compile: ${c.statements} statements`);
console.log(`  parse only            ${fmt(c.parsePerSecond)} statements/s`);
console.log(`  parse+analyze+plan    ${fmt(c.compilePerSecond)} statements/s`);
console.log(`  ratio compile/parse   ${(c.compilePerSecond / c.parsePerSecond).toFixed(2)}`);
