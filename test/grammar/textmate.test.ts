/**
 * The TextMate grammar (grammar/esql.tmLanguage.json) under a real TextMate engine (vscode-textmate
 * with the Oniguruma wasm), on the examples and on hand-picked lines.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vsctm from "vscode-textmate";
import oniguruma from "vscode-oniguruma";
import { collectEsqlFiles } from "../../src/cli/files.ts";
import { KEYWORDS } from "../../src/parse.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const GRAMMAR_PATH = `${ROOT}grammar/esql.tmLanguage.json`;
const require = createRequire(import.meta.url);

interface Tok {
  readonly text: string;
  readonly scopes: readonly string[];
}

let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope: string) =>
      scope === "source.esql" ? vsctm.parseRawGrammar(readFileSync(GRAMMAR_PATH, "utf8"), GRAMMAR_PATH) : null,
  });
  const g = await registry.loadGrammar("source.esql");
  if (g === null) throw new Error("grammar not loaded");
  grammar = g;
});

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let stack = vsctm.INITIAL;
  for (const line of text.split(/\r?\n/)) {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens)
      out.push({
        text: line.slice(t.startIndex, t.endIndex),
        scopes: t.scopes,
      });
    stack = r.ruleStack;
  }
  return out;
}

/** The innermost scope of the token whose text is `text` (the first one). */
function scopeOf(toks: Tok[], text: string): string {
  const t = toks.find((x) => x.text === text);
  if (t === undefined) throw new Error(`no token '${text}' in ${JSON.stringify(toks.map((x) => x.text))}`);
  return t.scopes[t.scopes.length - 1]!;
}

describe("TextMate grammar", () => {
  it("has scopeName source.esql and every parser keyword", () => {
    const raw = JSON.parse(readFileSync(GRAMMAR_PATH, "utf8")) as {
      scopeName: string;
      repository: Record<string, { match?: string }>;
    };
    expect(raw.scopeName).toBe("source.esql");
    const words = ["keywords", "types", "constants", "logical-operators"].flatMap((k) =>
      raw.repository[k]!.match!.replace(/^\(\?i\)\\b\(\?:/, "")
        .replace(/\)\\b$/, "")
        .split("|"),
    );
    for (const k of KEYWORDS) expect(words, k).toContain(k);
  });

  it("scopes keywords, types, functions, strings, numbers, comments, identifiers", () => {
    const toks = tokenize(
      "create stream s (id STRING KEY, `Amount` DECIMAL(10, 2)) with (kafka_topic='it''s ${env}');\n" +
        "select id, sum(x) AS total, 1.5e3, 42 from s -- note\n/* block\n comment */ where x <> 1 and y is null emit changes;",
    );
    expect(scopeOf(toks, "create")).toBe("keyword.other.esql");
    expect(scopeOf(toks, "stream")).toBe("keyword.other.esql");
    expect(scopeOf(toks, "STRING")).toBe("storage.type.esql");
    expect(scopeOf(toks, "DECIMAL")).toBe("storage.type.esql");
    expect(scopeOf(toks, "Amount")).toBe("variable.other.quoted.backtick.esql");
    expect(scopeOf(toks, "''")).toBe("constant.character.escape.quote.esql");
    expect(scopeOf(toks, "${env}")).toBe("variable.parameter.substitution.esql");
    expect(scopeOf(toks, "it")).toBe("string.quoted.single.esql");
    expect(scopeOf(toks, "sum")).toBe("support.function.esql");
    expect(scopeOf(toks, "1.5e3")).toBe("constant.numeric.esql");
    expect(scopeOf(toks, "42")).toBe("constant.numeric.esql");
    expect(scopeOf(toks, "-- note")).toBe("comment.line.double-dash.esql");
    expect(scopeOf(toks, " comment ")).toBe("comment.block.esql");
    expect(scopeOf(toks, "id")).toBe("variable.other.identifier.esql");
    expect(scopeOf(toks, "and")).toBe("keyword.operator.logical.esql");
    expect(scopeOf(toks, "null")).toBe("constant.language.esql");
    expect(scopeOf(toks, "<>")).toBe("keyword.operator.esql");
    expect(scopeOf(toks, "with")).toBe("keyword.other.esql");
  });

  it("tokenizes every example: keywords, strings, numbers, comments and identifiers get their scopes", () => {
    const files = collectEsqlFiles([`${ROOT}examples`]);
    expect(files.length).toBeGreaterThan(0);
    const counts = new Map<string, number>();
    for (const f of files) {
      const toks = tokenize(readFileSync(f, "utf8"));
      for (const t of toks) {
        const s = t.scopes[t.scopes.length - 1]!;
        counts.set(s, (counts.get(s) ?? 0) + 1);
        // A keyword is never scoped as an identifier, and an upper-case SELECT/FROM never as anything but a keyword.
        if (
          /^(SELECT|FROM|WHERE|GROUP|CREATE|EMIT)$/i.test(t.text) &&
          !s.startsWith("comment") &&
          !s.startsWith("string")
        )
          expect(s, `${f}: ${t.text}`).toBe("keyword.other.esql");
        if (/^'.*'$/.test(t.text)) expect(s).toMatch(/^(string|punctuation\.definition\.string)/);
      }
    }
    for (const scope of [
      "keyword.other.esql",
      "string.quoted.single.esql",
      "constant.numeric.esql",
      "variable.other.identifier.esql",
      "storage.type.esql",
      "support.function.esql",
    ]) {
      expect(counts.get(scope) ?? 0, scope).toBeGreaterThan(0);
    }
    const comments = [...counts].filter(([s]) => s.startsWith("comment")).reduce((n, [, c]) => n + c, 0);
    expect(comments).toBeGreaterThan(0);
  });
});
