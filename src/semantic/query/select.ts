/**
 * The SELECT list: `*` and `a.*` expansion (with ksqlDB's column order), `struct->*`, the items typed over the
 * input row, and their output names (alias, column name, struct field name, else `KSQL_COL_<n>`).
 */
import type { Expr, SelectItem } from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/diagnostic.ts";
import { BIGINT, formatType } from "../../types/sqltype.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type Scope, type ScopeColumn } from "../expressions.ts";
import { closest, exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { GeneratedNames, err, hintOf, type Item, type QueryContext } from "./context.ts";
import {
  PSEUDO_COLUMNS,
  RESERVED_NAMES,
  WINDOW_BOUNDS,
  allSources,
  clashingColumnNames,
  qualifierAliases,
} from "./sources.ts";

/** A SELECT item before naming. */
interface RawItem {
  expr: TExpr;
  alias?: string;
  span: Span;
  ast?: Expr;
  star?: boolean;
  implicit?: string;
}

/**
 * The scope of SELECT and HAVING: the input columns, plus WINDOWSTART/WINDOWEND in a windowed aggregation
 * over a single source (ksqlDB resolves them there only, not over a join).
 */
export function selectScopeOf(qc: QueryContext): Scope {
  const { q, from, inputColumns, qualifiers, scope } = qc;
  return q.window !== undefined && from.kind === "Source"
    ? {
        columns: [
          ...inputColumns,
          ...WINDOW_BOUNDS.filter((w) => !inputColumns.some((c) => c.name === w)).map((w) => ({
            name: w,
            column: w,
            type: BIGINT,
            namespace: "PSEUDO" as const,
          })),
        ],
        qualifiers,
      }
    : scope;
}

/**
 * Types and names the SELECT items (aggregates and table functions are still calls here). `starSeen`: an
 * unqualified `*` was selected; `names` generates further `KSQL_COL_<n>` names after the items'.
 */
export function analyzeSelect(
  qc: QueryContext,
  selectScope: Scope,
): { items: Item[]; starSeen: boolean; names: GeneratedNames } {
  const { q, diags, qualifiers } = qc;
  let starSeen = false;
  const rawItems: RawItem[] = [];
  for (const item of q.select) {
    if (item.kind === "SelectAll") {
      if (item.qualifier !== undefined && !qualifiers.has(item.qualifier)) {
        err(
          diags,
          Codes.UNKNOWN_SOURCE,
          `'${item.qualifier}' is not a valid stream/table name or alias.`,
          item.span,
          hintOf(closest(item.qualifier, qualifiers)),
        );
        continue;
      }
      for (const c of expandStar(qc, item))
        rawItems.push({
          expr: { kind: "Column", type: c.type, name: c.name },
          span: item.span,
          star: true,
          implicit: c.name,
        });
      if (item.qualifier === undefined) starSeen = true;
      continue;
    }
    if (item.kind === "SelectStructAll") {
      const base = analyzeExpr(item.expr, qc.exprContext("SELECT", false, false, selectScope));
      if (base.type.kind !== "STRUCT") {
        if (base.type.kind !== "NULL")
          err(
            diags,
            Codes.TYPE_MISMATCH,
            `${exprText(item.expr)}->* needs a STRUCT, found ${formatType(base.type)}`,
            item.span,
          );
        continue;
      }
      for (const f of base.type.fields)
        rawItems.push({
          expr: { kind: "Field", type: f.type, base, field: f.name },
          span: item.span,
          implicit: f.name,
        });
      continue;
    }
    const e = analyzeExpr(item.expr, qc.exprContext("SELECT", true, true, selectScope));
    rawItems.push({
      expr: e,
      ...(item.alias ? { alias: item.alias.value } : {}),
      span: item.alias?.span ?? item.span,
      ast: item.expr,
    });
  }
  const { items, names } = nameItems(qc, rawItems);
  if (qc.persistent) checkReservedNames(qc, items);
  return { items, starSeen, names };
}

/** The columns `*` or `a.*` stands for, in ksqlDB's order. */
function expandStar(qc: QueryContext, item: Extract<SelectItem, { kind: "SelectAll" }>): ScopeColumn[] {
  const { q, opts, from, inputColumns } = qc;
  const expanded = new Set<string>();
  // ksqlDB quirk: `*` over a join that is repartitioned also takes each side's ROWTIME/ROWPARTITION/ROWOFFSET.
  const sidePseudo = (c: ScopeColumn) =>
    q.partitionBy !== undefined &&
    from.kind === "Join" &&
    c.qualifier !== undefined &&
    PSEUDO_COLUMNS.some((p) => p.name === c.column);
  const cols = inputColumns.filter((c) => {
    if ((c.namespace === "PSEUDO" && !sidePseudo(c)) || expanded.has(c.name)) return false;
    if (
      item.qualifier !== undefined &&
      c.qualifier !== item.qualifier &&
      !(c.qualifier && qualifierAliases(from, item.qualifier).includes(c.qualifier))
    )
      return false;
    // A join's synthetic ROWKEY belongs to no side: only an unqualified `*` includes it.
    if (c.qualifier === undefined && item.qualifier !== undefined) return false;
    expanded.add(c.name);
    return true;
  });
  // With PARTITION BY the old key columns become values, after the others (per join side: values,
  // pseudo columns, keys).
  const isKey = (c: ScopeColumn) =>
    from.kind === "Join" && c.qualifier !== undefined
      ? allSources(from)
          .find((s) => s.alias === c.qualifier)
          ?.source.columns.find((x) => x.name === c.column)?.namespace === "KEY"
      : c.namespace === "KEY";
  const sideOrder = (cs: ScopeColumn[]) => [
    ...cs.filter((c) => !isKey(c) && c.namespace !== "PSEUDO"),
    ...cs.filter((c) => c.namespace === "PSEUDO"),
    ...cs.filter((c) => isKey(c) && c.namespace !== "PSEUDO"),
  ];
  // A transient query's `*` over a windowed table also gives the window bounds, after the key (ksqlDB).
  const withWindow =
    opts.statementKind === "QUERY" &&
    from.kind === "Source" &&
    from.source.window !== undefined &&
    item.qualifier === undefined
      ? [
          ...cols.filter((c) => c.namespace === "KEY"),
          ...inputColumns.filter(
            (c) =>
              c.namespace === "PSEUDO" &&
              (c.name === "WINDOWSTART" || c.name === "WINDOWEND") &&
              c.qualifier === from.alias,
          ),
          ...cols.filter((c) => c.namespace !== "KEY"),
        ]
      : cols;
  return !q.partitionBy
    ? withWindow
    : from.kind === "Join"
      ? [...new Set(cols.map((c) => c.qualifier))]
          // The synthetic ROWKEY (no side) goes last, as the old key columns do.
          .sort((a, b) => (a === undefined ? 1 : 0) - (b === undefined ? 1 : 0))
          .flatMap((qual) => sideOrder(cols.filter((c) => c.qualifier === qual)))
      : sideOrder(cols);
}

/** Output names: alias, column name, struct field name, else KSQL_COL_<n>. */
function nameItems(qc: QueryContext, rawItems: readonly RawItem[]): { items: Item[]; names: GeneratedNames } {
  const { from } = qc;
  const used = new Set<string>();
  const clashing = from.kind === "Join" ? clashingColumnNames(from) : undefined;
  const implicitNames = rawItems.map((r) => r.alias ?? r.implicit ?? implicitName(r.expr, r.ast, clashing));
  // Struct fields named like another column get `_1`, `_2`... (ksqlDB's clash rule).
  for (let i = 0; i < rawItems.length; i++) {
    const r = rawItems[i]!;
    const n = implicitNames[i];
    if (!n || r.alias || r.expr.kind !== "Field") continue;
    if (
      implicitNames.some((m, j) => j < i && m === n) ||
      implicitNames.some((m, j) => j !== i && m === n && rawItems[j]!.expr.kind !== "Field")
    ) {
      let k = 1;
      while (implicitNames.includes(`${n}_${k}`)) k++;
      implicitNames[i] = `${n}_${k}`;
    }
  }
  for (const n of implicitNames) if (n) used.add(n);
  // Generated names also skip the sources' own column names (ksqlDB: `KSQL_COL_4` stays free for an input column).
  for (const s of allSources(from)) for (const c of s.source.columns) used.add(c.name);
  const names = new GeneratedNames(used);
  const items: Item[] = rawItems.map((r, i) => ({
    expr: r.expr,
    name: implicitNames[i] || names.fresh(),
    explicit: r.alias !== undefined,
    span: r.span,
    ...(r.ast ? { ast: r.ast } : {}),
  }));
  return { items, names };
}

/**
 * The implicit output name of a SELECT expression, or undefined for a generated KSQL_COL_n.
 * `clashing`: in a join, the column names that more than one source has.
 */
function implicitName(e: TExpr, ast: Expr | undefined, clashing: ReadonlySet<string> | undefined): string | undefined {
  // ksqlDB: a column reference keeps the column's own name; in a join, a name that several sources
  // have is prefixed with its source (`a.col` is `A_COL`), whether the reference was qualified or not.
  if (e.kind === "Column" && ast && ast.kind === "ColumnRef")
    return clashing && !clashing.has(ast.name) ? ast.name : e.name;
  if (e.kind === "Field" && ast && ast.kind === "Dereference") return e.field;
  return undefined;
}

/** A persistent query's output may not name a pseudo column or window bound. */
function checkReservedNames(qc: QueryContext, items: readonly Item[]): void {
  for (const it of items) {
    if (!RESERVED_NAMES.has(it.name)) continue;
    // `x.ROWTIME AS ROWTIME` re-selects the pseudo column: reported like an unaliased one.
    const samePseudo = it.expr.kind === "Column" && (it.expr.name === it.name || it.expr.name.endsWith(`_${it.name}`));
    if (it.explicit && !samePseudo)
      err(
        qc.diags,
        Codes.RESERVED_NAME,
        `\`${it.name}\` is a reserved column name. You cannot use it as an alias for a column.`,
        it.span,
      );
    else
      err(
        qc.diags,
        Codes.RESERVED_NAME,
        `Reserved column name in select: \`${it.name}\`. Please remove or alias the column.`,
        it.span,
      );
  }
}
