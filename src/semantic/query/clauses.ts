/** The clauses around the SELECT list: WINDOW, WHERE, GROUP BY, HAVING, PARTITION BY, and the result type. */
import type { WindowExpr } from "../../ast/nodes.ts";
import { formatType } from "../../types/sqltype.ts";
import type { WindowSpec } from "../analyzed.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type Scope } from "../expressions.ts";
import { exprText } from "../exprText.ts";
import { windowTimes } from "../../plan/window.ts";
import type { TExpr } from "../typed.ts";
import { err, type QueryContext } from "./context.ts";
import { allSources } from "./sources.ts";

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

/** WINDOW: needs a GROUP BY and a STREAM as input. */
export function analyzeWindow({ q, diags, isTableInput }: QueryContext): WindowSpec | undefined {
  if (!q.window) return undefined;
  const window = windowSpec(q.window);
  if (!q.groupBy) err(diags, Codes.INVALID_WINDOW, "WINDOW clause requires a GROUP BY clause.", q.window.span);
  if (isTableInput)
    err(
      diags,
      Codes.INVALID_WINDOW,
      "WINDOW clause is not supported on tables: windowed aggregations need a STREAM as input.",
      q.window.span,
    );
  const retention = q.window.retention;
  if (retention) {
    // Kafka Streams refuses a window store whose retention is shorter than size + grace (gap + grace for
    // sessions): the windows that may still change must be kept.
    const { graceMs } = windowTimes(window, q.emit === "FINAL");
    const extent = (window.type === "SESSION" ? window.gapMs : window.sizeMs) ?? 0;
    if (retention.millis < extent + graceMs)
      err(
        diags,
        Codes.INVALID_WINDOW,
        `RETENTION ${retention.value} ${retention.unit} is shorter than the window's ${window.type === "SESSION" ? "gap" : "size"} ` +
          `plus its grace period (${millisText(extent)} + ${millisText(graceMs)}${q.window.grace ? "" : ", the default grace"}): ` +
          "windows that can still change must be kept.",
        retention.span,
        `give a RETENTION of at least ${millisText(extent + graceMs)}, or a shorter GRACE PERIOD`,
      );
  }
  return window;
}

/** A duration in the largest unit that divides it: `90000` → `90 SECONDS`, `86400000` → `1 DAY`. */
function millisText(ms: number): string {
  const units: [string, number][] = [
    ["DAY", 86_400_000],
    ["HOUR", 3_600_000],
    ["MINUTE", 60_000],
    ["SECOND", 1000],
  ];
  for (const [name, size] of units)
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms / size === 1 ? "" : "S"}`;
  return `${ms} MILLISECONDS`;
}

/** WHERE: a boolean over the input row. */
export function analyzeWhere(qc: QueryContext): TExpr | undefined {
  const { q, diags } = qc;
  if (!q.where) return undefined;
  const where = analyzeExpr(q.where, qc.exprContext("WHERE", false));
  if (where.type.kind !== "BOOLEAN" && where.type.kind !== "NULL")
    err(
      diags,
      Codes.TYPE_MISMATCH,
      `Type error in WHERE expression: Should evaluate to boolean but is ${exprText(q.where)} (${formatType(where.type)}) instead.`,
      q.where.span,
    );
  return where;
}

/** GROUP BY: expressions over the input row. */
export function analyzeGroupBy(qc: QueryContext): TExpr[] | undefined {
  const { q, diags } = qc;
  if (!q.groupBy) return undefined;
  if (q.groupBy.length === 0) err(diags, Codes.INVALID_QUERY, "GROUP BY requires at least one expression", q.span);
  return q.groupBy.map((g) => analyzeExpr(g, qc.exprContext("GROUP BY", false)));
}

/** HAVING: a boolean typed like SELECT (aggregates are rewritten with the aggregation). */
export function analyzeHaving(qc: QueryContext, selectScope: Scope): TExpr | undefined {
  const { q, diags } = qc;
  if (!q.having) return undefined;
  if (!q.groupBy) err(diags, Codes.INVALID_QUERY, "HAVING clause requires a GROUP BY clause.", q.having.span);
  const having = analyzeExpr(q.having, qc.exprContext("HAVING", true, false, selectScope));
  if (having.type.kind !== "BOOLEAN" && having.type.kind !== "NULL")
    err(
      diags,
      Codes.TYPE_MISMATCH,
      `Type error in HAVING expression: Should evaluate to boolean but is ${exprText(q.having)} (${formatType(having.type)}) instead.`,
      q.having.span,
    );
  return having;
}

/**
 * PARTITION BY: a stream's new key, expressions over the input row (`PARTITION BY NULL`: no key). The key's
 * names come with the projection (`keyNames` is filled in then).
 */
export function analyzePartitionBy(
  qc: QueryContext,
  isAggregate: boolean,
): { exprs: TExpr[]; keyNames: string[] } | undefined {
  const { q, diags } = qc;
  if (!q.partitionBy) return undefined;
  if (qc.isTableInput)
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
  const pctx = qc.exprContext("PARTITION BY", false);
  const exprs = q.partitionBy.map((p) => analyzeExpr(p, pctx));
  // PARTITION BY NULL: a stream without key.
  const isNull = exprs.length === 1 && exprs[0]!.kind === "Literal" && exprs[0]!.value === null;
  return { exprs: isNull ? [] : exprs, keyNames: [] };
}

/** ksqlDB's KAFKA value format cannot carry aggregation or join state. */
export function checkKafkaValueFormat({ q, diags, from }: QueryContext): void {
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
}

/** A query's result is a TABLE when it aggregates or reads a table; CSAS wants a STREAM, CTAS a TABLE. */
export function resultTypeOf({ q, opts, diags, isTableInput }: QueryContext, isAggregate: boolean): "STREAM" | "TABLE" {
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
  return resultType;
}
