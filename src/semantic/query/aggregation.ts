/**
 * GROUP BY queries: the result's key (named by the projection items equal to the grouping expressions),
 * aggregates deduplicated into `KSQL_AGG_VARIABLE_<n>` columns, SELECT and HAVING rewritten over them.
 */
import type { Expr } from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/diagnostic.ts";
import { lifecycleProblem } from "../../functions/user.ts";
import type { AggregateColumn, AnalyzedAggregation, OutputColumn, WindowSpec } from "../analyzed.ts";
import { Codes } from "../codes.ts";
import { exprText } from "../exprText.ts";
import { exprKey, mapExpr, someExpr, type TExpr } from "../typed.ts";
import { err, listText, type Item, type QueryContext } from "./context.ts";
import { WINDOW_BOUNDS, allSources } from "./sources.ts";

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

export const hasAggregate = (e: TExpr) => someExpr(e, (x) => x.kind === "AggregateCall");

/** What an aggregating query has besides its SELECT items. */
export interface AggregationInput {
  readonly groupBy: TExpr[] | undefined;
  /** HAVING as typed over the input row. */
  readonly havingRaw: TExpr | undefined;
  readonly window: WindowSpec | undefined;
  readonly anyAggInSelect: boolean;
  /** How many diagnostics there were when the query's analysis started. */
  readonly diagsAtStart: number;
}

/** The projection (keys first) and the aggregation of a GROUP BY query (or a transient one over a whole stream). */
export function analyzeAggregation(
  qc: QueryContext,
  items: readonly Item[],
  { groupBy, havingRaw, window, anyAggInSelect, diagsAtStart }: AggregationInput,
): { projection: OutputColumn[]; aggregation: AnalyzedAggregation } {
  const { q, opts, diags, from, persistent } = qc;
  const sink = opts.sinkName ?? "";
  const windowedAgg = q.window !== undefined;
  const gb = groupBy ?? [];
  // A transient query may aggregate the whole stream (one group); persistent ones need GROUP BY.
  if (!groupBy && persistent) {
    const first = items.find((i) => hasAggregate(i.expr));
    const aggText = first?.ast ? exprText(firstAggAst(first.ast) ?? first.ast) : "";
    err(
      diags,
      Codes.INVALID_QUERY,
      `${opts.statementKind === "CTAS" ? "CREATE TABLE AS SELECT statement" : "A query"} does not support aggregate function [${aggText}] without a GROUP BY clause.`,
      q.span,
    );
  }
  // Not after another error: an unknown aggregate function would look like "no aggregate".
  if (groupBy && !anyAggInSelect && !(havingRaw && hasAggregate(havingRaw)) && diags.length === diagsAtStart)
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
  const projection = [...keys.filter((k): k is OutputColumn => k !== undefined), ...values];
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
  for (const a of aggregates) {
    const m = lifecycleProblem(opts.functions.get(a.call.name), qc.isTableInput, window?.type === "SESSION");
    if (m) err(diags, Codes.INVALID_QUERY, m, q.span);
  }
  const aggregation: AnalyzedAggregation = {
    groupBy: gb,
    keyNames,
    aggregates,
    ...(window ? { window } : {}),
    ...(having ? { having } : {}),
    fromTable: qc.isTableInput,
  };
  return { projection, aggregation };
}

function firstAggAst(e: Expr): Expr | undefined {
  if (e.kind === "FunctionCall") return e;
  return undefined;
}
