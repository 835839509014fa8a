/**
 * The sources of a FROM clause: their columns as expressions see them (pseudo columns, window bounds, a join's
 * `ALIAS_COL` names), their qualifiers, and a join's key.
 */
import { BIGINT, INTEGER, type SqlType } from "../../types/sqltype.ts";
import type { AnalyzedFrom, AnalyzedJoin, AnalyzedSource, WindowSpec } from "../analyzed.ts";
import type { CatalogSource } from "../catalog.ts";
import type { ScopeColumn } from "../expressions.ts";
import { exprKey, type TExpr } from "../typed.ts";

export const PSEUDO_COLUMNS: readonly { name: string; type: SqlType }[] = [
  { name: "ROWTIME", type: BIGINT },
  { name: "ROWPARTITION", type: INTEGER },
  { name: "ROWOFFSET", type: BIGINT },
];
export const WINDOW_BOUNDS = ["WINDOWSTART", "WINDOWEND"];
export const RESERVED_NAMES = new Set(["ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"]);

export function windowOf(f: AnalyzedFrom): WindowSpec | undefined {
  if (f.kind === "Source")
    return f.source.window
      ? {
          type: f.source.window.type,
          ...(f.source.window.sizeMs !== undefined ? { sizeMs: f.source.window.sizeMs } : {}),
        }
      : undefined;
  return windowOf(f.left);
}

export function sourcesOf(f: AnalyzedFrom): string[] {
  return f.kind === "Source" ? [f.source.name] : [...sourcesOf(f.left), f.right.source.name];
}

export function qualifiersOf(f: AnalyzedFrom): string[] {
  if (f.kind === "Source") return f.alias === f.source.name ? [f.alias] : [f.alias, f.source.name];
  return [...qualifiersOf(f.left), ...qualifiersOf(f.right)];
}

/** Columns of a single source as seen in a non-join query. */
export function sourceScopeColumns(alias: string, s: CatalogSource): ScopeColumn[] {
  const cols: ScopeColumn[] = s.columns.map((c) => ({
    name: c.name,
    column: c.name,
    qualifier: alias,
    type: c.type,
    namespace: c.namespace,
  }));
  for (const p of PSEUDO_COLUMNS)
    cols.push({
      name: p.name,
      column: p.name,
      qualifier: alias,
      type: p.type,
      namespace: "PSEUDO",
    });
  if (s.window)
    for (const w of WINDOW_BOUNDS)
      cols.push({
        name: w,
        column: w,
        qualifier: alias,
        type: BIGINT,
        namespace: "PSEUDO",
      });
  if (alias !== s.name) for (const c of [...cols]) cols.push({ ...c, qualifier: s.name });
  return cols;
}

export function scopeColumnsOf(f: AnalyzedFrom): ScopeColumn[] {
  return f.kind === "Source" ? sourceScopeColumns(f.alias, f.source) : [...f.columns];
}

/** Columns of one side of a join, named `ALIAS_COL` in the joined row. */
export function joinSideColumns(alias: string, s: CatalogSource): ScopeColumn[] {
  const cols: ScopeColumn[] = s.columns.map((c) => ({
    name: `${alias}_${c.name}`,
    column: c.name,
    qualifier: alias,
    type: c.type,
    namespace: c.namespace,
  }));
  // Each side's pseudo columns travel in the joined row as `ALIAS_ROWTIME`...; the unqualified ones are the joined record's.
  const pseudo = [...PSEUDO_COLUMNS, ...(s.window ? WINDOW_BOUNDS.map((w) => ({ name: w, type: BIGINT })) : [])];
  for (const p of pseudo)
    cols.push({
      name: `${alias}_${p.name}`,
      column: p.name,
      qualifier: alias,
      type: p.type,
      namespace: "PSEUDO",
    });
  if (alias !== s.name) for (const c of [...cols]) cols.push({ ...c, qualifier: s.name });
  return cols;
}

/** The column names (pseudo columns included) that more than one source of a join has. */
export function clashingColumnNames(f: AnalyzedFrom): Set<string> {
  const seen = new Set<string>();
  const out = new Set<string>();
  for (const s of allSources(f)) {
    const names = new Set([
      ...s.source.columns.map((c) => c.name),
      ...PSEUDO_COLUMNS.map((p) => p.name),
      ...(s.source.window ? WINDOW_BOUNDS : []),
    ]);
    for (const n of names) (seen.has(n) ? out : seen).add(n);
  }
  return out;
}

/** The aliases that `qualifier` (an alias or a source name) stands for. */
export function qualifierAliases(f: AnalyzedFrom, qualifier: string): string[] {
  return allSources(f)
    .filter((s) => s.alias === qualifier || s.source.name === qualifier)
    .map((s) => s.alias);
}

export function joinKeyExpr(j: AnalyzedJoin): TExpr {
  const c = j.columns.find((x) => x.name === j.keyName)!;
  return { kind: "Column", type: c.type, name: c.name };
}

/** The expressions equal to a join's key (for "is the key in the projection"). */
export function joinKeyEquivalents(j: AnalyzedJoin): string[] {
  const out = [exprKey(joinKeyExpr(j))];
  if (j.joinKind === "FOREIGN_KEY") return out;
  if (j.joinType !== "FULL") {
    out.push(exprKey(j.leftExpr), exprKey(j.rightExpr));
    if (j.left.kind === "Join" && joinKeyEquivalents(j.left).includes(exprKey(j.leftExpr)))
      out.push(...joinKeyEquivalents(j.left));
  }
  return out;
}

export function joinKeyTexts(j: AnalyzedJoin): string {
  const name = (e: TExpr) => {
    if (e.kind !== "Column") return undefined;
    const c = j.columns.find((x) => x.name === e.name);
    return c?.qualifier ? `${c.qualifier}.${c.column}` : e.name;
  };
  if (j.joinKind === "FOREIGN_KEY") return name(joinKeyExpr(j)) ?? j.keyName;
  const l = name(j.leftExpr);
  const r = name(j.rightExpr);
  if (l && r) return `${l} or ${r}`;
  return l ?? r ?? j.keyName;
}

export function allSources(f: AnalyzedFrom): AnalyzedSource[] {
  return f.kind === "Source" ? [f] : [...allSources(f.left), f.right];
}

export function typeOfFrom(f: AnalyzedFrom): "STREAM" | "TABLE" {
  return f.kind === "Source" ? f.source.sourceType : f.resultType;
}
