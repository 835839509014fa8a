/**
 * Tab completion for the REPL: keywords, stream and table names, column names and function names.
 * After FROM, JOIN, INTO, DESCRIBE and the like only source names are offered; after PRINT, topics.
 */
import { KEYWORDS } from "../../parse.ts";
import type { CompletionNames } from "./backend.ts";

/** Words after which a source name comes. */
const SOURCE_CONTEXT = new Set(["FROM", "JOIN", "INTO", "DESCRIBE", "EXTENDED", "TABLE", "STREAM", "EXISTS"]);

/**
 * readline's completer: the candidates for the word being typed at the end of `line`, and that word.
 * `text` is the whole statement so far (earlier lines too), which says which sources it reads.
 */
export function completer(text: string, names: CompletionNames, line: string = text): [string[], string] {
  const word = /[A-Za-z_][A-Za-z0-9_]*$/.exec(line)?.[0] ?? "";
  if (word === "") return [[], ""];
  const before = text.slice(0, text.length - word.length).trimEnd();
  const previous = (/[A-Za-z_][A-Za-z0-9_]*$/.exec(before)?.[0] ?? "").toUpperCase();
  const upper = word.toUpperCase();
  let candidates: Iterable<string>;
  if (previous === "PRINT") candidates = names.topics;
  else if (SOURCE_CONTEXT.has(previous)) candidates = names.sources;
  else {
    // Columns of the sources the statement names (all sources' when it names none yet).
    const words = new Set((text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).map((w) => w.toUpperCase()));
    const named = names.sources.filter((s) => words.has(s));
    const columns = (named.length > 0 ? named : names.sources).flatMap((s) => names.columns.get(s) ?? []);
    candidates = [...KEYWORDS, ...names.sources, ...columns, ...names.functions];
  }
  const hits = new Set<string>();
  for (const c of candidates) {
    if (c.toUpperCase().startsWith(upper) && c.toUpperCase() !== upper) hits.add(c);
  }
  // Typed in lower case: complete in lower case (names are case-insensitive unless back-quoted).
  const lower = word === word.toLowerCase();
  const list = [...hits].map((h) => (lower && /^[A-Z0-9_]+$/.test(h) ? h.toLowerCase() : h)).sort();
  return [list, word];
}
