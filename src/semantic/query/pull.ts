/** ksqlDB's restrictions on pull queries (a SELECT without EMIT) and on the key conditions of their WHERE. */
import type { Expr, Query } from "../../ast/nodes.ts";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import { formatType } from "../../types/sqltype.ts";
import type { AnalyzedFrom } from "../analyzed.ts";
import type { CatalogSource } from "../catalog.ts";
import { Codes } from "../codes.ts";
import { exprText } from "../exprText.ts";
import { columnsOf, type TExpr } from "../typed.ts";
import { err, type Item } from "./context.ts";
import { PROPERTIES } from "../../plan/properties.ts";

/** ksqlDB's restrictions on pull queries (a SELECT without EMIT). */
export function checkPullQuery(
  q: Query,
  from: AnalyzedFrom,
  items: readonly Item[],
  where: TExpr | undefined,
  properties: Readonly<Record<string, string>>,
  diags: Diagnostic[],
): void {
  const more = "\nAdd EMIT CHANGES if you intended to issue a push query.";
  if (q.limit !== undefined && String(properties[PROPERTIES.pullLimitClause]) === "false")
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
  if (String(properties[PROPERTIES.pullTableScan]) !== "false") return;
  const rangeScan = String(properties[PROPERTIES.pullRangeScan]) !== "false";
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
