/**
 * The SQL editor: CodeMirror 6, highlighted by the project's TextMate grammar (grammar/esql.tmLanguage.json,
 * the one editors use) through vscode-textmate and the Oniguruma regular expressions it needs (WebAssembly),
 * with completion of keywords, functions, streams, tables and their columns.
 */
import { autocompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { StreamLanguage } from "@codemirror/language";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { createOnigScanner, createOnigString, loadWASM } from "vscode-oniguruma";
import { INITIAL, parseRawGrammar, Registry, type IGrammar, type IToken, type StateStack } from "vscode-textmate";

interface LineState {
  stack: StateStack;
  tokens: IToken[];
}

/**
 * TextMate scopes (the grammar's, most specific first) to CodeMirror's highlighting tag names (StreamLanguage
 * reads `variableName.function` as the tag `function(variableName)`).
 */
const SCOPES: readonly [string, string][] = [
  ["comment", "comment"],
  ["string", "string"],
  ["constant.character.escape", "escape"],
  ["constant.numeric", "number"],
  ["constant.language", "atom"],
  ["storage.type", "typeName"],
  ["keyword.operator.logical", "keyword"],
  ["keyword.operator", "operator"],
  ["keyword", "keyword"],
  ["support.function", "variableName.function"],
  ["variable.parameter", "variableName.special"],
  ["variable.other.quoted", "name.special"],
  ["variable", "variableName"],
  ["punctuation", "punctuation"],
];

function styleOf(scopes: readonly string[]): string | null {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const s = scopes[i]!;
    for (const [prefix, style] of SCOPES) if (s === prefix || s.startsWith(`${prefix}.`)) return style;
  }
  return null;
}

/** The grammar's keyword alternations (`(?i)\b(?:A|B|...)\b`), for completion. */
function keywordsOf(grammarText: string): string[] {
  const g = JSON.parse(grammarText) as { repository: Record<string, { match?: string }> };
  const out: string[] = [];
  for (const key of ["keywords", "types", "constants", "logical-operators"]) {
    const m = g.repository[key]?.match?.match(/\(\?:([A-Z_|]+)\)/);
    if (m) out.push(...m[1]!.split("|"));
  }
  return out;
}

/** Loads the Oniguruma WebAssembly and the grammar (served next to the console's script). */
export async function loadSqlLanguage(): Promise<{ language: StreamLanguage<LineState>; keywords: string[] }> {
  const [wasm, grammarText] = await Promise.all([
    fetch("console/onig.wasm").then((r) => r.arrayBuffer()),
    fetch("console/esql.tmLanguage.json").then((r) => r.text()),
  ]);
  await loadWASM(wasm);
  const registry = new Registry({
    onigLib: Promise.resolve({ createOnigScanner, createOnigString }),
    loadGrammar: async () => parseRawGrammar(grammarText, "esql.tmLanguage.json"),
  });
  const grammar: IGrammar = (await registry.loadGrammar("source.esql"))!;
  const language = StreamLanguage.define<LineState>({
    name: "esql",
    startState: () => ({ stack: INITIAL, tokens: [] }),
    copyState: (s) => ({ stack: s.stack, tokens: s.tokens }),
    blankLine: (s) => {
      s.stack = grammar.tokenizeLine("", s.stack).ruleStack;
    },
    token(stream, state) {
      if (stream.sol()) {
        const r = grammar.tokenizeLine(stream.string, state.stack);
        state.stack = r.ruleStack;
        state.tokens = r.tokens;
      }
      const at = stream.pos;
      const t = state.tokens.find((x) => x.startIndex <= at && at < x.endIndex);
      if (!t) {
        stream.skipToEnd();
        return null;
      }
      stream.pos = Math.min(stream.string.length, Math.max(t.endIndex, at + 1));
      return styleOf(t.scopes);
    },
    languageData: { commentTokens: { line: "--", block: { open: "/*", close: "*/" } } },
  });
  return { language, keywords: keywordsOf(grammarText) };
}

/** Names to complete: keywords, functions, sources, and the columns of a source (asked for when needed). */
export interface Names {
  readonly keywords: readonly string[];
  readonly functions: readonly string[];
  readonly sources: readonly { name: string; type: "STREAM" | "TABLE" }[];
  columns(source: string): Promise<readonly string[]>;
}

function completeFrom(names: () => Names | undefined) {
  return async (ctx: CompletionContext): Promise<CompletionResult | null> => {
    const word = ctx.matchBefore(/[\w$]+/);
    if (!word && !ctx.explicit) return null;
    const n = names();
    if (!n) return null;
    const text = ctx.state.doc.toString();
    // Columns of the sources the statement names (FROM x, JOIN y).
    const mentioned = [...text.matchAll(/\b(?:FROM|JOIN)\s+`?([\w$]+)`?/gi)].map((m) => m[1]!.toUpperCase());
    const known = new Set(n.sources.map((s) => s.name));
    const columns = (
      await Promise.all([...new Set(mentioned)].filter((s) => known.has(s)).map((s) => n.columns(s).catch(() => [])))
    ).flat();
    return {
      from: word ? word.from : ctx.pos,
      options: [
        ...[...new Set(columns)].map((c) => ({ label: c, type: "property", boost: 3 })),
        ...n.sources.map((s) => ({ label: s.name, type: "class", detail: s.type.toLowerCase(), boost: 2 })),
        ...n.functions.map((f) => ({ label: f, type: "function", apply: `${f}(`, boost: 1 })),
        ...n.keywords.map((k) => ({ label: k, type: "keyword" })),
      ],
      validFor: /^[\w$]*$/,
    };
  };
}

export function createEditor(options: {
  parent: HTMLElement;
  doc: string;
  language: StreamLanguage<LineState> | undefined;
  names: () => Names | undefined;
  onRun: () => void;
  onChange: (text: string) => void;
}): EditorView {
  return new EditorView({
    parent: options.parent,
    doc: options.doc,
    extensions: [
      keymap.of([
        {
          key: "Mod-Enter",
          run: () => {
            options.onRun();
            return true;
          },
        },
      ]),
      basicSetup,
      placeholder("SELECT * FROM balances;   (Ctrl-Space completes names)"),
      ...(options.language ? [options.language] : []),
      autocompletion({ override: [completeFrom(options.names)], activateOnTyping: true }),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) options.onChange(u.state.doc.toString());
      }),
      EditorView.theme({ "&": { fontSize: "14px" }, ".cm-scroller": { fontFamily: "ui-monospace, Menlo, monospace" } }),
    ],
  });
}
