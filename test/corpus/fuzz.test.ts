/**
 * Fuzzing the whole compiler (test/fuzz/fuzz.ts): a fixed seed, a few thousand mutations of the repository's
 * `.esql` files and of ksqlDB's conformance statements (tokens or characters dropped, inserted, duplicated,
 * swapped; deep nesting and huge literals inserted). compileScript must never throw, never report an
 * internal error and give every diagnostic a position inside the text. Longer runs: `npm run fuzz`.
 */
import { describe, expect, it } from "vitest";
import { loadCorpus, minimize, runFuzz } from "../fuzz/fuzz.ts";

// About 30 s alone; the timeout leaves room for a suite running in parallel on a shared machine.
describe("compiler fuzz", { timeout: 150_000 }, () => {
  it("survives 3,000 mutated scripts: no throw, no internal error, every diagnostic placed", () => {
    const corpus = loadCorpus();
    // Without ../shared the corpus is the repository's own files (the run prints one note for that).
    const r = runFuzz({ seed: 20261203, count: 3000, corpus });
    console.log(
      `compiler fuzz: ${r.trials} scripts in ${(r.ms / 1000).toFixed(1)} s, ${r.withDiagnostics} with diagnostics, ${r.failures.length} failures`,
    );
    const first = r.failures[0] === undefined ? undefined : minimize(r.failures[0], 100);
    expect(first, first === undefined ? "" : `${first.reason}\n--- input ---\n${first.input.slice(0, 3000)}`).toBe(
      undefined,
    );
    // Most mutations break something: the fuzz reaches the error paths, not only the happy one.
    expect(r.withDiagnostics).toBeGreaterThan(r.trials / 2);
  });
});
