/**
 * Mutation fuzzing of the whole compiler, shared by the CI test (test/corpus/fuzz.test.ts) and the longer
 * run (`npm run fuzz -- --seed N --count N`, test/fuzz/run.ts).
 *
 * Inputs are the repository's `.esql` files (examples/, test/corpus/golden/) and, when the shared folder is
 * there, the statements of ksqlDB's conformance cases. A trial takes one script, mutates it (tokens or
 * characters deleted, inserted, duplicated, swapped or replaced; deep nesting or a huge literal inserted),
 * compiles it, and fails when `compileScript` throws, reports an internal error (the net in compileScript
 * must never hide a bug), or reports a diagnostic whose position is not in the text.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compileScript } from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { loadConformanceScripts } from "../parser/conformance-cases.ts";
import { KSQL_CASES_AVAILABLE, KSQL_CASES_DIR } from "../fixtures/ksql-cases.ts";
import { rng } from "../../scripts/random.ts";

const ROOT = join(import.meta.dirname, "..", "..");

export interface Corpus {
  readonly scripts: readonly string[];
  /** Every distinct token of the corpus plus some hostile ones: what insertions and replacements draw from. */
  readonly vocabulary: readonly string[];
  /** Set when the conformance statements were not found (the run goes on without them). */
  readonly note?: string;
}

export interface Failure {
  readonly input: string;
  readonly reason: string;
}

export interface FuzzResult {
  readonly trials: number;
  readonly withDiagnostics: number;
  readonly failures: readonly Failure[];
  readonly ms: number;
}

const HOSTILE = [
  "(",
  ")",
  "[",
  "]",
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
  "<",
  ">",
  "*",
  "@",
  "#",
  "\n",
  "NULL",
  "CASE",
  "END",
  "STRUCT",
  "ARRAY",
  "MAP",
  "DECIMAL(10, 1000000)",
  "DECIMAL(0, 0)",
  "1.5E999",
  "99999999999999999999",
  "1e-999999999",
];

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".esql") ? [join(dir, e.name)] : [],
  );
}

/** Splits SQL into rough tokens (strings, quoted names, words, numbers, operators). */
export function roughTokens(sql: string): string[] {
  return sql.match(/'(?:[^']|'')*'|`[^`]*`|[A-Za-z_][\w$]*|\d+(?:\.\d+)?|=>|->|<>|!=|<=|>=|\|\||\$\{\w+\}|\S/g) ?? [];
}

export function loadCorpus(): Corpus {
  const scripts = [...files(join(ROOT, "examples")), ...files(join(ROOT, "test/corpus/golden"))]
    .sort()
    .map((f) => readFileSync(f, "utf8"));
  let note: string | undefined;
  if (KSQL_CASES_AVAILABLE) {
    for (const s of loadConformanceScripts()) {
      if (s.statements.length > 0)
        scripts.push(s.statements.map((t) => (t.trimEnd().endsWith(";") ? t : `${t};`)).join("\n"));
    }
  } else {
    note = `conformance statements not found at ${KSQL_CASES_DIR}: fuzzing the repository's .esql files only`;
  }
  const vocabulary = [...new Set([...scripts.flatMap(roughTokens), ...HOSTILE])].sort();
  return note === undefined ? { scripts, vocabulary } : { scripts, vocabulary, note };
}

/** One mutated script: 1-3 mutations of one corpus script. */
export function mutate(corpus: Corpus, random: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  let text = pick(corpus.scripts);
  const mutations = 1 + int(3);
  for (let m = 0; m < mutations; m++) {
    const kind = int(100);
    if (kind < 60) {
      const toks = roughTokens(text);
      if (toks.length === 0) continue;
      const i = int(toks.length);
      const j = int(toks.length);
      switch (int(5)) {
        case 0:
          toks.splice(i, 1);
          break;
        case 1:
          [toks[i], toks[j]] = [toks[j]!, toks[i]!];
          break;
        case 2:
          toks.splice(i, 0, toks[i]!);
          break;
        case 3:
          toks[i] = pick(corpus.vocabulary);
          break;
        default:
          toks.splice(i, 0, pick(corpus.vocabulary));
      }
      text = toks.join(random() < 0.2 ? "\n" : " ");
    } else if (kind < 85) {
      const i = int(text.length + 1);
      switch (int(3)) {
        case 0:
          text = text.slice(0, i) + text.slice(i + 1 + int(3));
          break;
        case 1:
          text = text.slice(0, i) + pick(corpus.vocabulary) + text.slice(i);
          break;
        default: {
          const j = int(text.length + 1);
          const [a, b] = i < j ? [i, j] : [j, i];
          text = text.slice(0, b) + text.slice(a, Math.min(b, a + 50)) + text.slice(b);
        }
      }
    } else if (kind < 93) {
      // Deep nesting: a run of openers (closed or not) around a point.
      const i = int(text.length + 1);
      const depth = 10 + int(3000);
      const open = pick(["(", "[", "CASE WHEN ", "NOT ", "- ", "ARRAY<", "1 + "]);
      const close = { "(": ")", "[": "]", "CASE WHEN ": " THEN 1 END", "ARRAY<": ">" }[open] ?? "";
      text = text.slice(0, i) + open.repeat(depth) + "x" + (random() < 0.7 ? close.repeat(depth) : "") + text.slice(i);
    } else {
      // A huge literal or name.
      const i = int(text.length + 1);
      const size = 100 + int(120_000);
      const unit = pick(["9", "1.5", "x", "'ab'", "`q`", "a[1]", "0"]);
      text = text.slice(0, i) + unit.repeat(Math.ceil(size / unit.length)) + text.slice(i);
    }
  }
  return text;
}

/** Why `text`'s compilation is a failure, or undefined when it is fine. */
export function check(text: string): string | undefined {
  return compileAndCheck(text).reason;
}

function compileAndCheck(text: string): { reason?: string; diagnostics: number } {
  let diagnostics: readonly Diagnostic[];
  try {
    diagnostics = compileScript(text).diagnostics;
  } catch (e) {
    return {
      reason: `compileScript threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      diagnostics: 0,
    };
  }
  const reason = diagnosticProblem(text, diagnostics);
  return reason === undefined ? { diagnostics: diagnostics.length } : { reason, diagnostics: diagnostics.length };
}

function diagnosticProblem(text: string, diagnostics: readonly Diagnostic[]): string | undefined {
  const starts = lineStarts(text);
  for (const d of diagnostics) {
    if (d.code === "ESQL-INTERNAL") return `internal error: ${d.message}`;
    const s = d.span;
    if (!(s.start >= 0 && s.end >= s.start && s.end <= text.length))
      return `${d.code} ${d.message.slice(0, 100)}: span [${s.start}, ${s.end}) outside the text`;
    const line = lineOf(starts, s.start);
    if (s.line !== line || s.col !== s.start - starts[line - 1]! + 1)
      return `${d.code} ${d.message.slice(0, 100)}: at ${s.line}:${s.col}, offset ${s.start} is ${line}:${s.start - starts[line - 1]! + 1}`;
    if (d.message.length > 1000) return `${d.code}: a message of ${d.message.length} characters`;
  }
  return undefined;
}

/** Offsets where lines start (after `\n`, `\r\n` or a lone `\r`, as the compiler counts). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  return starts;
}

function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Runs `count` trials from `seed`; stops collecting failures after `maxFailures`. */
export function runFuzz(options: { seed: number; count: number; corpus?: Corpus; maxFailures?: number }): FuzzResult {
  const corpus = options.corpus ?? loadCorpus();
  const random = rng(options.seed);
  const failures: Failure[] = [];
  let withDiagnostics = 0;
  const t0 = performance.now();
  for (let n = 0; n < options.count; n++) {
    const input = mutate(corpus, random);
    const r = compileAndCheck(input);
    if (r.reason !== undefined) {
      if (failures.length < (options.maxFailures ?? 20)) failures.push({ input, reason: r.reason });
    } else if (r.diagnostics > 0) withDiagnostics++;
  }
  return { trials: options.count, withDiagnostics, failures, ms: performance.now() - t0 };
}

/**
 * A smaller input that fails for the same kind of reason: drops chunks of characters, halving the chunk,
 * while it still fails (at most `budget` compilations).
 */
export function minimize(failure: Failure, budget = 300): Failure {
  const kind = (r: string) => r.split(":")[0];
  let best = failure;
  for (let chunk = Math.max(1, Math.floor(best.input.length / 2)); chunk >= 1 && budget > 0; chunk >>= 1) {
    for (let at = 0; at < best.input.length && budget > 0; budget--) {
      const candidate = best.input.slice(0, at) + best.input.slice(at + chunk);
      const reason = check(candidate);
      if (reason !== undefined && kind(reason) === kind(failure.reason)) best = { input: candidate, reason };
      else at += chunk;
    }
  }
  return best;
}
