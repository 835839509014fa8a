/** Throughput figure for parsing a 1,000-statement script (a log line, not a timing assertion). */
import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";
import { KSQL_CASES_AVAILABLE } from "../fixtures/ksql-cases.ts";
import { loadConformanceScripts } from "./conformance-cases.ts";

describe.skipIf(!KSQL_CASES_AVAILABLE)("speed", () => {
  it("parses a 1,000-statement script", () => {
    const pool = loadConformanceScripts()
      .filter((s) => !s.expectsError)
      .flatMap((s) => s.statements)
      .map((t) => (t.trimEnd().endsWith(";") ? t : `${t};`));
    const statements: string[] = [];
    for (let i = 0; statements.length < 1000; i += 7) statements.push(pool[i % pool.length]!);
    const text = statements.join("\n");
    parseScript(text); // warm-up: JIT and chevrotain's lookahead caches
    const runs = 3;
    const t0 = performance.now();
    let r: ReturnType<typeof parseScript> | undefined;
    for (let i = 0; i < runs; i++) r = parseScript(text);
    const ms = (performance.now() - t0) / runs;
    expect(r!.diagnostics).toEqual([]);
    expect(r!.statements).toHaveLength(1000);
    console.log(
      `parser speed: 1000 statements (${(text.length / 1024).toFixed(0)} KiB) in ${ms.toFixed(1)} ms = ${Math.round(1000 / (ms / 1000))} statements/s`,
    );
  });
});
