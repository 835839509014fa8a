/**
 * Compiled SELECTs kept for statements that differ only in their literals, so that a service asking for
 * `... WHERE id = 'acc-1'`, then `'acc-2'`, ... compiles the statement once (parse + analyze cost far
 * more than reading a key from a store).
 *
 * A statement's template is its text with each string literal and each integer literal (fitting INT, and not
 * a LIMIT) replaced by a hole; the key is the template plus the session properties, per catalog (a catalog is
 * immutable: a statement that changes it makes a new one, so entries of the old catalog are never reused).
 * On a miss the template is compiled with a distinct sentinel in each hole; the template is kept only when
 * every sentinel comes back verbatim as a `Literal` of the literal's own type and nowhere else (so the
 * analysis did not convert, fold or otherwise look into that literal: its value did not matter to it). A hit
 * copies the kept query along the paths to those literals with the statement's own values.
 *
 * Known limit: an analysis check that depends on a literal's value without transforming it (none is known
 * today) would be skipped on a hit.
 */
import type { AnalyzedQuery } from "../../src/compile.ts";
import type { Span } from "../../src/diagnostics/diagnostic.ts";
import { literalTokens } from "../../src/parse.ts";

/** Templates kept per catalog, oldest dropped first beyond this. */
const MAX_TEMPLATES = 1_000;

interface Hole {
  readonly kind: "string" | "integer";
  /** Offsets of the literal token in the statement text: `start` inclusive, `end` exclusive. */
  readonly start: number;
  readonly end: number;
}

interface Template {
  readonly query: AnalyzedQuery;
  /** The statement's span in the template text (sentinels in the holes). */
  readonly span: Span;
  readonly textLength: number;
  /** For each hole, where its literal sits in `query`. */
  readonly paths: readonly (readonly (string | number)[])[][];
}

const caches = new WeakMap<object, Map<string, Template | null>>();

const sentinelString = (i: number) => `\u0001esql-hole-${i}\u0001`;
const sentinelInteger = (i: number) => 2_038_461_000 + i;

/** The literals of `sql` that may be holes; undefined when the text is not worth caching (or does not lex). */
function holesOf(sql: string): Hole[] | undefined {
  if (sql.includes("${")) return undefined; // variables: their values are not in the key
  const literals = literalTokens(sql);
  if (!literals) return undefined;
  return literals
    .filter((t) => t.kind === "string" || (Number(sql.slice(t.start, t.end)) < 2 ** 31 && !t.afterLimit))
    .map(({ kind, start, end }) => ({ kind, start, end }));
}

/** `sql` with each hole replaced by `fill(i)`. */
function fillHoles(sql: string, holes: readonly Hole[], fill: (i: number, h: Hole) => string): string {
  let out = "";
  let at = 0;
  holes.forEach((h, i) => {
    out += sql.slice(at, h.start) + fill(i, h);
    at = h.end;
  });
  return out + sql.slice(at);
}

/** The value a hole's literal has in an analyzed query (as `src/semantic` builds it). */
function literalValue(sql: string, h: Hole): string | number {
  const image = sql.slice(h.start, h.end);
  return h.kind === "string" ? image.slice(1, -1).replaceAll("''", "'") : Number(image);
}

/** Finds each sentinel's `Literal` nodes; undefined when one is missing or shows up anywhere else. */
function findPaths(query: AnalyzedQuery, holes: readonly Hole[]): (string | number)[][][] | undefined {
  const sentinels = new Map<unknown, number>(
    holes.map((h, i) => [h.kind === "string" ? sentinelString(i) : sentinelInteger(i), i]),
  );
  const paths: (string | number)[][][] = holes.map(() => []);
  // Shared subtrees are walked once per path that reaches them (each path gets its copy on a hit); only
  // the nodes on the current path are skipped, against cycles.
  const above = new Set<object>();
  let stray = false;
  const walk = (node: unknown, path: (string | number)[]) => {
    if (stray) return;
    if (node === null || typeof node !== "object") {
      if (sentinels.has(node)) stray = true; // a literal's value used outside a Literal node
      return;
    }
    if (above.has(node)) return;
    const o = node as Record<string, unknown>;
    if (o.kind === "Literal" && sentinels.has(o.value)) {
      const i = sentinels.get(o.value)!;
      const type = (o.type as { kind?: string } | undefined)?.kind;
      if (type !== (holes[i]!.kind === "string" ? "STRING" : "INTEGER")) stray = true;
      else paths[i]!.push(path);
      return;
    }
    above.add(node);
    if (node instanceof Map || node instanceof Set) {
      for (const v of node.values()) walk(v, [...path, "\0map"]);
    } else {
      for (const [k, v] of Array.isArray(node) ? node.entries() : Object.entries(o)) walk(v, [...path, k]);
    }
    above.delete(node);
  };
  walk(query, []);
  if (stray || paths.some((p) => p.length === 0) || paths.some((p) => p.some((q) => q.includes("\0map"))))
    return undefined;
  return paths;
}

/** A copy of `root` with the node at `path` replaced by `value` (only the nodes along the path are copied). */
function setAt(root: unknown, path: readonly (string | number)[], value: unknown, depth = 0): unknown {
  if (depth === path.length) return value;
  const key = path[depth]!;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<string | number, unknown>;
  copy[key] = setAt((root as Record<string | number, unknown>)[key], path, value, depth + 1);
  return copy;
}

/** The span of the statement in `sql`, from the template's (only its end moves with the literals' lengths). */
function spanIn(sql: string, t: Template): Span {
  const end = sql.length - (t.textLength - t.span.end);
  let endLine = 1;
  let lineStart = 0;
  for (let i = 0; i < end - 1; i++) {
    if (sql.charCodeAt(i) === 10) {
      endLine++;
      lineStart = i + 1;
    }
  }
  return { ...t.span, end, endLine, endCol: end - lineStart + 1 };
}

/**
 * Compiles a single SELECT through the template cache. `compile` is the uncached compiler: it is called with
 * the template text on a miss and with `sql` itself when the statement cannot use a template (then its
 * outcome, diagnostics included, is returned as is).
 */
export function compileCached<C extends { ok: true; query: AnalyzedQuery; span: Span } | { ok: false }>(
  catalog: object,
  properties: Readonly<Record<string, string>>,
  sql: string,
  compile: (text: string) => C,
): C {
  const holes = holesOf(sql);
  if (!holes) return compile(sql);
  const key = `${fillHoles(sql, holes, (_, h) => (h.kind === "string" ? "\u0000s" : "\u0000i"))}\u0000${JSON.stringify(properties)}`;
  let cache = caches.get(catalog);
  if (!cache) caches.set(catalog, (cache = new Map()));
  let template = cache.get(key);
  if (template === undefined) {
    template = null;
    const text = fillHoles(sql, holes, (i, h) =>
      h.kind === "string" ? `'${sentinelString(i)}'` : String(sentinelInteger(i)),
    );
    const c = compile(text);
    if (c.ok) {
      const paths = findPaths(c.query, holes);
      if (paths) template = { query: c.query, span: c.span, textLength: text.length, paths };
    }
    if (cache.size >= MAX_TEMPLATES) cache.delete(cache.keys().next().value!);
    cache.set(key, template);
  }
  if (template === null) return compile(sql);
  let query: unknown = template.query;
  template.paths.forEach((at, i) => {
    const value = literalValue(sql, holes[i]!);
    for (const path of at) {
      const node = path.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], query) as Record<
        string,
        unknown
      >;
      query = setAt(query, path, { ...node, value });
    }
  });
  return { ok: true, query: query as AnalyzedQuery, span: spanIn(sql, template) } as C;
}
