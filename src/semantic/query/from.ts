/**
 * FROM: sources and joins, with ksqlDB's rules for join conditions, join kinds (stream-stream, stream-table,
 * table-table, foreign key), windowed sources, co-partitioning, and the joined row's columns and key.
 */
import type { AliasedSource, Expr, Relation } from "../../ast/nodes.ts";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import { BIGINT, formatType, typeEquals } from "../../types/sqltype.ts";
import type { AnalyzedFrom, AnalyzedJoin, AnalyzedSource, JoinKind } from "../analyzed.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext, type Scope, type ScopeColumn } from "../expressions.ts";
import { closest, exprText } from "../exprText.ts";
import { columnsOf, exprKey, type TExpr } from "../typed.ts";
import { err, hintOf, type QueryOptions } from "./context.ts";
import {
  PSEUDO_COLUMNS,
  WINDOW_BOUNDS,
  allSources,
  joinKeyEquivalents,
  joinSideColumns,
  typeOfFrom,
} from "./sources.ts";

/** Resolves a FROM clause. Undefined when a source is unknown or a join is invalid (after reporting why). */
export function analyzeFrom(rel: Relation, opts: QueryOptions, diags: Diagnostic[]): AnalyzedFrom | undefined {
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

type JoinRelation = Extract<Relation, { kind: "Join" }>;

function analyzeJoin(
  rel: JoinRelation,
  left: AnalyzedFrom,
  right: AnalyzedSource,
  opts: QueryOptions,
  diags: Diagnostic[],
): AnalyzedJoin | undefined {
  const leftSources = allSources(left);
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
  const cond = analyzeJoinCondition(rel, right, scope, rightCols, opts, diags);
  if (!cond) return undefined;
  const { l, r } = cond;
  const kind = joinKindOf(rel, left, right, cond, diags);
  if (!kind) return undefined;
  const { joinKind, isLeftKey, isRightKey } = kind;
  const lt = typeOfFrom(left);
  const rt = right.source.sourceType;
  const jt = rel.joinType;
  const leftWindowed = leftSources.some((s) => s.source.window);
  const repartitionLeft = lt === "STREAM" && !isLeftKey;
  const repartitionRight = rt === "STREAM" && !isRightKey;
  if (!checkPartitioning(rel, left, right, joinKind, repartitionLeft, repartitionRight, diags)) return undefined;
  const { keyName, columns } = joinedColumns(jt, left, joinKind, cond, [...leftCols, ...rightCols], leftWindowed);
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

/** A join's `ON l = r`, typed, with `r` the side that references the joined (right) source. */
interface JoinCondition {
  readonly l: TExpr;
  readonly r: TExpr;
  /** The condition as ksqlDB prints it in messages, every column qualified by its source. */
  readonly condText: string;
}

/**
 * Types and checks a join condition: one equality, each side referencing exactly one source, one of them the
 * right source, both of the same type. Undefined after reporting what is wrong.
 */
function analyzeJoinCondition(
  rel: JoinRelation,
  right: AnalyzedSource,
  scope: Scope,
  rightCols: readonly ScopeColumn[],
  opts: QueryOptions,
  diags: Diagnostic[],
): JoinCondition | undefined {
  const n0 = diags.length;
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
  return { l, r, condText };
}

/**
 * The kind of a join from its sides' types and whether it joins on their keys, with ksqlDB's rules for each
 * kind (WITHIN, join types, the right table's primary key). Undefined after reporting what is wrong.
 */
function joinKindOf(
  rel: JoinRelation,
  left: AnalyzedFrom,
  right: AnalyzedSource,
  { l, r, condText }: JoinCondition,
  diags: Diagnostic[],
): { joinKind: JoinKind; isLeftKey: boolean; isRightKey: boolean } | undefined {
  const on = rel.on;
  const leftSources = allSources(left);
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
  return { joinKind, isLeftKey, isRightKey };
}

/**
 * Windowed sources join only windowed sources of a compatible window, without a repartition; without a
 * repartition both sides need as many partitions (when both are known). False after reporting what is wrong.
 */
function checkPartitioning(
  rel: JoinRelation,
  left: AnalyzedFrom,
  right: AnalyzedSource,
  joinKind: JoinKind,
  repartitionLeft: boolean,
  repartitionRight: boolean,
  diags: Diagnostic[],
): boolean {
  const leftSources = allSources(left);
  const leftWindowed = leftSources.some((s) => s.source.window);
  const rightWindowed = right.source.window !== undefined;
  if (leftWindowed !== rightWindowed) {
    const w = leftWindowed ? leftSources.find((s) => s.source.window)! : right;
    const o = leftWindowed ? right : leftSources[0]!;
    err(
      diags,
      Codes.INVALID_JOIN,
      `Can not join windowed source to non-windowed source. \`${w.alias}\` is ${w.source.window!.type} windowed \`${o.alias}\` is not windowed`,
      rel.span,
    );
    return false;
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
      return false;
    }
    if (repartitionLeft || repartitionRight || a.type !== b.type || a.sizeMs !== b.sizeMs) {
      err(
        diags,
        Codes.INVALID_JOIN,
        "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        rel.span,
      );
      return false;
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
      return false;
    }
  }
  return true;
}

/**
 * The joined row: its key column (the left join column when it is a plain column and the join is not FULL,
 * else a synthetic ROWKEY; a foreign-key join keeps the left table's whole primary key), the joined record's
 * pseudo columns, then both sides' columns.
 */
function joinedColumns(
  jt: JoinRelation["joinType"],
  left: AnalyzedFrom,
  joinKind: JoinKind,
  { l, r }: JoinCondition,
  sideCols: readonly ScopeColumn[],
  leftWindowed: boolean,
): { keyName: string; columns: ScopeColumn[] } {
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
  for (const c of sideCols) {
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
  return { keyName, columns };
}
