/**
 * Builds the plan of a bare SELECT (`src/plan/select.ts`): a pull query on a materialized table becomes a read
 * of its store along an access path (key lookups, a key range or a scan, decided here from the WHERE clause);
 * anything else a transient query's topology (`buildTopology`).
 */
import type { AnalyzedQuery } from "../semantic/analyzed.ts";
import type { Catalog } from "../semantic/catalog.ts";
import type { TExpr } from "../plan/expr.ts";
import type {
  AccessPath,
  KeyBound,
  QueryColumn,
  TableReadSelect,
  TransientSelect,
  WindowBounds,
} from "../plan/select.ts";
import type { CatalogColumn, CatalogSource } from "../plan/source.ts";
import { executionSettings, sourceRowColumns } from "../plan/topology.ts";
import { buildTopology } from "./topology-build.ts";

/** Key types whose values the store's key encoding orders (and so finds by seeking). */
const SEEKABLE = new Set([
  "BOOLEAN",
  "INTEGER",
  "BIGINT",
  "DOUBLE",
  "DECIMAL",
  "STRING",
  "BYTES",
  "DATE",
  "TIME",
  "TIMESTAMP",
]);

/** The columns a query's rows have, in order (its projection); key columns are marked for pull queries on tables. */
export function queryColumns(q: AnalyzedQuery): QueryColumn[] {
  const keyed = q.pull && q.resultType === "TABLE";
  // On a windowed table the window bounds are part of the key, as ksqlDB shows them.
  const windowed = q.window !== undefined || (q.from.kind === "Source" && q.from.source.window !== undefined);
  const isBound = (c: AnalyzedQuery["projection"][number]) =>
    windowed && c.expr.kind === "Column" && (c.expr.name === "WINDOWSTART" || c.expr.name === "WINDOWEND");
  return q.projection.map((c) => ({
    name: c.name,
    type: c.type,
    ...(keyed && (c.namespace === "KEY" || isBound(c)) ? { key: true } : {}),
  }));
}

/** The projection's expressions, one array per analyzed projection (the runtime caches compiled code by it). */
const projections = new WeakMap<object, readonly TExpr[]>();

/**
 * The plan of a pull query that reads a table materialized by a running persistent query (`materialized`
 * says which run), or undefined when the query is not one (it runs as a transient query: {@link planTransient}).
 */
export function planTableRead(
  q: AnalyzedQuery,
  materialized: (queryId: string) => boolean,
): TableReadSelect | undefined {
  if (!q.pull || q.from.kind !== "Source") return undefined;
  const table = q.from.source;
  if (table.sourceType !== "TABLE" || !table.writtenBy || !materialized(table.writtenBy)) return undefined;
  let projection = projections.get(q.projection);
  if (!projection) projections.set(q.projection, (projection = q.projection.map((c) => c.expr)));
  return {
    kind: "TableRead",
    table,
    queryId: table.writtenBy,
    columns: sourceRowColumns(table),
    access: accessPath(
      q.where,
      table.columns.filter((c) => c.namespace === "KEY"),
      table.window !== undefined,
    ),
    ...(q.where ? { where: q.where } : {}),
    ...(q.asOf ? { asOf: q.asOf } : {}),
    projection,
    resultColumns: queryColumns(q),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
  };
}

/**
 * The plan of a SELECT run as a transient query `id`, with the partition counts of the topics it reads. A pull
 * query on a table that no query materializes reads its topic with the key columns in front (`foldKeys`).
 */
export function planTransient(
  id: string,
  q: AnalyzedQuery,
  catalog: Catalog,
  partitionsOf: (topic: string) => number,
  properties: Readonly<Record<string, string>>,
): TransientSelect {
  const foldKeys = q.pull && q.from.kind === "Source" && q.from.source.sourceType === "TABLE";
  const keys = foldKeys && q.from.kind === "Source" ? q.from.source.columns.filter((c) => c.namespace === "KEY") : [];
  const run: AnalyzedQuery = foldKeys
    ? {
        ...q,
        projection: [
          ...keys.map((k, i) => ({
            name: `__PULL_KEY_${i}`,
            type: k.type,
            namespace: "KEY" as const,
            expr: { kind: "Column" as const, type: k.type, name: k.name },
          })),
          ...q.projection,
        ],
      }
    : q;
  let first: CatalogSource | undefined;
  let inputPartitions = 1;
  for (const name of q.sources) {
    const src = catalog.source(name);
    if (!src) continue;
    first ??= src;
    inputPartitions = Math.max(inputPartitions, partitionsOf(src.topic));
  }
  if (!first) throw new Error(`internal: query reads no known source`);
  const sink: CatalogSource = {
    name: id.toUpperCase(),
    sourceType: q.resultType,
    columns: run.projection.map((c) => ({ name: c.name, type: c.type, namespace: c.namespace })),
    topic: `_esql-${id}-out`,
    keyFormat: first.keyFormat,
    valueFormat: first.valueFormat,
    isSource: false,
    sql: "",
  };
  return {
    kind: "Transient",
    pull: q.pull,
    // A pull query reads its inputs from their start; a push query from `auto.offset.reset` (default: the end).
    topology: buildTopology(id, run, sink, partitionsOf, inputPartitions, {
      ...executionSettings(properties, "latest"),
      ...(q.pull ? { offsetReset: "earliest" as const } : {}),
    }),
    resultColumns: queryColumns(q),
    keeps: run.projection.map(
      (c) =>
        c.namespace === "KEY" ||
        (c.expr.kind === "Column" && (c.expr.name === "WINDOWSTART" || c.expr.name === "WINDOWEND")),
    ),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
    ...(foldKeys ? { foldKeys: keys.length } : {}),
  };
}

/**
 * The access path a WHERE clause allows on a table with these key columns: key lookups when every key column
 * is pinned by `=`/`IN` constants of its type (on a `windowed` table, within the window bounds the WHERE sets on
 * `WINDOWSTART`/`WINDOWEND`), a range when the only key column is bounded, else a scan.
 */
export function accessPath(where: TExpr | undefined, keys: readonly CatalogColumn[], windowed = false): AccessPath {
  const scan: AccessPath = { kind: "scan" };
  if (!where || keys.length === 0) return scan;
  const sets = new Map<string, TExpr[][]>();
  let lower: KeyBound | undefined;
  let upper: KeyBound | undefined;
  const keyOf = (e: TExpr) => (e.kind === "Column" ? keys.find((k) => k.name === e.name) : undefined);
  // Only primitive keys seek: the key encoding of ARRAY/MAP/STRUCT values is not canonical enough to find them.
  const usable = (e: TExpr, key: CatalogColumn) =>
    isConstant(e) && e.type.kind === key.type.kind && SEEKABLE.has(key.type.kind);
  const pin = (name: string, values: TExpr[]) => sets.set(name, [...(sets.get(name) ?? []), values]);
  const bound = (op: string, value: TExpr) => {
    if (op === ">" || op === ">=") lower = { value, inclusive: op === ">=" };
    if (op === "<" || op === "<=") upper = { value, inclusive: op === "<=" };
  };
  const flip: Record<string, string> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=" };
  /** The key column and values `K = c`, `K IN (c, ...)`, or an OR of them over one key column pin. */
  const pinsOf = (e: TExpr): { key: CatalogColumn; values: TExpr[] } | undefined => {
    if (e.kind === "Compare" && e.op === "=") {
      const key = keyOf(e.left) ?? keyOf(e.right);
      const other = keyOf(e.left) ? e.right : e.left;
      return key && usable(other, key) ? { key, values: [other] } : undefined;
    }
    if (e.kind === "In" && !e.negated) {
      const key = keyOf(e.operand);
      // A NULL item matches nothing; any other item that cannot seek leaves the conjunct to the row filter.
      const items = e.items.filter((i) => !(i.kind === "Literal" && i.value === null));
      return key && items.every((i) => usable(i, key)) ? { key, values: items } : undefined;
    }
    if (e.kind === "Logical" && e.op === "OR") {
      const l = pinsOf(e.left);
      const r = pinsOf(e.right);
      return l && r && l.key === r.key ? { key: l.key, values: [...l.values, ...r.values] } : undefined;
    }
    return undefined;
  };
  const window: { start: { lower?: KeyBound; upper?: KeyBound }; end: { lower?: KeyBound; upper?: KeyBound } } = {
    start: {},
    end: {},
  };
  /** `WINDOWSTART`/`WINDOWEND` compared with a constant, or BETWEEN two: a bound of the window (BIGINT ms). */
  const windowBound = (c: TExpr): boolean => {
    const boundOf = (e: TExpr) =>
      windowed && e.kind === "Column" && (e.name === "WINDOWSTART" || e.name === "WINDOWEND")
        ? window[e.name === "WINDOWSTART" ? "start" : "end"]
        : undefined;
    const time = (e: TExpr) => isConstant(e) && (e.type.kind === "BIGINT" || e.type.kind === "INTEGER");
    const set = (b: { lower?: KeyBound; upper?: KeyBound }, op: string, value: TExpr) => {
      if (op === ">" || op === ">=" || op === "=") b.lower = { value, inclusive: op !== ">" };
      if (op === "<" || op === "<=" || op === "=") b.upper = { value, inclusive: op !== "<" };
    };
    if (c.kind === "Compare" && c.op !== "<>") {
      const left = boundOf(c.left);
      const b = left ?? boundOf(c.right);
      const other = left ? c.right : c.left;
      if (!b || !time(other)) return false;
      set(b, left ? c.op : flip[c.op]!, other);
      return true;
    }
    if (c.kind === "Between" && !c.negated) {
      const b = boundOf(c.operand);
      if (!b) return false;
      if (time(c.low)) set(b, ">=", c.low);
      if (time(c.high)) set(b, "<=", c.high);
      return true;
    }
    return false;
  };
  for (const c of conjuncts(where)) {
    const pins = pinsOf(c);
    if (pins) {
      pin(pins.key.name, pins.values);
    } else if (windowBound(c)) {
      continue;
    } else if (c.kind === "Compare" && c.op !== "<>") {
      let key = keyOf(c.left);
      let other = c.right;
      let op: string = c.op;
      if (!key) {
        key = keyOf(c.right);
        other = c.left;
        op = flip[op]!;
      }
      if (key && usable(other, key) && keys.length === 1) bound(op, other);
    } else if (c.kind === "Between" && !c.negated && keys.length === 1) {
      const key = keyOf(c.operand);
      if (!key) continue;
      if (usable(c.low, key)) bound(">=", c.low);
      if (usable(c.high, key)) bound("<=", c.high);
    }
  }
  if (keys.every((k) => sets.has(k.name))) {
    const bounds: WindowBounds = {
      ...(window.start.lower || window.start.upper ? { start: window.start } : {}),
      ...(window.end.lower || window.end.upper ? { end: window.end } : {}),
    };
    return {
      kind: "lookup",
      columns: keys.map((k) => sets.get(k.name)!),
      ...(bounds.start || bounds.end ? { window: bounds } : {}),
    };
  }
  if (lower || upper) return { kind: "range", ...(lower ? { lower } : {}), ...(upper ? { upper } : {}) };
  return scan;
}

function conjuncts(e: TExpr): TExpr[] {
  return e.kind === "Logical" && e.op === "AND" ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

/** True when the expression reads no column (so it can be evaluated once, before reading). */
function isConstant(e: unknown): boolean {
  if (Array.isArray(e)) return e.every(isConstant);
  if (e === null || typeof e !== "object") return true;
  const o = e as Record<string, unknown>;
  if (o.kind === "Column" || o.kind === "LambdaVar" || o.kind === "AggregateCall" || o.kind === "TableFunctionCall")
    return false;
  for (const [k, v] of Object.entries(o)) if (k !== "type" && !isConstant(v)) return false;
  return true;
}
