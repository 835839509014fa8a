/**
 * Query analysis: FROM (sources, joins), SELECT, WHERE, GROUP BY, WINDOW, HAVING, PARTITION BY, EMIT, LIMIT,
 * with ksqlDB's rules for keys, aggregation, windows and joins. Produces an {@link AnalyzedQuery}.
 */
import type { AliasedSource, Expr, Query, Relation, WindowExpr } from "../ast/nodes.ts";
import { error, type Diagnostic, type Span } from "../diagnostics/diagnostic.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { BIGINT, INTEGER, formatType, typeEquals, type SqlType } from "../types/sqltype.ts";
import type {
  AggregateColumn,
  AnalyzedFrom,
  AnalyzedJoin,
  AnalyzedQuery,
  AnalyzedSource,
  JoinKind,
  OutputColumn,
  WindowSpec,
} from "./analyzed.ts";
import type { Catalog, CatalogSource } from "./catalog.ts";
import { Codes } from "./codes.ts";
import { analyzeExpr, type Clause, type ExprContext, type Scope, type ScopeColumn } from "./expressions.ts";
import { closest, exprText } from "./exprText.ts";
import { columnsOf, exprKey, mapExpr, someExpr, type TExpr } from "./typed.ts";
import type { DiagnosticCode } from "../diagnostics/codes.ts";

export const PSEUDO_COLUMNS: readonly { name: string; type: SqlType }[] = [
  { name: "ROWTIME", type: BIGINT },
  { name: "ROWPARTITION", type: INTEGER },
  { name: "ROWOFFSET", type: BIGINT },
];
/**
 * Aggregates whose intermediate state is a STRUCT, ARRAY or MAP (ksqlDB's intermediate types), which a
 * DELIMITED value format cannot store.
 */
const COMPLEX_STATE_AGGREGATES = new Set([
  "AVG",
  "STDDEV_SAMP",
  "STDDEV_SAMPLE",
  "CORRELATION",
  "COLLECT_LIST",
  "COLLECT_SET",
  "HISTOGRAM",
  "TOPK",
  "TOPKDISTINCT",
  "EARLIEST_BY_OFFSET",
  "LATEST_BY_OFFSET",
]);
export const WINDOW_BOUNDS = ["WINDOWSTART", "WINDOWEND"];
export const RESERVED_NAMES = new Set(["ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"]);

export interface QueryOptions {
  readonly catalog: Catalog;
  readonly functions: FunctionRegistry;
  /** The sink's name for persistent queries (CSAS/CTAS/INSERT INTO); absent for transient queries. */
  readonly sinkName?: string;
  /** What the statement asks for: a CSAS wants a STREAM, a CTAS a TABLE. */
  readonly expectedType?: "STREAM" | "TABLE";
  readonly properties: Readonly<Record<string, string>>;
  readonly statementKind: "CSAS" | "CTAS" | "INSERT" | "QUERY";
}

const err = (diags: Diagnostic[], code: DiagnosticCode, msg: string, span: Span, hint?: string) =>
  diags.push(error(code, msg, span, hint));

interface Item {
  readonly expr: TExpr;
  readonly name: string;
  readonly explicit: boolean;
  readonly span: Span;
  /** The SELECT item as written (undefined for `*` expansions). */
  readonly ast?: Expr;
}

/** Analyzes a query. Returns undefined when FROM itself could not be resolved. */
export function analyzeQuery(q: Query, opts: QueryOptions, diags: Diagnostic[]): AnalyzedQuery | undefined {
  const diagsAtStart = diags.length;
  const from = analyzeFrom(q.from, opts, diags);
  if (!from) return undefined;
  const sourceWindow = windowOf(from);
  const inputColumns = scopeColumnsOf(from);
  const qualifiers = new Set<string>(qualifiersOf(from));
  const scope: Scope = { columns: inputColumns, qualifiers };
  const persistent = opts.sinkName !== undefined;
  const ctx = (clause: Clause, aggregates: boolean, tableFns = false, s: Scope = scope): ExprContext => ({
    catalog: opts.catalog,
    functions: opts.functions,
    scope: s,
    clause,
    diags,
    allowAggregates: aggregates,
    allowTableFunctions: tableFns,
  });
  const isTableInput = from.kind === "Source" ? from.source.sourceType === "TABLE" : from.resultType === "TABLE";
  const sourceNames = sourcesOf(from);

  if (persistent && sourceWindow && from.kind === "Source" && from.source.sourceType === "TABLE" && !q.groupBy)
    err(diags, Codes.INVALID_QUERY, "KSQL does not support persistent queries on windowed tables.", q.from.span);

  // WINDOW
  let window: WindowSpec | undefined;
  if (q.window) {
    window = windowSpec(q.window);
    if (!q.groupBy) err(diags, Codes.INVALID_WINDOW, "WINDOW clause requires a GROUP BY clause.", q.window.span);
    if (isTableInput)
      err(
        diags,
        Codes.INVALID_WINDOW,
        "WINDOW clause is not supported on tables: windowed aggregations need a STREAM as input.",
        q.window.span,
      );
  }

  // WHERE
  let where: TExpr | undefined;
  if (q.where) {
    where = analyzeExpr(q.where, ctx("WHERE", false));
    if (where.type.kind !== "BOOLEAN" && where.type.kind !== "NULL")
      err(
        diags,
        Codes.TYPE_MISMATCH,
        `Type error in WHERE expression: Should evaluate to boolean but is ${exprText(q.where)} (${formatType(where.type)}) instead.`,
        q.where.span,
      );
  }

  // SELECT (typed over the input row; aggregates and table functions are rewritten below).
  const windowedAgg = q.window !== undefined;
  // ksqlDB resolves WINDOWSTART/WINDOWEND of a windowed aggregation over a single source only, not over a join.
  const selectScope: Scope =
    windowedAgg && from.kind === "Source"
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
  let starSeen = false;
  const rawItems: {
    expr: TExpr;
    alias?: string;
    span: Span;
    ast?: Expr;
    star?: boolean;
    implicit?: string;
  }[] = [];
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
      const ordered = !q.partitionBy
        ? withWindow
        : from.kind === "Join"
          ? [...new Set(cols.map((c) => c.qualifier))]
              // The synthetic ROWKEY (no side) goes last, as the old key columns do.
              .sort((a, b) => (a === undefined ? 1 : 0) - (b === undefined ? 1 : 0))
              .flatMap((qual) => sideOrder(cols.filter((c) => c.qualifier === qual)))
          : sideOrder(cols);
      for (const c of ordered)
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
      const base = analyzeExpr(item.expr, ctx("SELECT", false, false, selectScope));
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
    const e = analyzeExpr(item.expr, ctx("SELECT", true, true, selectScope));
    rawItems.push({
      expr: e,
      ...(item.alias ? { alias: item.alias.value } : {}),
      span: item.alias?.span ?? item.span,
      ast: item.expr,
    });
  }
  // Output names: alias, column name, struct field name, else KSQL_COL_<n>.
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
  let counter = 0;
  const items: Item[] = rawItems.map((r, i) => {
    let name = implicitNames[i];
    if (!name) {
      while (used.has(`KSQL_COL_${counter}`)) counter++;
      name = `KSQL_COL_${counter++}`;
      used.add(name);
    }
    return {
      expr: r.expr,
      name,
      explicit: r.alias !== undefined,
      span: r.span,
      ...(r.ast ? { ast: r.ast } : {}),
    };
  });

  if (persistent) {
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (!RESERVED_NAMES.has(it.name)) continue;
      // `x.ROWTIME AS ROWTIME` re-selects the pseudo column: reported like an unaliased one.
      const samePseudo =
        it.expr.kind === "Column" && (it.expr.name === it.name || it.expr.name.endsWith(`_${it.name}`));
      if (it.explicit && !samePseudo)
        err(
          diags,
          Codes.RESERVED_NAME,
          `\`${it.name}\` is a reserved column name. You cannot use it as an alias for a column.`,
          it.span,
        );
      else
        err(
          diags,
          Codes.RESERVED_NAME,
          `Reserved column name in select: \`${it.name}\`. Please remove or alias the column.`,
          it.span,
        );
    }
  }

  const hasAgg = (e: TExpr) => someExpr(e, (x) => x.kind === "AggregateCall");
  const hasTf = (e: TExpr) => someExpr(e, (x) => x.kind === "TableFunctionCall");
  const anyAggInSelect = items.some((i) => hasAgg(i.expr));

  // GROUP BY
  let groupBy: TExpr[] | undefined;
  if (q.groupBy) {
    if (q.groupBy.length === 0) err(diags, Codes.INVALID_QUERY, "GROUP BY requires at least one expression", q.span);
    groupBy = q.groupBy.map((g) => analyzeExpr(g, ctx("GROUP BY", false)));
  }
  // HAVING (typed like SELECT)
  let havingRaw: TExpr | undefined;
  if (q.having) {
    if (!q.groupBy) err(diags, Codes.INVALID_QUERY, "HAVING clause requires a GROUP BY clause.", q.having.span);
    havingRaw = analyzeExpr(q.having, ctx("HAVING", true, false, selectScope));
    if (havingRaw.type.kind !== "BOOLEAN" && havingRaw.type.kind !== "NULL")
      err(
        diags,
        Codes.TYPE_MISMATCH,
        `Type error in HAVING expression: Should evaluate to boolean but is ${exprText(q.having)} (${formatType(havingRaw.type)}) instead.`,
        q.having.span,
      );
  }
  const isAggregate = groupBy !== undefined || anyAggInSelect || (havingRaw !== undefined && hasAgg(havingRaw));

  if (items.some((i) => hasTf(i.expr))) {
    if (isAggregate)
      err(diags, Codes.TABLE_FUNCTION_NOT_ALLOWED, "Table functions cannot be used with aggregations.", q.span);
    if (isTableInput)
      err(diags, Codes.TABLE_FUNCTION_NOT_ALLOWED, "Table source is not supported with table functions", q.from.span);
  }
  if (q.emit === "FINAL" && !windowedAgg)
    err(diags, Codes.INVALID_QUERY, "EMIT FINAL is only supported for windowed aggregations.", q.span);

  // PARTITION BY
  let partitionBy: { exprs: TExpr[]; keyNames: string[] } | undefined;
  if (q.partitionBy) {
    if (isTableInput)
      err(
        diags,
        Codes.INVALID_QUERY,
        "Invalid result type. PARTITION BY is not supported on tables: use GROUP BY to re-key a table.",
        q.from.span,
      );
    if (isAggregate)
      err(diags, Codes.INVALID_QUERY, "PARTITION BY and GROUP BY in the same query are not supported.", q.span);
    if (q.partitionBy.length === 0)
      err(diags, Codes.INVALID_QUERY, "PARTITION BY requires at least one expression", q.span);
    const pctx = ctx("PARTITION BY", false);
    const exprs = q.partitionBy.map((p) => analyzeExpr(p, pctx));
    // PARTITION BY NULL: a stream without key.
    const isNull = exprs.length === 1 && exprs[0]!.kind === "Literal" && exprs[0]!.value === null;
    partitionBy = { exprs: isNull ? [] : exprs, keyNames: [] };
  }

  // ksqlDB's KAFKA value format cannot carry aggregation or join state.
  const kafkaSources = allSources(from)
    .filter((s) => s.source.valueFormat.format === "KAFKA")
    .map((s) => s.source.name);
  if (kafkaSources.length && (q.groupBy || from.kind === "Join"))
    err(
      diags,
      Codes.FORMAT_UNSUPPORTED,
      `Source(s) ${kafkaSources.join(", ")} are using the 'KAFKA' value format. This format does not yet support ${q.groupBy ? "GROUP BY" : "JOIN"}.`,
      q.from.span,
    );

  const resultType: "STREAM" | "TABLE" = isAggregate ? "TABLE" : isTableInput ? "TABLE" : "STREAM";
  if (opts.expectedType === "TABLE" && resultType === "STREAM")
    err(
      diags,
      Codes.INVALID_QUERY,
      "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.",
      q.span,
    );
  if (opts.expectedType === "STREAM" && resultType === "TABLE" && !diags.length)
    err(
      diags,
      Codes.INVALID_QUERY,
      "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
      q.span,
    );

  const sink = opts.sinkName ?? "";
  const projection: OutputColumn[] = [];
  let aggregation: AnalyzedQuery["aggregation"];
  const tableFunctions: {
    name: string;
    call: Extract<TExpr, { kind: "TableFunctionCall" }>;
  }[] = [];

  if (isAggregate) {
    const gb = groupBy ?? [];
    // A transient query may aggregate the whole stream (one group); persistent ones need GROUP BY.
    if (!groupBy && persistent) {
      const first = items.find((i) => hasAgg(i.expr));
      const aggText = first?.ast ? exprText(firstAggAst(first.ast) ?? first.ast) : "";
      err(
        diags,
        Codes.INVALID_QUERY,
        `${opts.statementKind === "CTAS" ? "CREATE TABLE AS SELECT statement" : "A query"} does not support aggregate function [${aggText}] without a GROUP BY clause.`,
        q.span,
      );
    }
    // Not after another error: an unknown aggregate function would look like "no aggregate".
    if (groupBy && !anyAggInSelect && !(havingRaw && hasAgg(havingRaw)) && diags.length === diagsAtStart)
      err(
        diags,
        Codes.INVALID_QUERY,
        "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.",
        q.span,
      );
    // Key names from the projection.
    const gkeys = gb.map(exprKey);
    const keyNames: string[] = [];
    const keyItems = new Set<number>();
    gb.forEach((g, gi) => {
      const matches = items.map((it, i) => ({ it, i })).filter((x) => exprKey(x.it.expr) === gkeys[gi]);
      if (matches.length > 1)
        err(
          diags,
          Codes.KEY_NOT_IN_PROJECTION,
          `The projection contains a key column more than once: ${matches.map((m) => `\`${m.it.name}\``).join(" and ")}.`,
          matches[1]!.it.span,
        );
      if (matches.length >= 1) {
        keyNames.push(matches[0]!.it.name);
        keyItems.add(matches[0]!.i);
      } else {
        keyNames.push(g.kind === "Column" ? g.name : `KSQL_COL_${gi}`);
      }
    });
    const missing = gb.map((_, gi) => gi).filter((gi) => !items.some((it) => exprKey(it.expr) === gkeys[gi]));
    if (persistent && missing.length && q.groupBy) {
      const texts = missing.map((gi) => exprText(q.groupBy![gi]!));
      err(
        diags,
        Codes.KEY_NOT_IN_PROJECTION,
        `The query used to build \`${sink}\` must include the grouping expression${texts.length > 1 ? "s" : ""} ${listText(texts)} in its projection (eg, SELECT ${texts.join(", ")}...).`,
        q.span,
      );
    }
    // Aggregates, deduplicated.
    const aggregates: AggregateColumn[] = [];
    const aggIndex = new Map<string, string>();
    const postAgg = (e: TExpr, clause: "SELECT" | "HAVING", src: Expr | undefined, span: Span): TExpr => {
      const bad: string[] = [];
      const out = mapExpr(e, (x) => {
        const gi = gkeys.indexOf(exprKey(x));
        if (gi >= 0) return { kind: "Column", type: x.type, name: keyNames[gi]! };
        if (x.kind === "AggregateCall") {
          const k = exprKey(x);
          let name = aggIndex.get(k);
          if (!name) {
            name = `KSQL_AGG_VARIABLE_${aggregates.length}`;
            aggIndex.set(k, name);
            aggregates.push({ name, call: x });
          }
          return { kind: "Column", type: x.type, name };
        }
        if (x.kind === "Column") {
          if (windowedAgg && WINDOW_BOUNDS.includes(x.name)) return x;
          if (x.name === "ROWTIME") return x;
          bad.push(x.name);
          return x;
        }
        return undefined;
      });
      if (bad.length) {
        if (clause === "SELECT")
          err(
            diags,
            Codes.NOT_IN_GROUP_BY,
            `Non-aggregate SELECT expression(s) not part of GROUP BY: ${src ? exprText(src) : bad.join(", ")}`,
            span,
            "Either add the column(s) to the GROUP BY or remove them from the SELECT.",
          );
        else
          err(
            diags,
            Codes.NOT_IN_GROUP_BY,
            `Non-aggregate HAVING expression not part of GROUP BY: ${[...new Set(bad)].join(", ")}`,
            span,
          );
      }
      return out;
    };
    const having = havingRaw && q.having ? postAgg(havingRaw, "HAVING", q.having, q.having.span) : undefined;
    const values: OutputColumn[] = [];
    const keys: (OutputColumn | undefined)[] = gb.map(() => undefined);
    items.forEach((it, i) => {
      const e = postAgg(it.expr, "SELECT", it.ast, it.span);
      if (keyItems.has(i)) {
        const gi = gkeys.indexOf(exprKey(it.expr));
        keys[gi] = {
          name: it.name,
          type: it.expr.type,
          namespace: "KEY",
          expr: e,
        };
      } else
        values.push({
          name: it.name,
          type: it.expr.type,
          namespace: "VALUE",
          expr: e,
        });
    });
    projection.push(...keys.filter((k): k is OutputColumn => k !== undefined), ...values);
    if (persistent && groupBy && values.length === 0 && !diags.length)
      err(diags, Codes.INVALID_QUERY, "The projection contains no value columns.", q.span);
    // Aggregation state is stored in the source's value format; DELIMITED holds primitives only.
    const stateFormat = allSources(from)[0]!.source.valueFormat.format;
    const complex = aggregates.find((a) => COMPLEX_STATE_AGGREGATES.has(a.call.name));
    if (stateFormat === "DELIMITED" && complex)
      err(
        diags,
        Codes.FORMAT_UNSUPPORTED,
        "One of the functions used in the statement has an intermediate type that the value format can not handle. Please remove the function or change the format.",
        q.span,
        `${complex.call.name} keeps a structured state; DELIMITED holds primitive values only`,
      );
    aggregation = {
      groupBy: gb,
      keyNames,
      aggregates,
      ...(window ? { window } : {}),
      ...(having ? { having } : {}),
      fromTable: isTableInput,
    };
  } else {
    // Table functions: each call becomes a column of the TableFunction operator.
    const tfIndex = new Map<string, string>();
    const lift = (e: TExpr): TExpr =>
      mapExpr(e, (x) => {
        if (x.kind !== "TableFunctionCall") return undefined;
        const k = exprKey(x);
        let name = tfIndex.get(k);
        if (!name) {
          name = `KSQL_SYNTH_${tableFunctions.length}`;
          tfIndex.set(k, name);
          tableFunctions.push({ name, call: x });
        }
        return { kind: "Column", type: x.type, name };
      });
    // Which expressions are the key of the result.
    let keyExprs: TExpr[];
    let keyTexts: string[];
    let equivalents: string[][] | undefined;
    let fkLeft: { name: string; columns: string[] } | undefined;
    if (partitionBy) {
      keyExprs = partitionBy.exprs;
      keyTexts = (q.partitionBy ?? []).map((x) => exprText(x));
    } else if (from.kind === "Join" && from.joinKind === "FOREIGN_KEY") {
      // The left table's primary key columns, each needed in the projection.
      const lt = from.left as AnalyzedSource;
      const ks = lt.source.columns.filter((c) => c.namespace === "KEY");
      keyExprs = ks.map(
        (c) =>
          ({
            kind: "Column",
            type: c.type,
            name: `${lt.alias}_${c.name}`,
          }) as TExpr,
      );
      keyTexts = ks.map((c) => `${lt.alias}.${c.name}`);
      fkLeft = { name: lt.source.name, columns: ks.map((c) => c.name) };
    } else if (from.kind === "Join") {
      keyExprs = [joinKeyExpr(from)];
      equivalents = [joinKeyEquivalents(from)];
      keyTexts = [joinKeyTexts(from)];
    } else {
      const ks = from.source.columns.filter((c) => c.namespace === "KEY");
      keyExprs = ks.map((c) => ({ kind: "Column", type: c.type, name: c.name }) as TExpr);
      keyTexts = ks.map((c) => c.name);
    }
    const keyKeys = equivalents ?? keyExprs.map((k) => [exprKey(k)]);
    const keyNames: (string | undefined)[] = keyExprs.map(() => undefined);
    const keyCols: (OutputColumn | undefined)[] = keyExprs.map(() => undefined);
    const values: OutputColumn[] = [];
    const seenKey = new Map<number, string[]>();
    // The item that becomes key ki: one equal to the key expression itself (a join's left column)
    // before one equal to an equivalent (the other side of the join condition).
    // In a join the preferred one is the left join column (ksqlDB names the key after it even in a
    // RIGHT join); its value is always the join key.
    const preferredKey = (ke: TExpr) =>
      from.kind === "Join" && !partitionBy && from.joinKind !== "FOREIGN_KEY" && from.joinType !== "FULL"
        ? exprKey(from.leftExpr)
        : exprKey(ke);
    const keyItem = keyExprs.map((ke, ki) => {
      const exact = items.findIndex((it) => exprKey(it.expr) === preferredKey(ke));
      return exact >= 0 ? exact : items.findIndex((it) => keyKeys[ki]!.includes(exprKey(it.expr)));
    });
    const sameExpr = (a: TExpr, b: TExpr) => exprKey(a) === exprKey(b);
    items.forEach((it, i) => {
      const k = exprKey(it.expr);
      const ki = keyKeys.findIndex((eq) => eq.includes(k));
      if (ki >= 0) {
        const names = seenKey.get(ki) ?? [];
        // Another expression equal to the key (the other side of a join) is an ordinary value.
        if (keyItem[ki] !== i && !sameExpr(items[keyItem[ki]!]!.expr, it.expr)) {
          values.push({
            name: it.name,
            type: it.expr.type,
            namespace: "VALUE",
            expr: lift(it.expr),
          });
          return;
        }
        names.push(it.name);
        seenKey.set(ki, names);
        if (keyItem[ki] === i) {
          keyNames[ki] = it.name;
          keyCols[ki] = {
            name: it.name,
            type: it.expr.type,
            namespace: "KEY",
            // A join's key column holds the join key, whichever side's column names it.
            expr: from.kind === "Join" && !partitionBy ? keyExprs[ki]! : lift(it.expr),
          };
          return;
        }
      }
      values.push({
        name: it.name,
        type: it.expr.type,
        namespace: "VALUE",
        expr: lift(it.expr),
      });
    });
    for (const [ki, names] of seenKey) {
      if (names.length > 1 && persistent) {
        err(
          diags,
          Codes.KEY_NOT_IN_PROJECTION,
          `The projection contains a key column (\`${keyTexts[ki] ?? names[0]}\`) more than once, aliased as: ${names.join(" and ")}.`,
          q.span,
        );
      }
    }
    // `SELECT *` brings the new key along (PARTITION BY, joins).
    if (starSeen)
      keyExprs.forEach((k, i) => {
        if (keyCols[i]) return;
        let name = k.kind === "Column" ? k.name : undefined;
        if (!name || used.has(name)) {
          while (used.has(`KSQL_COL_${counter}`)) counter++;
          name = `KSQL_COL_${counter++}`;
        }
        used.add(name);
        keyNames[i] = name;
        keyCols[i] = { name, type: k.type, namespace: "KEY", expr: k };
      });
    const missing = keyExprs.map((_, i) => i).filter((i) => keyCols[i] === undefined);
    const oldPlanner = opts.properties["ksql.new.query.planner.enabled"] === "false";
    // A value column taking the name of the missing key column would be mistaken for it.
    const shadowed = missing.some((i) => keyTexts[i] !== undefined && values.some((v) => v.name === keyTexts[i]));
    const keyRequired =
      resultType === "TABLE" || partitionBy !== undefined || from.kind === "Join" || oldPlanner || shadowed;
    if (persistent && missing.length && fkLeft) {
      const cols = missing.map((i) => `\`${fkLeft!.columns[i]}\``);
      const many = cols.length > 1;
      err(
        diags,
        Codes.KEY_NOT_IN_PROJECTION,
        `Primary key column${many ? "s" : ""} missing in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (\`${fkLeft.name}\`). Missing column${many ? "s" : ""}: ${cols.join(", ")}.`,
        q.span,
      );
    } else if (persistent && missing.length && keyRequired) {
      const texts = missing.map((i) => keyTexts[i] ?? "?");
      const what = partitionBy ? "partitioning expression" : from.kind === "Join" ? "join expression" : "key column";
      err(
        diags,
        Codes.KEY_NOT_IN_PROJECTION,
        `The query used to build \`${sink}\` must include the ${what}${texts.length > 1 ? "s" : ""} ${from.kind === "Join" ? texts[0] : listText(texts)} in its projection (eg, SELECT ${from.kind === "Join" ? (texts[0] ?? "").split(" or ")[0] : texts.join(", ")}...).`,
        q.span,
      );
    }
    if (partitionBy)
      partitionBy.keyNames = keyExprs.map((k, i) => keyNames[i] ?? (k.kind === "Column" ? k.name : `KSQL_COL_${i}`));
    projection.push(...keyCols.filter((k): k is OutputColumn => k !== undefined), ...values);
  }

  // Duplicate output names.
  const seen = new Map<string, OutputColumn>();
  for (const c of projection) {
    if (seen.has(c.name)) {
      err(
        diags,
        Codes.DUPLICATE_COLUMN,
        `Duplicate value columns found in schema: \`${c.name}\` ${formatType(c.type)}`,
        q.span,
      );
      break;
    }
    seen.set(c.name, c);
  }

  const outWindow = window ?? (aggregation ? undefined : sourceWindow);
  const pull = q.emit === undefined && opts.statementKind === "QUERY";
  if (persistent && q.limit !== undefined)
    err(
      diags,
      Codes.INVALID_QUERY,
      `${opts.statementKind === "CTAS" ? "CREATE TABLE AS SELECT" : opts.statementKind === "CSAS" ? "CREATE STREAM AS SELECT" : "INSERT INTO"} statements don't support LIMIT clause.`,
      q.span,
    );
  if (pull) checkPullQuery(q, from, items, where, opts.properties, diags);
  return {
    from,
    inputColumns,
    resultType,
    ...(where ? { where } : {}),
    ...(partitionBy ? { partitionBy } : {}),
    ...(aggregation ? { aggregation } : {}),
    tableFunctions,
    projection,
    ...(outWindow ? { window: outWindow } : {}),
    ...(q.emit ? { emit: q.emit } : {}),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
    pull,
    sources: sourceNames,
  };
}

/** ksqlDB's restrictions on pull queries (a SELECT without EMIT). */
function checkPullQuery(
  q: Query,
  from: AnalyzedFrom,
  items: readonly Item[],
  where: TExpr | undefined,
  properties: Readonly<Record<string, string>>,
  diags: Diagnostic[],
): void {
  const more = "\nAdd EMIT CHANGES if you intended to issue a push query.";
  if (q.limit !== undefined && String(properties["ksql.query.pull.limit.clause.enabled"]) === "false")
    err(
      diags,
      Codes.INVALID_QUERY,
      `LIMIT clause in pull queries is currently disabled. You can enable them by setting ksql.query.pull.limit.clause.enabled=true. See https://cnfl.io/queries for more info.${more}`,
      q.span,
    );
  if (from.kind === "Join") {
    err(
      diags,
      Codes.INVALID_QUERY,
      `Pull queries don't support JOIN clauses. See https://cnfl.io/queries for more info.${more}`,
      q.from.span,
    );
    return;
  }
  if (q.groupBy || q.window || q.partitionBy) {
    const what = q.groupBy ? "GROUP BY" : q.window ? "WINDOW" : "PARTITION BY";
    err(
      diags,
      Codes.INVALID_QUERY,
      `Pull queries don't support ${what} clauses. See https://cnfl.io/queries for more info.${more}`,
      q.span,
    );
  }
  const s = from.source;
  if (s.sourceType === "TABLE" && !s.isSource && s.writtenBy === undefined)
    err(
      diags,
      Codes.INVALID_QUERY,
      `The \`${s.name}\` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_${s.name} AS SELECT * FROM ${s.name}'. See https://cnfl.io/queries for more info.${more}`,
      q.from.span,
    );
  const disallowed = (e: TExpr) => [...columnsOf(e)].filter((n) => n === "ROWPARTITION" || n === "ROWOFFSET");
  const inSelect = [...new Set(items.flatMap((i) => disallowed(i.expr)))];
  if (inSelect.length)
    err(
      diags,
      Codes.INVALID_QUERY,
      `Pull queries don't support the following columns in SELECT clauses: ${inSelect.map((n) => `\`${n}\``).join(", ")}${more}`,
      q.span,
    );
  if (q.where) checkPullKeys(q.where, s, properties, diags);
  const inWhere = where ? [...new Set(disallowed(where))] : [];
  if (inWhere.length && q.where)
    err(
      diags,
      Codes.INVALID_QUERY,
      `Pull queries don't support the following columns in WHERE clauses: ${inWhere.map((n) => `\`${n}\``).join(", ")}${more}`,
      q.where.span,
    );
}

/** The column names an AST expression references (lambda parameters included; they never name key columns). */
function astColumns(e: unknown, out: string[] = []): string[] {
  if (typeof e !== "object" || e === null) return out;
  if ((e as { kind?: string }).kind === "ColumnRef") out.push((e as { name: string }).name);
  else for (const v of Object.values(e)) astColumns(v, out);
  return out;
}

/** Splits an AST on a logical operator (`a AND (b AND c)` → a, b, c). */
function splitOn(e: Expr, op: "AND" | "OR"): Expr[] {
  return e.kind === "Binary" && e.op === op ? [...splitOn(e.left, op), ...splitOn(e.right, op)] : [e];
}

/**
 * ksqlDB's rules for the key conditions of a pull query's WHERE. Always: an IN on the key lists values of
 * the key's type and no NULL. With `ksql.query.pull.table.scan.enabled=false` every disjunct must look up
 * keys: each key column compared once, with `=` or IN, to an expression of no column; ranges on a single-key,
 * non-windowed table only when range scans are enabled and the WHERE has one disjunct.
 */
function checkPullKeys(
  whereAst: Expr,
  s: CatalogSource,
  properties: Readonly<Record<string, string>>,
  diags: Diagnostic[],
): void {
  const keys = s.columns.filter((c) => c.namespace === "KEY");
  const keyNames = new Set(keys.map((c) => c.name));
  const fail = (message: string) => {
    err(diags, Codes.INVALID_QUERY, message, whereAst.span);
    return true;
  };
  const disjuncts = splitOn(whereAst, "OR");
  // An IN on a key column (whatever the settings).
  for (const c of disjuncts.flatMap((d) => splitOn(d, "AND"))) {
    if (c.kind !== "InList" || c.operand.kind !== "ColumnRef") continue;
    const key = keys.find((k) => k.name === (c.operand as { name: string }).name);
    if (!key) continue;
    for (const it of c.items) {
      if (it.kind !== "Literal") continue;
      if (it.literal === "null") {
        fail(`Primary key columns can not be NULL: (${key.name} = null)`);
        return;
      }
      if (it.literal === "string" && key.type.kind !== "STRING") {
        fail(
          `'${String(it.value)}' can not be converted to the type of the key column: ${key.name} ${formatType(key.type)} KEY`,
        );
        return;
      }
    }
  }
  if (String(properties["ksql.query.pull.table.scan.enabled"]) !== "false") return;
  const rangeScan = String(properties["ksql.query.pull.range.scan.enabled"]) !== "false";
  const keyList = `[${keys.map((k) => `\`${k.name}\` ${formatType(k.type)} KEY`).join(", ")}]`;
  const needScan = "Query requires table scan to be enabled";
  for (const d of disjuncts) {
    const bounds = new Map<string, number>();
    let range = false;
    for (const c of splitOn(d, "AND")) {
      if (c.kind === "Like") return void fail("Like condition must be between strings");
      const refsKey = (e: Expr) => astColumns(e).some((n) => keyNames.has(n));
      let keyName: string | undefined;
      if (c.kind === "InList" && refsKey(c.operand)) {
        if (c.operand.kind !== "ColumnRef") return void fail("A comparison must directly reference a key column.");
        if (c.items.some((i) => astColumns(i).length > 0))
          return void fail("A comparison must be between a key column and a resolvable expression.");
        keyName = c.operand.name;
      } else if (
        c.kind === "Binary" &&
        ["=", "<>", "<", "<=", ">", ">="].includes(c.op) &&
        (refsKey(c.left) || refsKey(c.right))
      ) {
        const [col, other] = refsKey(c.left) ? [c.left, c.right] : [c.right, c.left];
        if (col.kind !== "ColumnRef") return void fail("A comparison must directly reference a key column.");
        if (astColumns(other).length > 0)
          return void fail("A comparison must be between a key column and a resolvable expression.");
        if (c.op === "<>") return void fail(`Bound on key columns '${keyList}' must currently be '='. `);
        if (c.op !== "=") range = true;
        keyName = col.name;
      } else if (c.kind === "Between" && refsKey(c.operand)) {
        if (c.operand.kind !== "ColumnRef") return void fail("A comparison must directly reference a key column.");
        range = true;
        keyName = c.operand.name;
      }
      if (keyName !== undefined) bounds.set(keyName, (bounds.get(keyName) ?? 0) + 1);
    }
    if ([...bounds.values()].some((n) => n > 1))
      return void fail(
        "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate",
      );
    if (bounds.size === 0) {
      const text = exprText(d);
      return void fail(`WHERE clause missing key column for disjunct: ${text.startsWith("(") ? text : `(${text})`}`);
    }
    if (bounds.size < keys.length) return void fail("Multi-column sources must specify every key in the WHERE clause.");
    if (range && (!rangeScan || s.window !== undefined || disjuncts.length > 1 || keys.length > 1))
      return void fail(needScan);
  }
}

const hintOf = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

function listText(texts: string[]): string {
  if (texts.length <= 1) return texts.join("");
  return `${texts.slice(0, -1).join(", ")} and ${texts[texts.length - 1]}`;
}

function firstAggAst(e: Expr): Expr | undefined {
  if (e.kind === "FunctionCall") return e;
  return undefined;
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

export function windowSpec(w: WindowExpr): WindowSpec {
  const extra = {
    ...(w.grace ? { graceMs: w.grace.millis } : {}),
    ...(w.retention ? { retentionMs: w.retention.millis } : {}),
  };
  switch (w.kind) {
    case "TumblingWindow":
      return { type: "TUMBLING", sizeMs: w.size.millis, ...extra };
    case "HoppingWindow":
      return {
        type: "HOPPING",
        sizeMs: w.size.millis,
        advanceMs: w.advance.millis,
        ...extra,
      };
    case "SessionWindow":
      return { type: "SESSION", gapMs: w.gap.millis, ...extra };
  }
}

function windowOf(f: AnalyzedFrom): WindowSpec | undefined {
  if (f.kind === "Source")
    return f.source.window
      ? {
          type: f.source.window.type,
          ...(f.source.window.sizeMs !== undefined ? { sizeMs: f.source.window.sizeMs } : {}),
        }
      : undefined;
  return windowOf(f.left);
}

function sourcesOf(f: AnalyzedFrom): string[] {
  return f.kind === "Source" ? [f.source.name] : [...sourcesOf(f.left), f.right.source.name];
}

function qualifiersOf(f: AnalyzedFrom): string[] {
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

function scopeColumnsOf(f: AnalyzedFrom): ScopeColumn[] {
  return f.kind === "Source" ? sourceScopeColumns(f.alias, f.source) : [...f.columns];
}

/** Columns of one side of a join, named `ALIAS_COL` in the joined row. */
function joinSideColumns(alias: string, s: CatalogSource): ScopeColumn[] {
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
function clashingColumnNames(f: AnalyzedFrom): Set<string> {
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
function qualifierAliases(f: AnalyzedFrom, qualifier: string): string[] {
  return allSources(f)
    .filter((s) => s.alias === qualifier || s.source.name === qualifier)
    .map((s) => s.alias);
}

function joinKeyExpr(j: AnalyzedJoin): TExpr {
  const c = j.columns.find((x) => x.name === j.keyName)!;
  return { kind: "Column", type: c.type, name: c.name };
}

/** The expressions equal to a join's key (for "is the key in the projection"). */
function joinKeyEquivalents(j: AnalyzedJoin): string[] {
  const out = [exprKey(joinKeyExpr(j))];
  if (j.joinKind === "FOREIGN_KEY") return out;
  if (j.joinType !== "FULL") {
    out.push(exprKey(j.leftExpr), exprKey(j.rightExpr));
    if (j.left.kind === "Join" && joinKeyEquivalents(j.left).includes(exprKey(j.leftExpr)))
      out.push(...joinKeyEquivalents(j.left));
  }
  return out;
}

function joinKeyTexts(j: AnalyzedJoin): string {
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

function analyzeFrom(rel: Relation, opts: QueryOptions, diags: Diagnostic[]): AnalyzedFrom | undefined {
  if (rel.kind === "AliasedSource") return analyzeAliased(rel, opts, diags);
  const left = analyzeFrom(rel.left, opts, diags);
  const right = analyzeAliased(rel.right, opts, diags);
  if (!left || !right) return undefined;
  return analyzeJoin(rel, left, right, opts, diags);
}

function analyzeAliased(rel: AliasedSource, opts: QueryOptions, diags: Diagnostic[]): AnalyzedSource | undefined {
  const s = opts.catalog.source(rel.name.value);
  if (!s) {
    err(
      diags,
      Codes.UNKNOWN_SOURCE,
      `${rel.name.value} does not exist.`,
      rel.name.span,
      hintOf(closest(rel.name.value, opts.catalog.sources.keys())),
    );
    return undefined;
  }
  return { kind: "Source", alias: rel.alias?.value ?? s.name, source: s };
}

function allSources(f: AnalyzedFrom): AnalyzedSource[] {
  return f.kind === "Source" ? [f] : [...allSources(f.left), f.right];
}

function typeOfFrom(f: AnalyzedFrom): "STREAM" | "TABLE" {
  return f.kind === "Source" ? f.source.sourceType : f.resultType;
}

function analyzeJoin(
  rel: Extract<Relation, { kind: "Join" }>,
  left: AnalyzedFrom,
  right: AnalyzedSource,
  opts: QueryOptions,
  diags: Diagnostic[],
): AnalyzedJoin | undefined {
  const leftSources = allSources(left);
  const n0 = diags.length;
  if (leftSources.some((s) => s.source.name === right.source.name)) {
    if (left.kind === "Source")
      err(
        diags,
        Codes.INVALID_JOIN,
        `Can not join '${right.source.name}' to '${right.source.name}': self joins are not yet supported.`,
        rel.right.span,
      );
    else
      err(
        diags,
        Codes.INVALID_JOIN,
        `N-way joins do not support multiple occurrences of the same source. Source: '${right.source.name}'`,
        rel.right.span,
      );
    return undefined;
  }
  const leftCols: ScopeColumn[] = left.kind === "Source" ? joinSideColumns(left.alias, left.source) : [...left.columns];
  const rightCols = joinSideColumns(right.alias, right.source);
  const scope: Scope = {
    columns: [...leftCols, ...rightCols],
    qualifiers: new Set([...leftSources.flatMap((s) => [s.alias, s.source.name]), right.alias, right.source.name]),
  };
  const ctx: ExprContext = {
    catalog: opts.catalog,
    functions: opts.functions,
    scope,
    clause: "JOIN ON",
    diags,
    allowAggregates: false,
    allowTableFunctions: false,
  };
  const on = rel.on;
  if (on.kind === "Binary" && on.op === "AND") {
    err(
      diags,
      Codes.INVALID_JOIN,
      `Invalid join condition: joins on multiple conditions are not yet supported. Got ${exprText(on)}.`,
      on.span,
    );
    return undefined;
  }
  if (on.kind !== "Binary" || on.op !== "=") {
    err(
      diags,
      Codes.INVALID_JOIN,
      `Unsupported join expression: ${exprText(on)}. Only equality conditions (a = b) are supported.`,
      on.span,
    );
    return undefined;
  }
  let l = analyzeExpr(on.left, ctx);
  let r = analyzeExpr(on.right, ctx);
  if (diags.length > n0) return undefined;
  const rightNames = new Set(rightCols.map((c) => c.name));
  const srcOf = (e: TExpr): Set<string> => {
    const out = new Set<string>();
    for (const n of columnsOf(e)) {
      const c = scope.columns.find((x) => x.name === n);
      if (c?.qualifier) out.add(c.qualifier);
      else if (n === "ROWKEY") out.add("<join>");
    }
    return out;
  };
  const ls = srcOf(l);
  const rs = srcOf(r);
  const fullText = `(${exprText(on.left)} = ${exprText(on.right)})`;
  if (ls.size !== 1 || rs.size !== 1) {
    const badSide = ls.size !== 1 ? on.left : on.right;
    err(
      diags,
      Codes.INVALID_JOIN,
      `Invalid comparison expression '${exprText(badSide)}' in join '${fullText}'. Each side of the join comparision must contain references from exactly one source.`,
      badSide.span,
    );
    return undefined;
  }
  const lq = [...ls][0]!;
  const rq = [...rs][0]!;
  if (lq === rq) {
    err(
      diags,
      Codes.INVALID_JOIN,
      `Each side of the join must reference exactly one source and not the same source. Left side references \`${lq}\` and right references \`${rq}\``,
      on.span,
    );
    return undefined;
  }
  const refsRight = (e: TExpr) => [...columnsOf(e)].some((n) => rightNames.has(n));
  let leftAst = on.left;
  let rightAst = on.right;
  if (refsRight(l) && !refsRight(r)) {
    [l, r] = [r, l];
    [leftAst, rightAst] = [rightAst, leftAst];
  } else if (!refsRight(r)) {
    err(
      diags,
      Codes.INVALID_JOIN,
      `A join criteria is expected to reference the source (\`${right.alias}\`) in the FROM clause, instead the right source references \`${rq}\` and the left source references \`${lq}\``,
      on.span,
    );
    return undefined;
  }
  // ksqlDB prints join conditions with every column qualified by its source.
  const q = (ref: Extract<Expr, { kind: "ColumnRef" }>) => {
    if (ref.qualifier) return `${ref.qualifier}.${ref.name}`;
    const c = scope.columns.find((x) => x.column === ref.name && x.qualifier !== undefined);
    return c ? `${c.qualifier}.${ref.name}` : ref.name;
  };
  const condText = `${exprText(leftAst, q)} = ${exprText(rightAst, q)}`;
  if (!typeEquals(l.type, r.type)) {
    err(
      diags,
      Codes.INVALID_JOIN,
      `Invalid join condition: types don't match. Got ${exprText(leftAst, q)}{${formatType(l.type)}} = ${exprText(rightAst, q)}{${formatType(r.type)}}.`,
      on.span,
    );
    return undefined;
  }
  const lt = typeOfFrom(left);
  const rt = right.source.sourceType;
  const jt = rel.joinType;
  const jtText = jt === "INNER" ? "[INNER]" : `${jt} [OUTER]`;
  const leftName = left.kind === "Source" ? left.alias : leftSources[leftSources.length - 1]!.alias;
  if (lt === "TABLE" && rt === "STREAM") {
    err(
      diags,
      Codes.INVALID_JOIN,
      `Invalid join order: table-stream joins are not supported; only stream-table joins. Got ${leftName} ${jtText} JOIN ${right.alias}.`,
      rel.span,
    );
    return undefined;
  }
  const rightKeys = right.source.columns.filter((c) => c.namespace === "KEY");
  const isRightKey = r.kind === "Column" && rightKeys.length === 1 && r.name === `${right.alias}_${rightKeys[0]!.name}`;
  let isLeftKey: boolean;
  if (left.kind === "Source") {
    const lk = left.source.columns.filter((c) => c.namespace === "KEY");
    isLeftKey = l.kind === "Column" && lk.length === 1 && l.name === `${left.alias}_${lk[0]!.name}`;
  } else {
    isLeftKey = joinKeyEquivalents(left).includes(exprKey(l));
  }
  let joinKind: JoinKind;
  if (lt === "STREAM" && rt === "STREAM") {
    joinKind = "STREAM_STREAM";
    if (!rel.within) {
      err(
        diags,
        Codes.INVALID_JOIN,
        "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
        rel.span,
      );
      return undefined;
    }
  } else if (lt === "STREAM") {
    joinKind = "STREAM_TABLE";
    if (rel.within) {
      err(
        diags,
        Codes.INVALID_JOIN,
        "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to resubmit your query.",
        rel.within.span,
      );
      return undefined;
    }
    if (!isRightKey) {
      err(
        diags,
        Codes.INVALID_JOIN,
        `Invalid join condition: stream-table joins require to join on the table's primary key. Got ${condText}.`,
        on.span,
      );
      return undefined;
    }
    if (jt === "RIGHT" || jt === "FULL") {
      err(
        diags,
        Codes.INVALID_JOIN,
        `Invalid join type: ${jt === "FULL" ? "full-outer" : "right-outer"} join not supported for stream-table join. Got ${leftName} ${jtText} JOIN ${right.alias}.`,
        rel.span,
      );
      return undefined;
    }
  } else {
    if (rel.within) {
      err(
        diags,
        Codes.INVALID_JOIN,
        "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop the window definition (i.e. the WITHIN clause) and try to resubmit your query.",
        rel.within.span,
      );
      return undefined;
    }
    if (!isRightKey) {
      err(
        diags,
        Codes.INVALID_JOIN,
        `Invalid join condition: table-table joins require to join on the primary key of the right input table. Got ${condText}.`,
        on.span,
      );
      return undefined;
    }
    if (isLeftKey) joinKind = "TABLE_TABLE";
    else {
      joinKind = "FOREIGN_KEY";
      if (left.kind === "Join") {
        err(
          diags,
          Codes.INVALID_JOIN,
          `Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got ${condText}.`,
          on.span,
        );
        return undefined;
      }
      if (jt === "RIGHT" || jt === "FULL") {
        err(
          diags,
          Codes.INVALID_JOIN,
          `${jt === "RIGHT" ? "RIGHT" : "FULL"} OUTER JOIN on a foreign key is not supported`,
          rel.span,
        );
        return undefined;
      }
    }
  }
  const leftWindowed = leftSources.some((s) => s.source.window);
  const rightWindowed = right.source.window !== undefined;
  const repartitionLeft = lt === "STREAM" && !isLeftKey;
  const repartitionRight = rt === "STREAM" && !isRightKey;
  if (leftWindowed !== rightWindowed) {
    const w = leftWindowed ? leftSources.find((s) => s.source.window)! : right;
    const o = leftWindowed ? right : leftSources[0]!;
    err(
      diags,
      Codes.INVALID_JOIN,
      `Can not join windowed source to non-windowed source. \`${w.alias}\` is ${w.source.window!.type} windowed \`${o.alias}\` is not windowed`,
      rel.span,
    );
    return undefined;
  }
  if (leftWindowed && rightWindowed) {
    const a = leftSources.find((s) => s.source.window)!.source.window!;
    const b = right.source.window!;
    if ((a.type === "SESSION") !== (b.type === "SESSION")) {
      err(
        diags,
        Codes.INVALID_JOIN,
        `Incompatible windowed sources. Left source: ${a.type} Right source: ${b.type} Session windowed sources can only be joined to other session windowed sources, and may still not result in expected behaviour as session bounds must be an exact match for the join to work Hopping and tumbling windowed sources can only be joined to other hopping and tumbling windowed sources`,
        rel.span,
      );
      return undefined;
    }
    if (repartitionLeft || repartitionRight || a.type !== b.type || a.sizeMs !== b.sizeMs) {
      err(
        diags,
        Codes.INVALID_JOIN,
        "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        rel.span,
      );
      return undefined;
    }
  }
  // Co-partitioning: without a repartition both sides must have as many partitions (when both are known).
  if (!repartitionLeft && !repartitionRight && joinKind !== "FOREIGN_KEY") {
    const lp = left.kind === "Source" ? left.source.partitions : undefined;
    const rp = right.source.partitions;
    if (lp !== undefined && rp !== undefined && lp !== rp) {
      const ln = (left as AnalyzedSource).source.name;
      err(
        diags,
        Codes.INVALID_JOIN,
        `Can't join ${ln} with ${right.source.name} since the number of partitions don't match. ${ln} partitions = ${lp}; ${right.source.name} partitions = ${rp}. Please repartition either one so that the number of partitions match.`,
        rel.span,
      );
      return undefined;
    }
  }
  // The joined row's key: the left join column when it is a plain column (and not FULL), else a synthetic ROWKEY.
  const synthetic =
    joinKind !== "FOREIGN_KEY" && (jt === "FULL" || l.kind !== "Column" || (jt === "RIGHT" && r.kind !== "Column"));
  let keyName: string;
  const columns: ScopeColumn[] = [];
  if (joinKind === "FOREIGN_KEY") {
    keyName = `${(left as AnalyzedSource).alias}_${(left as AnalyzedSource).source.columns.find((c) => c.namespace === "KEY")!.name}`;
  } else if (synthetic) {
    keyName = "ROWKEY";
    columns.push({
      name: "ROWKEY",
      column: "ROWKEY",
      type: l.type,
      namespace: "KEY",
    });
  } else keyName = jt === "RIGHT" && r.kind === "Column" ? r.name : (l as { name: string }).name;
  const joinedPseudo = [
    ...PSEUDO_COLUMNS,
    ...(leftWindowed ? WINDOW_BOUNDS.map((w) => ({ name: w, type: BIGINT })) : []),
  ];
  for (const p of joinedPseudo)
    columns.push({
      name: p.name,
      column: p.name,
      type: p.type,
      namespace: "PSEUDO",
    });
  for (const c of [...leftCols, ...rightCols]) {
    if (c.name === "ROWKEY" && synthetic) continue;
    if (columns.some((x) => x.name === c.name && x.qualifier === c.qualifier)) continue;
    // A foreign-key join keeps the left table's whole primary key.
    const isKey =
      c.name === keyName ||
      (joinKind === "FOREIGN_KEY" && c.qualifier === (left as AnalyzedSource).alias && c.namespace === "KEY");
    columns.push({
      ...c,
      namespace: c.namespace === "PSEUDO" ? "PSEUDO" : isKey ? "KEY" : "VALUE",
    });
  }
  return {
    kind: "Join",
    joinType: jt,
    joinKind,
    left,
    right,
    leftExpr: l,
    rightExpr: r,
    ...(rel.within
      ? {
          within: {
            beforeMs: rel.within.before.millis,
            afterMs: rel.within.after.millis,
            ...(rel.within.grace ? { graceMs: rel.within.grace.millis } : {}),
          },
        }
      : {}),
    resultType: lt === "TABLE" && rt === "TABLE" ? "TABLE" : "STREAM",
    repartitionLeft,
    repartitionRight,
    columns,
    keyName,
  };
}
