/**
 * Mutation fuzzing: statements from the conformance cases with tokens dropped, swapped, duplicated
 * or replaced, and characters inserted. parseScript must never throw and every span must lie inside
 * the text with line/column matching its offset.
 */
import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";
import { lexText } from "../../grammar/tokens.ts";
import type { Span } from "../../src/diagnostics/diagnostic.ts";
import { loadConformanceScripts } from "./conformance-cases.ts";

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXTRA = [
  "(",
  ")",
  ",",
  ";",
  "'",
  "`",
  '"',
  "${v}",
  "${nope}",
  "/*",
  "--",
  "=>",
  "->",
  ":=",
  "[",
  "]",
  "<",
  ">",
  "*",
  "SELECT",
  "FROM",
  "WHERE",
  "AS",
  "NOT",
  "NULL",
  "CASE",
  "END",
  "WINDOW",
  "EMIT",
  "STRUCT",
  "ARRAY",
  "MAP",
  "1.5E999",
  "99999999999999999999",
  "@",
  "#",
  "\n",
  "1",
  "x",
  "KEY",
  "PRIMARY",
];

function positionOf(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text[i];
    if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

function checkSpan(text: string, span: Span, what: string): void {
  expect(span.start, what).toBeGreaterThanOrEqual(0);
  expect(span.end, what).toBeGreaterThanOrEqual(span.start);
  expect(span.end, what).toBeLessThanOrEqual(text.length);
  expect({ line: span.line, col: span.col }, what).toEqual(positionOf(text, span.start));
}

describe("fuzz", () => {
  it("mutated conformance statements never throw; spans stay inside the text", () => {
    const rnd = mulberry32(20240601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const sources = loadConformanceScripts()
      .filter((s) => !s.expectsError)
      .flatMap((s) => s.statements);
    const N = 3000;
    let withDiagnostics = 0;
    for (let i = 0; i < N; i++) {
      const src = pick(sources);
      const images = lexText(src).tokens.map((t) => t.image);
      const mutations = 1 + Math.floor(rnd() * 3);
      for (let m = 0; m < mutations && images.length > 1; m++) {
        const at = Math.floor(rnd() * images.length);
        switch (Math.floor(rnd() * 5)) {
          case 0:
            images.splice(at, 1);
            break;
          case 1: {
            const other = Math.floor(rnd() * images.length);
            [images[at], images[other]] = [images[other]!, images[at]!];
            break;
          }
          case 2:
            images.splice(at, 0, images[at]!);
            break;
          case 3:
            images[at] = pick(EXTRA);
            break;
          default:
            images.splice(at, 0, pick(EXTRA));
        }
      }
      const text = (rnd() < 0.5 ? "DEFINE v = 'a, b';\n" : "") + images.join(rnd() < 0.2 ? "\n" : " ");
      let result: ReturnType<typeof parseScript> | undefined;
      expect(() => {
        result = parseScript(text);
      }, text).not.toThrow();
      if (result!.diagnostics.length > 0) withDiagnostics++;
      for (const d of result!.diagnostics) {
        checkSpan(text, d.span, `${text}\n${d.message}`);
        expect(d.message.length, d.message).toBeLessThan(200);
      }
      for (const s of result!.statements) checkSpan(text, s.statement.span, text);
    }
    console.log(`fuzz: ${N} mutated scripts, ${withDiagnostics} with diagnostics, none threw`);
  });
});
