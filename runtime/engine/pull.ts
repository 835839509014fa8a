/**
 * Pull queries: the current rows of a materialized table (a CTAS result), or of a stream up to its end.
 *
 * A table is read from the stores of the query that materializes it (the last stage's tasks, one store
 * per partition). The WHERE clause decides how: when every key column is compared `=` (or `IN`) to
 * constants, each key is a seek (`iterate` over the key's prefix, which also finds every window of a
 * windowed key); a single key column bounded by `<`, `<=`, `>`, `>=`, `BETWEEN` is one range seek; anything
 * else scans. Whatever the access path, the whole WHERE is then applied to each row, so seeking only ever
 * narrows what is read.
 *
 * A pull query on a stream (or a `CREATE SOURCE TABLE`, which no query materializes) runs as a transient
 * query from the beginning of its topics up to their current end.
 */
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { AnalyzedQuery } from "../../src/compile.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import type { TExpr } from "../../src/plan/expr.ts";
import { compileExpr, compileExprs } from "../expr/compile.ts";
import { partitionForKey } from "../log/partition.ts";
import { TABLE_STORE } from "../processors/sink.ts";
import { sourceSerdes } from "../serde/formats.ts";
import { sourceRowColumns } from "../../src/plan/topology.ts";
import type { PersistentQuery } from "../query/query.ts";
import type { RemotePull } from "../cluster/remote.ts";
import { decodeKey, encodeKey, prefixEnd } from "../state/keycodec.ts";
import { isTombstone, queryColumns, runToEnd, type QueryColumn, type TransientEnv } from "./push.ts";

export interface PullResult {
  readonly columns: readonly QueryColumn[];
  /** Values in the runtime representation (see `sqltype.ts`), in the order of `columns`. */
  readonly rows: unknown[][];
}

export interface PullEnv extends TransientEnv {
  readonly queries: ReadonlyMap<string, PersistentQuery>;
  /** The column names of a persistent query's output rows (its projection), by query id. */
  readonly outputColumns: (queryId: string) => readonly string[] | undefined;
  /** With several instances: where the partitions this instance does not hold are (see `runtime/cluster/remote.ts`). */
  readonly remote?: RemotePull;
}

/** A key range over the table store: `gte` inclusive, `lt` exclusive (encoded keys). */
export interface KeyRange {
  readonly gte?: Buffer;
  readonly lt?: Buffer;
}

/** Key types whose values the key encoding orders (and so finds by seeking). */
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

/** At most this many key combinations are looked up one by one; beyond it the table is scanned. */
const MAX_LOOKUPS = 10_000;

/** Runs a pull query. Throws only for internal bugs; the caller turns messages into diagnostics. */
export async function runPull(env: PullEnv, q: AnalyzedQuery): Promise<PullResult> {
  const columns = queryColumns(q);
  if (q.from.kind !== "Source") return { columns, rows: await runToEnd(env, q) };
  const source = q.from.source;
  const pq = source.writtenBy ? env.queries.get(source.writtenBy) : undefined;
  if (source.sourceType === "STREAM") return { columns, rows: await runToEnd(env, q) };
  if (!pq) return { columns, rows: await foldSourceTable(env, q, source) };
  return { columns, rows: await pq.reading(() => readMaterialized(env, q, source, pq)) };
}

/** Compiled projections by the projection they compile (a cached statement's projection is shared by its hits). */
const projections = new WeakMap<object, { names: readonly string[]; fns: ((row: unknown[]) => unknown)[] }>();

async function readMaterialized(
  env: PullEnv,
  q: AnalyzedQuery,
  source: CatalogSource,
  pq: PersistentQuery,
): Promise<unknown[][]> {
  const names = sourceRowColumns(source);
  const produced = env.outputColumns(pq.id) ?? [];
  const windowed = source.window !== undefined;
  // Where each input column comes from: the stored row (by position), or a pseudo column.
  const picks = names.map((n) => produced.indexOf(n));
  const onError = () => {};
  const where = q.where ? compileExpr(q.where, { columns: names, functions: env.functions, onError }) : undefined;
  let compiled = projections.get(q.projection);
  if (!compiled || compiled.names.join("\0") !== names.join("\0")) {
    compiled = {
      names,
      fns: compileExprs(
        q.projection.map((c) => c.expr),
        { columns: names, functions: env.functions, onError },
      ),
    };
    projections.set(q.projection, compiled);
  }
  const project = compiled.fns;
  const ranges = keyRanges(q.where, source, env.functions);
  const lastStage = pq.plan.stages[pq.plan.stages.length - 1]!.id;
  const limit = q.limit ?? Infinity;
  /** The rows of one task's store (one partition) in the ranges, at most `limit`. */
  const readTask = async (
    t: PersistentQuery["tasks"][number],
    within: readonly KeyRange[] = ranges,
  ): Promise<unknown[][]> => {
    const out: unknown[][] = [];
    for (const range of within) {
      const entries = pq.plan.readTable
        ? pq.plan.readTable(t.stateStore, env.functions, range)
        : t.stateStore.iterate(TABLE_STORE, range);
      for await (const [k, v] of entries) {
        const [stored, ts] = v as [unknown[], number];
        const window = windowed ? decodeKey(k).slice(-2) : [];
        const row = names.map((n, i) => {
          if (picks[i]! >= 0) return stored[picks[i]!] ?? null;
          switch (n) {
            case "ROWTIME":
              return ts;
            case "ROWPARTITION":
              return t.partition;
            case "WINDOWSTART":
              return window[0] ?? null;
            case "WINDOWEND":
              return window[1] ?? null;
            default:
              return null;
          }
        });
        if (where && where(row) !== true) continue;
        out.push(project.map((f) => f(row)));
        if (out.length >= limit) return out;
      }
    }
    return out;
  };
  const tasks = pq.tasks.filter((t) => t.stage.id === lastStage);
  // Key lookups read little: ask every partition at once (the stores answer in parallel, so the latency is
  // one partition's, not the sum). Ranges and scans go one partition at a time, so LIMIT stops the reading.
  const lookups = ranges.every((r) => r.gte !== undefined && r.lt !== undefined && r.lt.equals(prefixEnd(r.gte)));
  if (lookups && !windowed) {
    // A key of a table without windows is in one partition: the one Kafka's partitioner gives its serialized
    // key, as the table's sink wrote it, when the input was partitioned the same way (the usual case, and what
    // ksqlDB assumes). Ask that partition first; only a miss asks the others, so a wrong guess costs time, never rows.
    const owner = ownerOf(source, pq.plan.stagePartitions.get(lastStage) ?? tasks.length);
    const rows: unknown[][] = [];
    for (const range of ranges) {
      const first = tasks.find((t) => t.partition === owner(range.gte!));
      let found = first ? await readTask(first, [range]) : [];
      if (found.length === 0)
        found = (await Promise.all(tasks.filter((t) => t !== first).map((t) => readTask(t, [range])))).flat();
      rows.push(...found);
      if (rows.length >= limit) return rows.slice(0, limit);
    }
    return rows;
  }
  if (lookups) {
    const rows = (await Promise.all(tasks.map((t) => readTask(t)))).flat();
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }
  const out: unknown[][] = [];
  for (const t of tasks) {
    for (const row of await readTask(t)) {
      out.push(row);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/**
 * For a pull query that looks up whole keys of a table without windows: the partitions those keys were
 * written to by Kafka's partitioner (a guess, as in `readMaterialized`: right whenever the input was
 * partitioned by the key). Undefined for anything else (scans, ranges, windowed tables, unknown keys).
 */
export function lookupPartitions(env: PullEnv, q: AnalyzedQuery, pq: PersistentQuery): number[] | undefined {
  if (q.from.kind !== "Source" || q.from.source.window !== undefined) return undefined;
  const ranges = keyRanges(q.where, q.from.source, env.functions);
  if (!ranges.every((r) => r.gte !== undefined && r.lt !== undefined && r.lt.equals(prefixEnd(r.gte))))
    return undefined;
  const lastStage = pq.plan.stages[pq.plan.stages.length - 1]!.id;
  const owner = ownerOf(q.from.source, pq.plan.stagePartitions.get(lastStage) ?? 1);
  const partitions = ranges.map((r) => owner(r.gte!));
  return partitions.some((p) => p < 0) ? undefined : [...new Set(partitions)];
}

/** Guesses the partition of an encoded key (see the use); -1 when the key cannot be serialized. */
function ownerOf(source: CatalogSource, partitions: number): (encoded: Buffer) => number {
  let serdes: ReturnType<typeof sourceSerdes> | undefined;
  return (encoded) => {
    try {
      serdes ??= sourceSerdes(source);
      const bytes = serdes.key.serialize(decodeKey(encoded));
      return bytes ? partitionForKey(bytes, partitions) : -1;
    } catch {
      return -1;
    }
  };
}

/**
 * A table no query materializes (`CREATE SOURCE TABLE`): reads its topic from the start with the source's
 * key columns put in front of the projection, keeps the last row of each key (a tombstone deletes it), and
 * returns the rows in key order (as a store holds them). LIMIT counts keys, not updates.
 */
async function foldSourceTable(env: PullEnv, q: AnalyzedQuery, source: CatalogSource): Promise<unknown[][]> {
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  const withKeys: AnalyzedQuery = {
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
  };
  const n = keys.length;
  const byKey = new Map<string, unknown[]>();
  for (const r of await runToEnd(env, withKeys, Infinity)) {
    const k = encodeKey(r.slice(0, n)).toString("latin1");
    byKey.delete(k);
    if (!isTombstone(r)) byKey.set(k, r.slice(n));
  }
  const out = [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  return q.limit === undefined ? out : out.slice(0, q.limit);
}

/**
 * The key ranges a WHERE clause allows: one prefix range per key when every key column is pinned by
 * `=`/`IN` constants, one range when the only key column is bounded, else the whole store (`[{}]`).
 */
export function keyRanges(where: TExpr | undefined, source: CatalogSource, functions: FunctionRegistry): KeyRange[] {
  const all: KeyRange[] = [{}];
  if (!where) return all;
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  if (keys.length === 0) return all;
  const sets = new Map<string, unknown[]>();
  let lower: { value: unknown; inclusive: boolean } | undefined;
  let upper: { value: unknown; inclusive: boolean } | undefined;
  const keyOf = (e: TExpr) => (e.kind === "Column" ? keys.find((k) => k.name === e.name) : undefined);
  const constant = (e: TExpr, key: { type: { kind: string } }): { ok: true; value: unknown } | { ok: false } => {
    // Only primitive keys seek: the key encoding of ARRAY/MAP/STRUCT values is not canonical enough to find them.
    if (!isConstant(e) || e.type.kind !== key.type.kind || !SEEKABLE.has(key.type.kind)) return { ok: false };
    // A plain literal is its own value (the common key lookup: no code to generate for it).
    if (
      e.kind === "Literal" &&
      e.value !== null &&
      (e.type.kind === "STRING"
        ? typeof e.value === "string"
        : ["INTEGER", "BIGINT", "DOUBLE"].includes(e.type.kind) && typeof e.value === "number")
    ) {
      return { ok: true, value: e.value };
    }
    let failed = false;
    const value = compileExpr(e, { columns: [], functions, onError: () => (failed = true) })([]);
    // NULL never compares equal, and a failing constant makes the row filter decide.
    if (failed || value === null || value === undefined) return { ok: false };
    return { ok: true, value };
  };
  const pin = (name: string, values: unknown[]) => {
    const had = sets.get(name);
    if (!had) sets.set(name, values);
    else {
      const ids = new Set(values.map((v) => encodeKey([v]).toString("latin1")));
      sets.set(
        name,
        had.filter((v) => ids.has(encodeKey([v]).toString("latin1"))),
      );
    }
  };
  const bound = (op: string, value: unknown) => {
    if (op === "=") return;
    if (op === ">" || op === ">=") lower = { value, inclusive: op === ">=" };
    if (op === "<" || op === "<=") upper = { value, inclusive: op === "<=" };
  };
  const flip: Record<string, string> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=" };
  for (const c of conjuncts(where)) {
    if (c.kind === "Compare" && c.op !== "<>") {
      let key = keyOf(c.left);
      let other = c.right;
      let op: string = c.op;
      if (!key) {
        key = keyOf(c.right);
        other = c.left;
        op = flip[op]!;
      }
      if (!key) continue;
      const v = constant(other, key);
      if (!v.ok) continue;
      if (op === "=") pin(key.name, [v.value]);
      else if (keys.length === 1) bound(op, v.value);
    } else if (c.kind === "In" && !c.negated) {
      const key = keyOf(c.operand);
      if (!key) continue;
      const values: unknown[] = [];
      let ok = true;
      for (const item of c.items) {
        const v = constant(item, key);
        if (v.ok) values.push(v.value);
        else if (!(item.kind === "Literal" && item.value === null)) ok = false;
      }
      if (ok) pin(key.name, values);
    } else if (c.kind === "Between" && !c.negated && keys.length === 1) {
      const key = keyOf(c.operand);
      if (!key) continue;
      const lo = constant(c.low, key);
      const hi = constant(c.high, key);
      if (lo.ok) bound(">=", lo.value);
      if (hi.ok) bound("<=", hi.value);
    }
  }
  if (keys.every((k) => sets.has(k.name))) {
    let combos: unknown[][] = [[]];
    for (const k of keys) {
      combos = combos.flatMap((c) => sets.get(k.name)!.map((v) => [...c, v]));
      if (combos.length > MAX_LOOKUPS) return all;
    }
    // Each key once, in key order, so rows come out sorted and never twice.
    const seen = new Map<string, Buffer>();
    for (const c of combos) {
      const b = encodeKey(c);
      seen.set(b.toString("latin1"), b);
    }
    return [...seen.keys()].sort().map((id) => {
      const b = seen.get(id)!;
      return { gte: b, lt: prefixEnd(b) };
    });
  }
  if (lower || upper) {
    const r: { gte?: Buffer; lt?: Buffer } = {};
    if (lower) {
      const b = encodeKey([lower.value]);
      r.gte = lower.inclusive ? b : prefixEnd(b);
    }
    if (upper) {
      const b = encodeKey([upper.value]);
      r.lt = upper.inclusive ? prefixEnd(b) : b;
    }
    if (r.gte && r.lt && Buffer.compare(r.gte, r.lt) >= 0) return [];
    return [r];
  }
  return all;
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
