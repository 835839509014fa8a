/**
 * Pull queries: the current rows of a materialized table (a CTAS result), or of a stream up to its end.
 *
 * The plan (`src/plan/select.ts`, from `planTableRead` / `planTransient` in `src/compile.ts`) says how. A table
 * is read from the stores of the query that materializes it (the last stage's tasks, one store per partition)
 * along the plan's access path: each key of a `lookup` is a seek (`iterate` over the key's prefix, which also
 * finds every window of a windowed key, or over the windows whose start the lookup's window bounds allow); a
 * `range` is one range seek; a `scan` reads everything. Whatever the
 * access path, the whole WHERE is then applied to each row, so seeking only ever narrows what is read.
 *
 * A pull query on a stream (or a `CREATE SOURCE TABLE`, which no query materializes) runs as a transient
 * query from the beginning of its topics up to their current end.
 */
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { TExpr } from "../../src/plan/expr.ts";
import type {
  AccessPath,
  KeyBound,
  QueryColumn,
  SelectPlan,
  TableReadSelect,
  TransientSelect,
  WindowBounds,
} from "../../src/plan/select.ts";
import type { CatalogSource, SourceWindow } from "../../src/plan/source.ts";
import { compileExpr, compileExprs } from "../expr/compile.ts";
import { partitionForKey } from "../log/partition.ts";
import { TABLE_STORE } from "../processors/sink.ts";
import { STORE } from "../../src/plan/topology.ts";
import { sourceSerdes } from "../serde/formats.ts";
import type { PersistentQuery } from "../query/query.ts";
import type { RemotePull } from "../cluster/remote.ts";
import { decodeKey, encodeKey, prefixEnd } from "../state/keycodec.ts";
import { isTombstone, runToEnd, type TransientEnv } from "./push.ts";

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

/** At most this many key combinations are looked up one by one; beyond it the table is scanned. */
const MAX_LOOKUPS = 10_000;

/** Runs a pull query's plan. Throws only for internal bugs; the caller turns messages into diagnostics. */
export async function runPull(env: PullEnv, plan: SelectPlan): Promise<PullResult> {
  const columns = plan.resultColumns;
  if (plan.kind === "Transient")
    return {
      columns,
      rows: plan.foldKeys !== undefined ? await foldSourceTable(env, plan) : await runToEnd(env, plan),
    };
  const pq = env.queries.get(plan.queryId);
  if (!pq) throw new Error(`table ${plan.table.name} is no longer materialized (query ${plan.queryId} is not running)`);
  return { columns, rows: await pq.reading(() => readMaterialized(env, plan, pq)) };
}

/** Compiled projections by the projection they compile (a cached statement's projection is shared by its hits). */
const projections = new WeakMap<object, { names: readonly string[]; fns: ((row: unknown[]) => unknown)[] }>();

async function readMaterialized(env: PullEnv, plan: TableReadSelect, pq: PersistentQuery): Promise<unknown[][]> {
  const source = plan.table;
  const names = plan.columns;
  const produced = env.outputColumns(pq.id) ?? [];
  const windowed = source.window !== undefined;
  // Where each input column comes from: the stored row (by position), or a pseudo column.
  const picks = names.map((n) => produced.indexOf(n));
  const onError = () => {};
  const where = plan.where ? compileExpr(plan.where, { columns: names, functions: env.functions, onError }) : undefined;
  let compiled = projections.get(plan.projection);
  if (!compiled || compiled.names.join("\0") !== names.join("\0")) {
    compiled = {
      names,
      fns: compileExprs(plan.projection, { columns: names, functions: env.functions, onError }),
    };
    projections.set(plan.projection, compiled);
  }
  const project = compiled.fns;
  const ranges = keyRanges(plan.access, env.functions, source.window);
  const lastStage = pq.plan.stages[pq.plan.stages.length - 1]!.id;
  const limit = plan.limit ?? Infinity;
  const asOf = plan.asOf ? asOfTime(plan.asOf, env.functions) : undefined;
  /** The rows of one task's store (one partition) in the ranges, at most `limit`. */
  const readTask = async (
    t: PersistentQuery["tasks"][number],
    within: readonly KeyRange[] = ranges,
  ): Promise<unknown[][]> => {
    const out: unknown[][] = [];
    for (const range of within) {
      const entries =
        asOf !== undefined
          ? readHistory(t.stateStore, range, asOf)
          : pq.plan.readTable
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
  if (asOf !== undefined) {
    // Versions older than the retention are purged: a time before it would read a partial history.
    const retention = source.historyMs ?? 0;
    for (const t of tasks) {
      const oldest = t.streamTime - retention;
      if (asOf < oldest)
        throw new Error(
          `${source.name} keeps ${retention} ms of history (HISTORY_RETENTION): ${new Date(asOf).toISOString()} ` +
            `is before ${new Date(oldest).toISOString()}, the oldest time partition ${t.partition} can answer for`,
        );
    }
  }
  // Key lookups read little: ask every partition at once (the stores answer in parallel, so the latency is
  // one partition's, not the sum). Ranges and scans go one partition at a time, so LIMIT stops the reading.
  const lookups = plan.access.kind === "lookup" && ranges.every((r) => r.gte !== undefined && r.lt !== undefined);
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

/** The event time (epoch ms) of a `FOR SYSTEM_TIME AS OF` expression; throws with the reason when it has none. */
function asOfTime(e: TExpr, functions: FunctionRegistry): number {
  let failure: unknown;
  const v = compileExpr(e, { columns: [], functions, onError: (x) => (failure = x) })([]);
  if (failure !== undefined) throw new Error(`FOR SYSTEM_TIME AS OF: ${(failure as Error).message}`);
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") {
    const text = v.trim();
    const t = /^-?\d+$/.test(text) ? Number(text) : Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
    if (Number.isFinite(t)) return t;
    throw new Error(`FOR SYSTEM_TIME AS OF: '${v}' is not a time (ISO-8601, e.g. '2024-05-01T00:00:00Z', or epoch ms)`);
  }
  throw new Error("FOR SYSTEM_TIME AS OF: the time is NULL");
}

/**
 * The rows of a table with history as they were at `asOf`, from the store `history` (key columns, then each
 * version's time: see `SinkOutput.recordHistory`), as the table store's entries: for each key in `range`, its
 * latest version at or before `asOf`, unless that is a tombstone.
 */
async function* readHistory(
  store: PersistentQuery["tasks"][number]["stateStore"],
  range: KeyRange,
  asOf: number,
): AsyncGenerator<[Buffer, [unknown[], number]]> {
  let key: Buffer | undefined;
  let best: [unknown[] | null, number] | undefined;
  for await (const [k, v] of store.iterate(STORE.history, range)) {
    const parts = decodeKey(k);
    const at = parts[parts.length - 1] as number;
    const own = encodeKey(parts.slice(0, -1));
    if (!key || !own.equals(key)) {
      if (key && best && best[0] !== null) yield [key, [best[0], best[1]]];
      key = own;
      best = undefined;
    }
    if (at <= asOf) best = [v as unknown[] | null, at];
  }
  if (key && best && best[0] !== null) yield [key, [best[0], best[1]]];
}

/**
 * For a pull query that looks up whole keys of a table without windows: the partitions those keys were
 * written to by Kafka's partitioner (a guess, as in `readMaterialized`: right whenever the input was
 * partitioned by the key). Undefined for anything else (scans, ranges, windowed tables, unknown keys).
 */
export function lookupPartitions(env: PullEnv, plan: TableReadSelect, pq: PersistentQuery): number[] | undefined {
  if (plan.table.window !== undefined) return undefined;
  const ranges = keyRanges(plan.access, env.functions);
  if (!ranges.every((r) => r.gte !== undefined && r.lt !== undefined && r.lt.equals(prefixEnd(r.gte))))
    return undefined;
  const lastStage = pq.plan.stages[pq.plan.stages.length - 1]!.id;
  const owner = ownerOf(plan.table, pq.plan.stagePartitions.get(lastStage) ?? 1);
  const partitions = ranges.map((r) => owner(r.gte!));
  return partitions.some((p) => p < 0) ? undefined : [...new Set(partitions)];
}

/** A table's serdes, made once per catalog source (a lookup asks them for every key). */
const serdesOf = new WeakMap<CatalogSource, ReturnType<typeof sourceSerdes>>();

/** Guesses the partition of an encoded key (see the use); -1 when the key cannot be serialized. */
function ownerOf(source: CatalogSource, partitions: number): (encoded: Buffer) => number {
  return (encoded) => {
    try {
      let serdes = serdesOf.get(source);
      if (serdes === undefined) serdesOf.set(source, (serdes = sourceSerdes(source)));
      const bytes = serdes.key.serialize(decodeKey(encoded));
      return bytes ? partitionForKey(bytes, partitions) : -1;
    } catch {
      return -1;
    }
  };
}

/**
 * A table no query materializes (`CREATE SOURCE TABLE`): reads its topic from the start with the table's
 * key columns in front of the projection (the plan's `foldKeys`), keeps the last row of each key (a tombstone
 * deletes it), and returns the rows in key order (as a store holds them). LIMIT counts keys, not updates.
 */
async function foldSourceTable(env: PullEnv, plan: TransientSelect): Promise<unknown[][]> {
  const n = plan.foldKeys ?? 0;
  const byKey = new Map<string, unknown[]>();
  for (const r of await runToEnd(env, plan, Infinity)) {
    const k = encodeKey(r.slice(0, n)).toString("latin1");
    byKey.delete(k);
    if (!isTombstone(r)) byKey.set(k, r.slice(n));
  }
  const out = [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  return plan.limit === undefined ? out : out.slice(0, plan.limit);
}

/**
 * The key ranges of an access path, its constants evaluated now: one prefix range per key of a lookup (each
 * once, in key order; on a table with `window`s, narrowed to the windows whose start the lookup's window
 * bounds allow, see {@link windowStartBounds}), one range for a range, the whole store (`[{}]`) for a scan. A
 * constant that is NULL or fails leaves the rows to the WHERE clause: a lookup scans, a range or a window loses
 * that bound.
 */
export function keyRanges(access: AccessPath, functions: FunctionRegistry, window?: SourceWindow): KeyRange[] {
  const all: KeyRange[] = [{}];
  const value = (e: TExpr): { ok: true; value: unknown } | { ok: false } => {
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
    const v = compileExpr(e, { columns: [], functions, onError: () => (failed = true) })([]);
    return failed || v === null || v === undefined ? { ok: false } : { ok: true, value: v };
  };
  switch (access.kind) {
    case "scan":
      return all;
    case "lookup": {
      let combos: unknown[][] = [[]];
      for (const sets of access.columns) {
        // The values every conjunct on this key column allows.
        let allowed: Map<string, unknown> | undefined;
        for (const set of sets) {
          const here = new Map<string, unknown>();
          for (const e of set) {
            const v = value(e);
            if (!v.ok) return all;
            here.set(encodeKey([v.value]).toString("latin1"), v.value);
          }
          allowed = allowed ? new Map([...allowed].filter(([id]) => here.has(id))) : here;
        }
        const values = [...(allowed ?? new Map<string, unknown>()).values()];
        combos = combos.flatMap((c) => values.map((v) => [...c, v]));
        if (combos.length > MAX_LOOKUPS) return all;
      }
      // Each key once, in key order, so rows come out sorted and never twice.
      const seen = new Map<string, Buffer>();
      for (const c of combos) {
        const b = encodeKey(c);
        seen.set(b.toString("latin1"), b);
      }
      const starts = window && access.window ? windowStartBounds(access.window, window, value) : {};
      const out: KeyRange[] = [];
      for (const id of [...seen.keys()].sort()) {
        const b = seen.get(id)!;
        // A windowed key's store keys continue with the window's start: seek from the lowest start allowed
        // to the highest.
        const lower = starts.lower && Buffer.concat([b, encodeKey([starts.lower.value])]);
        const upper = starts.upper && Buffer.concat([b, encodeKey([starts.upper.value])]);
        const gte = lower ? (starts.lower!.inclusive ? lower : prefixEnd(lower)) : b;
        const lt = upper ? (starts.upper!.inclusive ? prefixEnd(upper) : upper) : prefixEnd(b);
        if (Buffer.compare(gte, lt) < 0) out.push({ gte, lt });
      }
      return out;
    }
    case "range": {
      const lower = access.lower && value(access.lower.value);
      const upper = access.upper && value(access.upper.value);
      const r: { gte?: Buffer; lt?: Buffer } = {};
      if (lower?.ok) {
        const b = encodeKey([lower.value]);
        r.gte = access.lower!.inclusive ? b : prefixEnd(b);
      }
      if (upper?.ok) {
        const b = encodeKey([upper.value]);
        r.lt = access.upper!.inclusive ? prefixEnd(b) : b;
      }
      if (r.gte && r.lt && Buffer.compare(r.gte, r.lt) >= 0) return [];
      return [r];
    }
  }
}

/** A bound on a window's start (ms). */
interface StartBound {
  readonly value: number;
  readonly inclusive: boolean;
}

/**
 * The bounds on a window's start that a lookup's window bounds imply for windows of this kind: `WINDOWSTART`
 * bounds directly; `WINDOWEND` bounds through the size (TUMBLING, HOPPING: start = end − size) or, for SESSION
 * windows, from above only (start ≤ end). Of two bounds on one side the tighter wins; a bound whose constant is
 * not a safe integer is dropped (the WHERE clause still filters the rows).
 */
function windowStartBounds(
  bounds: WindowBounds,
  window: SourceWindow,
  value: (e: TExpr) => { ok: true; value: unknown } | { ok: false },
): { lower?: StartBound; upper?: StartBound } {
  const ms = (b: KeyBound | undefined, shift = 0): StartBound | undefined => {
    const v = b && value(b.value);
    return v?.ok && typeof v.value === "number" && Number.isSafeInteger(v.value - shift)
      ? { value: v.value - shift, inclusive: b!.inclusive }
      : undefined;
  };
  const size = window.type !== "SESSION" ? window.sizeMs : undefined;
  const tighter = (a: StartBound | undefined, b: StartBound | undefined, side: 1 | -1) =>
    !a ? b : !b ? a : a.value !== b.value ? ((a.value - b.value) * side > 0 ? a : b) : a.inclusive ? b : a;
  const lower = tighter(ms(bounds.start?.lower), size !== undefined ? ms(bounds.end?.lower, size) : undefined, 1);
  const upper = tighter(ms(bounds.start?.upper), ms(bounds.end?.upper, size ?? 0), -1);
  return { ...(lower ? { lower } : {}), ...(upper ? { upper } : {}) };
}
