/**
 * Query analysis: FROM (sources, joins), SELECT, WHERE, GROUP BY, WINDOW, HAVING, PARTITION BY, EMIT, LIMIT,
 * with ksqlDB's rules for keys, aggregation, windows and joins. Produces an {@link AnalyzedQuery}.
 * The parts live in `query/`: FROM and joins (`from.ts`, over `sources.ts`), the SELECT list (`select.ts`),
 * the other clauses (`clauses.ts`), aggregation (`aggregation.ts`), the key of other queries (`keys.ts`),
 * pull-query rules (`pull.ts`).
 */
import type { AliasedSource, Query, Relation } from "../ast/nodes.ts";
import { analyzeExpr } from "./expressions.ts";
import type { TExpr } from "./typed.ts";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { formatType } from "../types/sqltype.ts";
import type { AnalyzedAggregation, AnalyzedFrom, AnalyzedQuery, OutputColumn } from "./analyzed.ts";
import { Codes } from "./codes.ts";
import type { Clause, ExprContext, Scope } from "./expressions.ts";
import { someExpr } from "./typed.ts";
import { analyzeAggregation, hasAggregate } from "./query/aggregation.ts";
import {
  analyzeGroupBy,
  analyzeHaving,
  analyzePartitionBy,
  analyzeWhere,
  analyzeWindow,
  checkKafkaValueFormat,
  resultTypeOf,
} from "./query/clauses.ts";
import { err, type QueryContext, type QueryOptions } from "./query/context.ts";
import { analyzeFrom } from "./query/from.ts";
import { keyedProjection, type TableFunctionColumn } from "./query/keys.ts";
import { checkPullQuery } from "./query/pull.ts";
import { analyzeSelect, selectScopeOf } from "./query/select.ts";
import { qualifiersOf, scopeColumnsOf, sourcesOf, windowOf } from "./query/sources.ts";

export { RESERVED_NAMES } from "./query/sources.ts";

/** Analyzes a query. Returns undefined when FROM itself could not be resolved. */
export function analyzeQuery(q: Query, opts: QueryOptions, diags: Diagnostic[]): AnalyzedQuery | undefined {
  const diagsAtStart = diags.length;
  const from = analyzeFrom(q.from, opts, diags);
  if (!from) return undefined;
  const qc = queryContext(q, opts, diags, from);
  const { persistent, isTableInput } = qc;
  const sourceWindow = windowOf(from);

  if (persistent && sourceWindow && from.kind === "Source" && from.source.sourceType === "TABLE" && !q.groupBy)
    err(diags, Codes.INVALID_QUERY, "KSQL does not support persistent queries on windowed tables.", q.from.span);
  const window = analyzeWindow(qc);
  const where = analyzeWhere(qc);
  // SELECT (typed over the input row; aggregates and table functions are rewritten below).
  const windowedAgg = q.window !== undefined;
  const selectScope = selectScopeOf(qc);
  const { items, starSeen, names } = analyzeSelect(qc, selectScope);
  const anyAggInSelect = items.some((i) => hasAggregate(i.expr));
  const groupBy = analyzeGroupBy(qc);
  const havingRaw = analyzeHaving(qc, selectScope);
  const isAggregate = groupBy !== undefined || anyAggInSelect || (havingRaw !== undefined && hasAggregate(havingRaw));

  if (items.some((i) => someExpr(i.expr, (x) => x.kind === "TableFunctionCall"))) {
    if (isAggregate)
      err(diags, Codes.TABLE_FUNCTION_NOT_ALLOWED, "Table functions cannot be used with aggregations.", q.span);
    if (isTableInput)
      err(diags, Codes.TABLE_FUNCTION_NOT_ALLOWED, "Table source is not supported with table functions", q.from.span);
  }
  if (q.emit === "FINAL" && !windowedAgg)
    err(diags, Codes.INVALID_QUERY, "EMIT FINAL is only supported for windowed aggregations.", q.span);
  const partitionBy = analyzePartitionBy(qc, isAggregate);
  checkKafkaValueFormat(qc);
  const resultType = resultTypeOf(qc, isAggregate);

  let projection: OutputColumn[];
  let aggregation: AnalyzedAggregation | undefined;
  let tableFunctions: TableFunctionColumn[] = [];
  if (isAggregate)
    ({ projection, aggregation } = analyzeAggregation(qc, items, {
      groupBy,
      havingRaw,
      window,
      anyAggInSelect,
      diagsAtStart,
    }));
  else ({ projection, tableFunctions } = keyedProjection(qc, items, partitionBy, resultType, starSeen, names));
  checkDuplicateNames(qc, projection);

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
  const asOf = analyzeAsOf(qc, pull);
  return {
    from,
    inputColumns: qc.inputColumns,
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
    ...(asOf ? { asOf } : {}),
    sources: sourcesOf(from),
  };
}

/**
 * `FROM t FOR SYSTEM_TIME AS OF <time>`: only in a pull query, on one table declared with `HISTORY_RETENTION`;
 * the time is a constant TIMESTAMP, BIGINT epoch milliseconds, or an ISO-8601 STRING (evaluated when it runs).
 */
function analyzeAsOf(qc: QueryContext, pull: boolean): TExpr | undefined {
  const { q, diags, from } = qc;
  const sources: AliasedSource[] = [];
  const collect = (r: Relation) => {
    if (r.kind === "AliasedSource") sources.push(r);
    else {
      collect(r.left);
      sources.push(r.right);
    }
  };
  collect(q.from);
  const at = sources.find((s) => s.asOf !== undefined);
  if (!at) return undefined;
  const bad = (message: string) => (err(diags, Codes.INVALID_QUERY, message, at.asOf!.span), undefined);
  if (!pull) return bad("FOR SYSTEM_TIME AS OF is for pull queries (a SELECT without EMIT CHANGES)");
  if (from.kind !== "Source") return bad("FOR SYSTEM_TIME AS OF reads one table: pull queries have no joins");
  if (from.source.historyMs === undefined)
    return bad(
      `${from.source.name} keeps no history: create it with WITH (HISTORY_RETENTION = '7 DAYS') to read it FOR SYSTEM_TIME AS OF a time`,
    );
  const e = analyzeExpr(at.asOf!, qc.exprContext("EXPRESSION", false, false, { columns: [], qualifiers: new Set() }));
  if (!["TIMESTAMP", "BIGINT", "INTEGER", "STRING", "NULL"].includes(e.type.kind))
    return bad(
      `FOR SYSTEM_TIME AS OF takes a TIMESTAMP, epoch milliseconds or an ISO-8601 string, not ${formatType(e.type)}`,
    );
  return e;
}

function queryContext(q: Query, opts: QueryOptions, diags: Diagnostic[], from: AnalyzedFrom): QueryContext {
  const inputColumns = scopeColumnsOf(from);
  const qualifiers = new Set<string>(qualifiersOf(from));
  const scope: Scope = { columns: inputColumns, qualifiers };
  return {
    q,
    opts,
    diags,
    from,
    inputColumns,
    qualifiers,
    scope,
    persistent: opts.sinkName !== undefined,
    isTableInput: from.kind === "Source" ? from.source.sourceType === "TABLE" : from.resultType === "TABLE",
    exprContext: (clause: Clause, aggregates: boolean, tableFns = false, s: Scope = scope): ExprContext => ({
      catalog: opts.catalog,
      functions: opts.functions,
      scope: s,
      clause,
      diags,
      allowAggregates: aggregates,
      allowTableFunctions: tableFns,
    }),
  };
}

/** Two output columns of one name. */
function checkDuplicateNames({ q, diags }: QueryContext, projection: readonly OutputColumn[]): void {
  const seen = new Set<string>();
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
    seen.add(c.name);
  }
}
