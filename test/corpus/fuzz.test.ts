/**
 * Fuzzing the whole compiler (parse, analysis, planning): thousands of statements made by mutating valid
 * ones (a token dropped, two swapped, one duplicated, one replaced by another token of the corpus) must
 * never throw past the compiler and never report an internal error; each yields plans or diagnostics
 * whose spans lie inside the text with line:col matching the offset.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";

const root = join(import.meta.dirname, "..", "..");
const sources = [
  ...readdirSync(join(root, "test/corpus/golden")).map((f) => join(root, "test/corpus/golden", f)),
  ...["bank/bank.esql", "orders/orders.esql", "signins/signins.esql", "devices/devices.esql"].map((f) =>
    join(root, "examples", f),
  ),
].filter((f) => f.endsWith(".esql"));

/** Splits SQL into rough tokens (strings, quoted names, words, numbers, operators) keeping whitespace apart. */
function tokens(sql: string): string[] {
  return sql.match(/'(?:[^']|'')*'|`[^`]*`|[A-Za-z_][\w$]*|\d+(?:\.\d+)?|=>|->|<>|!=|<=|>=|\|\||\$\{\w+\}|\S/g) ?? [];
}

function rng(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

function lineColOf(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      col = 1;
    } else col++;
  }
  return { line, col };
}

function checkSpan(d: Diagnostic, text: string): void {
  const s = d.span;
  expect(s.start, d.message).toBeGreaterThanOrEqual(0);
  expect(s.end, d.message).toBeGreaterThanOrEqual(s.start);
  expect(s.end, d.message).toBeLessThanOrEqual(text.length);
  expect({ line: s.line, col: s.col }, `${d.code} ${d.message}`).toEqual(lineColOf(text, s.start));
}

describe("compiler fuzz", () => {
  it("survives 3,000 mutated scripts with valid spans", () => {
    const scripts = sources.map((f) => readFileSync(f, "utf8").replace(/--[^\n]*/g, ""));
    const statements = scripts.flatMap((s) =>
      s
        .split(";")
        .map((x) => x.trim())
        .filter(Boolean),
    );
    const vocabulary = [...new Set(statements.flatMap(tokens))];
    const random = rng(20261123);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    let withDiagnostics = 0;
    let clean = 0;
    for (let n = 0; n < 3000; n++) {
      // A preamble of intact statements from one script gives the mutated one a catalog to resolve against.
      const script = pick(scripts);
      const own = script
        .split(";")
        .map((x) => x.trim())
        .filter(Boolean);
      const target = pick(own);
      const toks = tokens(target);
      const i = Math.floor(random() * toks.length);
      const j = Math.floor(random() * toks.length);
      switch (Math.floor(random() * 4)) {
        case 0:
          toks.splice(i, 1);
          break;
        case 1:
          [toks[i], toks[j]] = [toks[j]!, toks[i]!];
          break;
        case 2:
          toks.splice(i, 0, toks[i] ?? "x");
          break;
        default:
          toks[i] = pick(vocabulary);
      }
      const text = `${own.filter((s) => s !== target).join(";\n")};\n${toks.join(" ")};\n`;
      const r = compileScript(text);
      for (const d of r.diagnostics) {
        expect(d.code, `${d.message}\n--- in ---\n${text}`).not.toBe("ESQL-INTERNAL");
        checkSpan(d, text);
      }
      if (r.diagnostics.length > 0) withDiagnostics++;
      else clean++;
    }
    console.log(`compiler fuzz: 3000 scripts, ${withDiagnostics} with diagnostics, ${clean} compiled clean`);
    expect(withDiagnostics).toBeGreaterThan(1000);
  });
});
