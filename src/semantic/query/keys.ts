/**
 * Queries that do not aggregate: the result's key (PARTITION BY expressions, a join's key, a foreign-key
 * join's left primary key, or the source's key), named by the projection items equal to it, and table
 * function calls lifted into `KSQL_SYNTH_<n>` columns.
 */
import type { AnalyzedSource, OutputColumn } from "../analyzed.ts";
import { Codes } from "../codes.ts";
import { exprText } from "../exprText.ts";
import { exprKey, mapExpr, type TExpr } from "../typed.ts";
import { err, listText, type GeneratedNames, type Item, type QueryContext } from "./context.ts";
import { joinKeyEquivalents, joinKeyExpr, joinKeyTexts } from "./sources.ts";
import { PROPERTIES } from "../../plan/properties.ts";

export type TableFunctionColumn = { name: string; call: Extract<TExpr, { kind: "TableFunctionCall" }> };

/** The key of a query that does not aggregate: its expressions, their texts for messages, and their equivalents. */
interface ResultKey {
  readonly keyExprs: TExpr[];
  readonly keyTexts: string[];
  /** Per key, the `exprKey`s of the expressions equal to it (a join's both sides). */
  readonly equivalents?: string[][];
  /** A foreign-key join's left table and its primary key columns. */
  readonly fkLeft?: { name: string; columns: string[] };
}

function resultKey(qc: QueryContext, partitionBy: { exprs: TExpr[] } | undefined): ResultKey {
  const { q, from } = qc;
  if (partitionBy) return { keyExprs: partitionBy.exprs, keyTexts: (q.partitionBy ?? []).map((x) => exprText(x)) };
  if (from.kind === "Join" && from.joinKind === "FOREIGN_KEY") {
    // The left table's primary key columns, each needed in the projection.
    const lt = from.left as AnalyzedSource;
    const ks = lt.source.columns.filter((c) => c.namespace === "KEY");
    return {
      keyExprs: ks.map(
        (c) =>
          ({
            kind: "Column",
            type: c.type,
            name: `${lt.alias}_${c.name}`,
          }) as TExpr,
      ),
      keyTexts: ks.map((c) => `${lt.alias}.${c.name}`),
      fkLeft: { name: lt.source.name, columns: ks.map((c) => c.name) },
    };
  }
  if (from.kind === "Join")
    return { keyExprs: [joinKeyExpr(from)], equivalents: [joinKeyEquivalents(from)], keyTexts: [joinKeyTexts(from)] };
  const ks = from.source.columns.filter((c) => c.namespace === "KEY");
  return {
    keyExprs: ks.map((c) => ({ kind: "Column", type: c.type, name: c.name }) as TExpr),
    keyTexts: ks.map((c) => c.name),
  };
}

/**
 * The projection (keys first) of a query that does not aggregate, and its table function columns. Fills in
 * `partitionBy.keyNames`.
 */
export function keyedProjection(
  qc: QueryContext,
  items: readonly Item[],
  partitionBy: { exprs: TExpr[]; keyNames: string[] } | undefined,
  resultType: "STREAM" | "TABLE",
  starSeen: boolean,
  names: GeneratedNames,
): { projection: OutputColumn[]; tableFunctions: TableFunctionColumn[] } {
  const { q, opts, diags, from, persistent } = qc;
  const sink = opts.sinkName ?? "";
  const tableFunctions: TableFunctionColumn[] = [];
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
  const { keyExprs, keyTexts, equivalents, fkLeft } = resultKey(qc, partitionBy);
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
      const aliases = seenKey.get(ki) ?? [];
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
      aliases.push(it.name);
      seenKey.set(ki, aliases);
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
  for (const [ki, aliases] of seenKey) {
    if (aliases.length > 1 && persistent) {
      err(
        diags,
        Codes.KEY_NOT_IN_PROJECTION,
        `The projection contains a key column (\`${keyTexts[ki] ?? aliases[0]}\`) more than once, aliased as: ${aliases.join(" and ")}.`,
        q.span,
      );
    }
  }
  // `SELECT *` brings the new key along (PARTITION BY, joins).
  if (starSeen)
    keyExprs.forEach((k, i) => {
      if (keyCols[i]) return;
      const own = k.kind === "Column" ? k.name : undefined;
      const name = own && !names.used.has(own) ? own : names.fresh();
      names.used.add(name);
      keyNames[i] = name;
      keyCols[i] = { name, type: k.type, namespace: "KEY", expr: k };
    });
  const missing = keyExprs.map((_, i) => i).filter((i) => keyCols[i] === undefined);
  const oldPlanner = opts.properties[PROPERTIES.newQueryPlanner] === "false";
  // A value column taking the name of the missing key column would be mistaken for it.
  const shadowed = missing.some((i) => keyTexts[i] !== undefined && values.some((v) => v.name === keyTexts[i]));
  const keyRequired =
    resultType === "TABLE" || partitionBy !== undefined || from.kind === "Join" || oldPlanner || shadowed;
  if (persistent && missing.length && fkLeft) {
    const cols = missing.map((i) => `\`${fkLeft.columns[i]}\``);
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
  return { projection: [...keyCols.filter((k): k is OutputColumn => k !== undefined), ...values], tableFunctions };
}
