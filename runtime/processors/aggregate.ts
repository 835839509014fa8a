/**
 * The aggregate operator: GROUP BY over a stream or a table, optionally windowed (TUMBLING, HOPPING,
 * SESSION), with EMIT CHANGES (every update) or EMIT FINAL (one result per window once it closes).
 *
 * Input rows are already partitioned by the group key (a repartition stage runs before this one when the
 * GROUP BY is not the input's key). State lives in the store `agg`:
 * - not windowed: key `encodeKey(groupKey)`;
 * - time windows: key `encodeKey([...groupKey, windowStart])`, so a key's windows are one range;
 * - session windows: key `encodeKey([...groupKey, sessionStart, sessionEnd])`.
 * The value is `[timestamp, ...accumulatorStates]`.
 *
 * Output rows: group key columns, then one column per aggregate, then WINDOWSTART and WINDOWEND when
 * windowed. Output timestamps follow Kafka Streams: the larger of the record's and the previous result's
 * for time windows and unwindowed aggregates; the session's end for sessions.
 *
 * Time (as ksqlDB on Kafka Streams): stream time is the largest timestamp this task has seen. A time window
 * closes when window end + grace <= stream time; a session when session end + gap + grace < stream time.
 * A record for a closed window is dropped and counted as late. Without GRACE PERIOD the grace is 24 hours
 * minus the window size (the gap for sessions), at least 0; with EMIT FINAL it is 0.
 *
 * Retention: a window's state is deleted once it is older than its retention (RETENTION, default and at
 * least window size + grace; gap + grace for sessions): a time window when its start < (start of the
 * newest window) - retention, a session when its end <= stream time - retention. The store `aggtime` is the
 * time index that finds them (key `encodeKey([windowStart, ...groupKey, windowStart])` for time windows,
 * `encodeKey([sessionEnd, ...groupKey, sessionStart])` for sessions), so a long replay keeps the store
 * bounded. An expired window is never folded again: records for it are late.
 *
 * EMIT FINAL emits each window once, when it closes, and nothing before: no updates, no tombstones (a
 * session that merges into another before it closed was never emitted). As in Kafka Streams, a time window
 * that was already past its retention when stream time closed it is not emitted (stream time jumped far
 * ahead). Closing is decided record by record (the stream time each record brings), so the output does not
 * depend on how records are batched.
 */
import { STORE, type AggregateSpec, type AggregateWindow } from "../../src/plan/topology.ts";
import type { Accumulator, ArgInfo, FunctionRegistry, ResolvedAggregate } from "../../src/functions/types.ts";
import type { PartitionStore } from "../state/store.ts";
import { compileExprs, type CompiledExpr } from "../expr/compile.ts";
import { decodeKey, encodeKey, encodeKeyWith, prefixEnd } from "../state/keycodec.ts";
import { lastWindowStart, windowTimes } from "../../src/plan/window.ts";
import type { Processor, ProcessorContext, Row, Window } from "./types.ts";

export const AGG_STORE = STORE.aggregate;
/** The time index of windows (see the file comment). */
export const TIME_INDEX = STORE.aggregateTime;
/** Row TTL: groups by the time of their last update (key `encodeKey([ts]) + storeKey`; stale entries are skipped). */
const TTL_INDEX = STORE.aggregateTtl;
/** Length of `encodeKey([number])`: the time prefix of a `TIME_INDEX` key. */
const TIME_PREFIX_LEN = encodeKey([0]).length;

type State = unknown[]; // [timestamp, ...accumulator states]

const NO_ARGS: readonly unknown[] = Object.freeze([]);

/** A group's (and window's) state in memory: `state` undefined = no such group in the store. */
interface HotEntry {
  /** The store key: `encodeKey(groupKey)`, or with the window start appended. */
  readonly sk: Buffer;
  /** The entry's time window (undefined when not windowed). */
  readonly win: Window | undefined;
  state: State | undefined;
  /** Already in this batch's list of changed groups. */
  dirty: boolean;
}

/**
 * A Map key that identifies a group key exactly as its binary store key does (same id ⇔ equal
 * `encodeKey` bytes), among keys of one column layout, and is cheaper to build: a one-column string or
 * number key is its value; otherwise a string of strings with their length, numbers as text (0 and -0
 * alike, as in `encodeKey`), booleans; anything else falls back to the binary key's bytes.
 */
export function groupId(key: readonly unknown[]): unknown {
  // One column: the value itself (a column's values all have one JS type; Map compares numbers by
  // SameValueZero, so 0 and -0 are one group, as in `encodeKey`).
  if (key.length === 1) {
    const v = key[0];
    if (typeof v === "string" || typeof v === "number") return v;
  }
  let id = "";
  for (let i = 0; i < key.length; i++) {
    const v = key[i];
    if (typeof v === "string") id += "s" + v.length + ":" + v;
    else if (typeof v === "number") id += "n" + (v === 0 ? "0" : String(v)) + ";";
    else if (typeof v === "boolean") id += v ? "T" : "F";
    else if (v === null || v === undefined) id += "N";
    else id += "x" + encodeKey([v]).toString("latin1") + "\u0000";
  }
  return id;
}

export class AggregateProcessor implements Processor {
  private ctx!: ProcessorContext;
  private groupFns!: CompiledExpr[];
  private argFns!: CompiledExpr[][];
  private accs!: Accumulator[];
  /** Grace period and retention of the window (see {@link windowTimes}); 0 when not windowed. */
  private grace = 0;
  private retention = 0;
  /**
   * Hot group states by a cheap string id of the group key (and window start), so a group's state is
   * found with one Map lookup and its binary store key is encoded once, when the group is first seen.
   * The states are the store's own objects (folded in place and put back once per batch); the map is
   * dropped whenever the store drops its cache (see `PartitionStore.cacheEpoch`).
   */
  private readonly hot = new Map<unknown, HotEntry>();
  private hotEpoch = -1;
  /** Hot entries of windowed groups: by group id, then by window start. */
  private readonly hotWindows = new Map<unknown, Map<number, HotEntry>>();
  private hotCount = 0;
  private readonly argScratch: (readonly unknown[])[] = [];

  constructor(private readonly spec: AggregateSpec) {}

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    const onError = (e: unknown, where: string) => ctx.reportError(e, where);
    const opts = { columns: this.spec.columns, functions: ctx.functions, onError };
    this.groupFns = compileExprs(this.spec.groupBy, opts);
    const resolved = resolveAggregates(this.spec, ctx.functions);
    this.accs = resolved.map((r) => r.accumulator);
    this.argFns = resolved.map((r, i) => compileExprs(this.spec.aggregates[i]!.args.slice(0, r.rowArgCount), opts));
    if (this.spec.window) {
      const t = windowTimes(this.spec.window, this.spec.emitFinal);
      this.grace = t.graceMs;
      this.retention = t.retentionMs;
    }
  }

  private groupKey(values: readonly unknown[]): unknown[] {
    const k = new Array<unknown>(this.groupFns.length);
    for (let i = 0; i < this.groupFns.length; i++) k[i] = this.groupFns[i]!(values);
    return k;
  }

  /**
   * One row's aggregate arguments. The outer array is reused from row to row (accumulators read it
   * synchronously); an aggregate without row arguments (COUNT(*)) gets one shared empty array.
   */
  private argsOf(values: readonly unknown[]): (readonly unknown[])[] {
    const out = this.argScratch;
    for (let i = 0; i < this.argFns.length; i++) {
      const fns = this.argFns[i]!;
      if (fns.length === 0) {
        out[i] = NO_ARGS;
        continue;
      }
      const a = new Array<unknown>(fns.length);
      for (let j = 0; j < fns.length; j++) a[j] = fns[j]!(values);
      out[i] = a;
    }
    return out;
  }

  /**
   * An aggregate that threw (a user aggregate's code, or its result's type): reported to the processing log
   * with the record being folded; that aggregate's state stays as it was (it skips the row), the others fold it.
   */
  private failed(e: unknown, i: number): void {
    this.ctx.reportError(e, this.spec.aggregates[i]!.name);
  }

  private initState(ts: number): State {
    const state: State = [ts];
    for (let i = 0; i < this.accs.length; i++) {
      try {
        state.push(this.accs[i]!.init());
      } catch (e) {
        this.failed(e, i);
        state.push(null);
      }
    }
    return state;
  }

  private results(state: State): unknown[] {
    const out = new Array<unknown>(this.accs.length);
    for (let i = 0; i < this.accs.length; i++) {
      try {
        const r = this.accs[i]!.result(state[i + 1]);
        out[i] = r === undefined ? null : r;
      } catch (e) {
        this.failed(e, i);
        out[i] = null;
      }
    }
    return out;
  }

  private add(state: State, args: (readonly unknown[])[]): void {
    for (let i = 0; i < this.accs.length; i++) {
      try {
        state[i + 1] = this.accs[i]!.add(state[i + 1], args[i]!);
      } catch (e) {
        this.failed(e, i);
      }
    }
  }

  private retract(state: State, args: (readonly unknown[])[]): void {
    for (let i = 0; i < this.accs.length; i++) {
      const acc = this.accs[i]!;
      try {
        if (acc.retract) state[i + 1] = acc.retract(state[i + 1], args[i]!);
      } catch (e) {
        this.failed(e, i);
      }
    }
  }

  async process(rows: Row[]): Promise<Row[]> {
    const w = this.spec.window;
    if (w?.type === "SESSION") return this.processSessions(rows, w);
    const store = this.ctx.store;
    const hot = this.hot;
    const hotWindows = this.hotWindows;
    if (store.cacheEpoch !== this.hotEpoch || this.hotCount > store.cacheLimit) {
      hot.clear();
      hotWindows.clear();
      this.hotCount = 0;
      this.hotEpoch = store.cacheEpoch;
    }
    // 1. The groups (and windows) each row folds into, as hot entries; those not in memory yet are read
    // from the store in one prefetch. Work items are kept in parallel arrays (one per field, not an object
    // per row): a batch's intermediates live until its end, and fewer objects means less to collect.
    // A row whose grouping key has a NULL is dropped, as ksqlDB does.
    const wRow: Row[] = [];
    const wKey: unknown[][] = [];
    const wSign: number[] = [];
    const wValues: (readonly unknown[])[] = [];
    /** Entries of item i: `slots[slotStart[i] .. slotStart[i + 1])`. */
    const slotStart: number[] = [];
    const slots: HotEntry[] = [];
    const missing: HotEntry[] = [];
    const starts: number[] = [];
    const size = w?.sizeMs ?? 0;
    const push = (row: Row, key: unknown[], sign: 1 | -1, values: readonly unknown[]): void => {
      if (key.includes(null)) {
        // A retracted old row with a NULL key was never folded (its drop was counted when it came).
        if (sign === 1) this.ctx.drop("aggregate", "null-key", "the GROUP BY key is NULL");
        return;
      }
      wRow.push(row);
      wKey.push(key);
      wSign.push(sign);
      wValues.push(values);
      slotStart.push(slots.length);
      const id = groupId(key);
      if (!w) {
        let e = hot.get(id);
        if (e === undefined) {
          e = { sk: encodeKey(key), win: undefined, state: undefined, dirty: false };
          hot.set(id, e);
          this.hotCount++;
          missing.push(e);
        }
        slots.push(e);
        return;
      }
      let byStart = hotWindows.get(id);
      if (byStart === undefined) {
        byStart = new Map();
        hotWindows.set(id, byStart);
      }
      starts.length = 0;
      windowStarts(row.ts, w, starts);
      for (let j = 0; j < starts.length; j++) {
        const start = starts[j]!;
        let e = byStart.get(start);
        if (e === undefined) {
          // The window object is made once per entry, not per row.
          e = { sk: encodeKeyWith(key, start), win: { start, end: start + size }, state: undefined, dirty: false };
          byStart.set(start, e);
          this.hotCount++;
          missing.push(e);
        }
        slots.push(e);
      }
    };
    for (const r of rows) {
      this.ctx.currentRow = r;
      if (this.spec.fromTable) {
        if (r.old !== undefined && r.old !== null) push(r, this.groupKey(r.old), -1, r.old);
        if (!r.tombstone) push(r, this.groupKey(r.values), 1, r.values);
      } else if (!r.tombstone) {
        push(r, this.groupKey(r.values), 1, r.values);
      } else {
        // A stream record with a null value carries no row to fold.
        this.ctx.drop("aggregate", "null-value", "a stream record without value has nothing to aggregate");
      }
    }
    slotStart.push(slots.length);
    if (missing.length > 0) {
      await store.prefetch(
        AGG_STORE,
        missing.map((e) => e.sk),
      );
      for (const e of missing) e.state = store.get(AGG_STORE, e.sk) as State | undefined;
    }

    // 2. Fold synchronously. With the record cache on, only each group's last update of the batch is
    // emitted (with the result it had before the batch as `old`), as Kafka Streams' cache does.
    const out: Row[] = [];
    const dirty: HotEntry[] = [];
    const collapse = !this.spec.emitFinal && this.ctx.execution.recordCache;
    const pending = new Map<HotEntry, { row: Row; key: unknown[]; old: unknown[] | null | undefined }>();
    const emitLater = (e: HotEntry, row: Row, key: unknown[], old: unknown[] | null | undefined) => {
      const p = pending.get(e);
      if (p) {
        // Moved to the end: Map order is the order of last updates.
        pending.delete(e);
        p.row = row;
        p.key = key;
        pending.set(e, p);
      } else pending.set(e, { row, key, old });
    };
    const n = wRow.length;
    const before = this.ctx.streamTime;
    /** The stream times this batch moved through, ascending (what closes and expires windows). */
    const advances: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = wRow[i]!;
      const key = wKey[i]!;
      const sign = wSign[i] as 1 | -1;
      this.ctx.currentRow = row;
      if (row.ts > this.ctx.streamTime) {
        this.ctx.streamTime = row.ts;
        advances.push(row.ts);
      }
      const args = this.argsOf(wValues[i]!);
      if (!w) {
        const e = slots[slotStart[i]!]!;
        const ttl = this.spec.ttlMs;
        if (ttl !== undefined && e.state !== undefined && (e.state[0] as number) + ttl <= this.ctx.streamTime) {
          // Not updated for the TTL when this record moved stream time: the group expired before it folds.
          const p = pending.get(e);
          if (p) {
            pending.delete(e);
            out.push(this.emit(p.row, p.key, e.state, undefined, p.old));
          }
          out.push(this.expiredRow(key, e.state, ttl, row));
          e.state = undefined;
          if (!e.dirty) {
            e.dirty = true;
            dirty.push(e);
          }
          // The retraction of a row folded before the expiry: nothing left to retract.
          if (sign === -1) continue;
        }
        const oldRow = this.fold(e, row.ts, sign, args, dirty);
        // A table update whose old and new rows fall in the same group emits once, after both.
        if (sign === -1 && i + 1 < n && wRow[i + 1] === row && slots[slotStart[i + 1]!] === e) continue;
        if (collapse) emitLater(e, row, key, oldRow);
        else out.push(this.emit(row, key, e.state!, undefined, oldRow));
        continue;
      }
      const closeTime = this.ctx.streamTime - this.grace;
      let late = 0;
      for (let j = slotStart[i]!; j < slotStart[i + 1]!; j++) {
        const e = slots[j]!;
        const win = e.win!;
        if (win.end <= closeTime) {
          if (late++ === 0) this.dropLate(row, win, slotStart[i + 1]! - slotStart[i]!);
          continue;
        }
        // A new window enters the time index once, when it is created.
        if (e.state === undefined) store.put(TIME_INDEX, Buffer.concat([encodeKey([win.start]), e.sk]), 1);
        const oldRow = this.fold(e, row.ts, sign, args, dirty);
        if (this.spec.emitFinal) continue;
        if (collapse) emitLater(e, row, key, oldRow);
        else out.push(this.emit(row, key, e.state!, win, oldRow));
      }
    }
    // 3. Each changed group goes to the store once per batch (written at the commit).
    for (const e of dirty) {
      e.dirty = false;
      if (e.state === undefined) store.delete(AGG_STORE, e.sk);
      else {
        store.put(AGG_STORE, e.sk, e.state);
        if (this.spec.ttlMs !== undefined) store.put(TTL_INDEX, Buffer.concat([encodeKey([e.state[0]]), e.sk]), 1);
      }
    }
    for (const [e, p] of pending) out.push(this.emit(p.row, p.key, e.state!, e.win, p.old));
    if (this.spec.ttlMs !== undefined && this.ctx.streamTime > before && n > 0) {
      out.push(...(await this.expireRows(this.spec.ttlMs, wRow[n - 1]!)));
    }
    // 4. Windows that closed (EMIT FINAL) or expired as stream time moved.
    if (w && advances.length > 0) {
      const trigger = wRow[n - 1]!;
      if (this.spec.emitFinal) out.push(...(await this.releaseClosedWindows(w, before, advances, trigger)));
      await this.expireWindows(w, before);
    }
    return out;
  }

  /**
   * Adds (sign 1) or retracts (-1) one row's arguments in a group's state, in place. Returns the group's
   * result before (null: a new group; undefined: not needed downstream).
   */
  private fold(
    e: HotEntry,
    ts: number,
    sign: 1 | -1,
    args: (readonly unknown[])[],
    dirty: HotEntry[],
  ): unknown[] | null | undefined {
    const prev = e.state;
    const old = prev && this.spec.needsOld ? this.results(prev) : undefined;
    const state = prev ?? this.initState(ts);
    if (sign === 1) this.add(state, args);
    else this.retract(state, args);
    if (ts > (state[0] as number)) state[0] = ts;
    e.state = state;
    if (!e.dirty) {
      e.dirty = true;
      dirty.push(e);
    }
    return prev === undefined ? null : old;
  }

  private emit(
    row: Row,
    key: unknown[],
    state: State,
    win: Window | undefined,
    old: unknown[] | null | undefined,
  ): Row {
    const values = [...key, ...this.results(state)];
    if (win) values.push(win.start, win.end);
    const r: Row = { values, ts: state[0] as number, topic: row.topic, partition: row.partition, offset: row.offset };
    if (win) r.window = win;
    if (old !== undefined) r.old = old === null ? null : [...key, ...old, ...(win ? [win.start, win.end] : [])];
    return r;
  }

  // ---- Row TTL (unwindowed): groups not updated for `ttlMs` of stream time are deleted, with a tombstone.

  /**
   * The groups whose last update is `ttl` or more behind stream time, found through the TTL index: each is
   * deleted and yields its tombstone. Index entries of groups updated since are stale and only deleted.
   */
  private async expireRows(ttl: number, trigger: Row): Promise<Row[]> {
    const store = this.ctx.store;
    const cut = this.ctx.streamTime - ttl;
    const entries = await store.range(TTL_INDEX, { gte: Buffer.alloc(0), lt: prefixEnd(encodeKey([cut])) });
    if (entries.length === 0) return [];
    const sks = entries.map(([k]) => k.subarray(TIME_PREFIX_LEN));
    const keys = sks.map((sk) => decodeKey(sk));
    const hot = keys.map((k) => this.hot.get(groupId(k)));
    await store.prefetch(
      AGG_STORE,
      sks.filter((_, i) => hot[i] === undefined),
    );
    const out: Row[] = [];
    for (let i = 0; i < sks.length; i++) {
      store.delete(TTL_INDEX, entries[i]![0]);
      const e = hot[i];
      const state = (e ? e.state : store.get(AGG_STORE, sks[i]!)) as State | undefined;
      if (state === undefined || (state[0] as number) > cut) continue;
      store.delete(AGG_STORE, sks[i]!);
      if (e) e.state = undefined;
      out.push(this.expiredRow(keys[i]!, state, ttl, trigger));
    }
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** The tombstone of a group that expired (TTL), at the time it expired: its last update + the TTL. */
  private expiredRow(key: unknown[], state: State, ttl: number, trigger: Row): Row {
    const values = [...key, ...this.results(state)];
    const r: Row = {
      values,
      ts: (state[0] as number) + ttl,
      topic: trigger.topic,
      partition: trigger.partition,
      offset: trigger.offset,
      tombstone: true,
    };
    if (this.spec.needsOld) r.old = values;
    return r;
  }

  // ---- Time windows: EMIT FINAL and retention, through the time index.

  /** The hot entry of a group's window, if any. */
  private hotWindow(key: readonly unknown[], start: number): HotEntry | undefined {
    return this.hotWindows.get(groupId(key))?.get(start);
  }

  /** The stored states of the given windows (hot copies first, then one prefetch for the others). */
  private async windowStates(sks: readonly Buffer[], keys: readonly unknown[][], starts: readonly number[]) {
    const store = this.ctx.store;
    const hot = sks.map((_, i) => this.hotWindow(keys[i]!, starts[i]!));
    await store.prefetch(
      AGG_STORE,
      sks.filter((_, i) => hot[i]?.state === undefined),
    );
    return sks.map((sk, i) => (hot[i]?.state ?? store.get(AGG_STORE, sk)) as State | undefined);
  }

  /**
   * EMIT FINAL: the windows that closed in this batch (window end + grace in (before, stream time]), each
   * emitted once, in the order they closed. A window is emitted unless it was already past its retention at
   * the stream time that closed it (Kafka Streams' window store no longer returns it then).
   */
  private async releaseClosedWindows(w: AggregateWindow, before: number, advances: number[], trigger: Row) {
    const size = w.sizeMs ?? 0;
    const st = this.ctx.streamTime;
    // end + grace in (before, st]  <=>  start in (before - grace - size, st - grace - size]
    const from = prefixEnd(encodeKey([before - this.grace - size]));
    const to = prefixEnd(encodeKey([st - this.grace - size]));
    if (Buffer.compare(from, to) >= 0) return [];
    const entries = await this.ctx.store.range(TIME_INDEX, { gte: from, lt: to });
    const sks = entries.map(([k]) => k.subarray(TIME_PREFIX_LEN));
    const parts = sks.map((sk) => decodeKey(sk));
    const keys = parts.map((p) => p.slice(0, -1));
    const starts = parts.map((p) => p[p.length - 1] as number);
    const states = await this.windowStates(sks, keys, starts);
    const out: Row[] = [];
    for (let i = 0; i < sks.length; i++) {
      const start = starts[i]!;
      const state = states[i];
      if (state === undefined) continue;
      const closedAt = firstAtLeast(advances, start + size + this.grace);
      if (start < lastWindowStart(closedAt, w) - this.retention) continue;
      out.push(this.finalRow(keys[i]!, state, { start, end: start + size }, trigger));
    }
    return out;
  }

  /** Counts and logs a record that came after its window (the first of its `windows` that had closed). */
  private dropLate(row: Row, win: { start: number; end: number }, windows: number): void {
    const streamTime = this.ctx.streamTime;
    this.ctx.drop(
      "aggregate",
      "late",
      () =>
        `event time ${isoTime(row.ts)} is in the window ${isoTime(win.start)} .. ${isoTime(win.end)}` +
        `${windows > 1 ? ` (one of its ${windows})` : ""}, closed at stream time ${isoTime(streamTime)} ` +
        `(grace period ${this.grace} ms)`,
    );
  }

  /** A window's final result, emitted on behalf of `trigger` (the record whose stream time closed it). */
  private finalRow(key: unknown[], state: State, win: Window, trigger: Row): Row {
    const values = [...key, ...this.results(state), win.start, win.end];
    const ts = state[0] as number;
    const r: Row = {
      values,
      ts,
      topic: trigger.topic,
      partition: trigger.partition,
      offset: trigger.offset,
      window: win,
    };
    // Nothing was emitted for this window before: a HAVING that rejects it has nothing to delete downstream.
    if (this.spec.needsOld) r.old = null;
    return r;
  }

  /**
   * Deletes the time windows past their retention: start < (start of the newest window) - retention. Those
   * that expired in earlier batches are gone already, so only the range since the last cut is read.
   */
  private async expireWindows(w: AggregateWindow, before: number): Promise<void> {
    const store = this.ctx.store;
    const cut = lastWindowStart(this.ctx.streamTime, w) - this.retention;
    const previous = before < 0 ? -Infinity : lastWindowStart(before, w) - this.retention;
    if (cut <= previous) return;
    const from = previous === -Infinity ? Buffer.alloc(0) : encodeKey([previous]);
    const expired = await store.range(TIME_INDEX, { gte: from, lt: encodeKey([cut]) });
    for (const [k] of expired) {
      const sk = k.subarray(TIME_PREFIX_LEN);
      const parts = decodeKey(sk);
      const key = parts.slice(0, -1);
      const start = parts[parts.length - 1] as number;
      store.delete(TIME_INDEX, k);
      store.delete(AGG_STORE, sk);
      const id = groupId(key);
      const byStart = this.hotWindows.get(id);
      if (byStart?.delete(start)) {
        this.hotCount--;
        if (byStart.size === 0) this.hotWindows.delete(id);
      }
    }
  }

  // ---- Session windows

  /**
   * Session windows, record by record (Kafka Streams' session aggregation): a record joins the sessions of
   * its key that end at most `gap` before it and start at most `gap` after it; they merge into one. Sessions
   * past their retention are not seen (a record near one starts a new session), and a record whose merged
   * session would end before the close time (stream time - gap - grace) is late.
   */
  private async processSessions(rows: Row[], w: AggregateWindow): Promise<Row[]> {
    const store = this.ctx.store;
    const gap = w.gapMs ?? 0;
    const final = this.spec.emitFinal;
    const keyed: { r: Row; key: unknown[] }[] = [];
    for (const r of rows) {
      this.ctx.currentRow = r;
      if (r.tombstone) {
        this.ctx.drop("aggregate", "null-value", "a stream record without value has nothing to aggregate");
        continue;
      }
      const key = this.groupKey(r.values);
      if (key.includes(null)) this.ctx.drop("aggregate", "null-key", "the GROUP BY key is NULL");
      else keyed.push({ r, key });
    }
    if (keyed.length === 0) return [];
    // Each key's sessions, read once per batch (committed state with this batch's changes) and kept in
    // step with the store while the batch runs.
    const sessions = new Map<string, Session[]>();
    for (const { key } of keyed) {
      const prefix = encodeKey(key);
      const id = prefix.toString("latin1");
      if (sessions.has(id)) continue;
      const list: Session[] = [];
      for (const [sk, v] of await store.range(AGG_STORE, { gte: prefix, lt: prefixEnd(prefix) })) {
        const [start, end] = decodeKey(sk.subarray(prefix.length)) as [number, number];
        list.push({ sk, start, end, state: v as State });
      }
      sessions.set(id, list);
    }
    const before = this.ctx.streamTime;
    const closedBefore = before - gap - this.grace;
    const out: Row[] = [];
    for (const { r: row, key } of keyed) {
      this.ctx.currentRow = row;
      if (row.ts > this.ctx.streamTime) this.ctx.streamTime = row.ts;
      const closeTime = this.ctx.streamTime - gap - this.grace;
      const expiredUpTo = this.ctx.streamTime - this.retention;
      const list = sessions.get(encodeKey(key).toString("latin1"))!;
      const overlapping = list.filter((s) => s.end > expiredUpTo && s.end >= row.ts - gap && s.start <= row.ts + gap);
      let start = row.ts;
      let end = row.ts;
      for (const s of overlapping) {
        start = Math.min(start, s.start);
        end = Math.max(end, s.end);
      }
      if (end < closeTime) {
        this.dropLate(row, { start, end }, 1);
        continue;
      }
      const state = this.initState(end);
      for (const s of overlapping) {
        for (let a = 0; a < this.accs.length; a++) {
          const acc = this.accs[a]!;
          try {
            state[a + 1] = acc.merge ? acc.merge(state[a + 1], s.state[a + 1]) : s.state[a + 1];
          } catch (e) {
            this.failed(e, a);
          }
        }
      }
      this.add(state, this.argsOf(row.values));
      state[0] = end;
      const same = overlapping.find((s) => s.start === start && s.end === end);
      const old = same ? (this.spec.needsOld ? this.results(same.state) : undefined) : null;
      // Sessions that merged into the new one are removed. EMIT CHANGES sends a tombstone for each; EMIT
      // FINAL sends nothing for a session it never emitted, and the final result of one that had closed
      // earlier in this batch (possible when RETENTION keeps closed sessions visible).
      for (const s of overlapping) {
        list.splice(list.indexOf(s), 1);
        store.delete(AGG_STORE, s.sk);
        store.delete(TIME_INDEX, sessionIndexKey(key, s.start, s.end));
        if (s === same) continue; // replaced in place by the update below
        const win = { start: s.start, end: s.end };
        if (final) {
          if (s.end < closeTime && s.end >= closedBefore) out.push(this.finalRow(key, s.state, win, row));
          continue;
        }
        out.push({
          values: [...key, ...this.accs.map(() => null), s.start, s.end],
          ts: s.end,
          topic: row.topic,
          partition: row.partition,
          offset: row.offset,
          window: win,
          tombstone: true,
        });
      }
      const sk = encodeKey([...key, start, end]);
      list.push({ sk, start, end, state });
      store.put(AGG_STORE, sk, state);
      store.put(TIME_INDEX, sessionIndexKey(key, start, end), 1);
      if (!final) out.push(this.emit(row, key, state, { start, end }, old));
    }
    if (this.ctx.streamTime > before) {
      const trigger = keyed[keyed.length - 1]!.r;
      if (final) out.push(...(await this.releaseClosedSessions(gap, closedBefore, trigger)));
      await this.expireSessions(gap, before);
    }
    return out;
  }

  /** EMIT FINAL: sessions that closed in this batch (end in [close time before, close time now)), by end. */
  private async releaseClosedSessions(gap: number, closedBefore: number, trigger: Row): Promise<Row[]> {
    const closeTime = this.ctx.streamTime - gap - this.grace;
    const from = encodeKey([closedBefore]);
    const to = encodeKey([closeTime]);
    if (Buffer.compare(from, to) >= 0) return [];
    const entries = await this.ctx.store.range(TIME_INDEX, { gte: from, lt: to });
    const windows = entries.map(([k]) => sessionOfIndexKey(k));
    const sks = windows.map((s) => encodeKey([...s.key, s.start, s.end]));
    await this.ctx.store.prefetch(AGG_STORE, sks);
    const out: Row[] = [];
    for (let i = 0; i < windows.length; i++) {
      const s = windows[i]!;
      const state = this.ctx.store.get(AGG_STORE, sks[i]!) as State | undefined;
      if (state !== undefined) out.push(this.finalRow(s.key, state, { start: s.start, end: s.end }, trigger));
    }
    return out;
  }

  /**
   * Deletes sessions past their retention (end <= stream time - retention); with EMIT FINAL only once
   * they were emitted (end < close time).
   */
  private async expireSessions(gap: number, before: number): Promise<void> {
    const cutAt = (st: number) => {
      const expired = st - this.retention;
      return this.spec.emitFinal ? Math.min(expired, st - gap - this.grace - 1) : expired;
    };
    const store = this.ctx.store;
    const cut = cutAt(this.ctx.streamTime);
    const previous = before < 0 ? -Infinity : cutAt(before);
    if (cut <= previous) return;
    const from = previous === -Infinity ? Buffer.alloc(0) : encodeKey([previous]);
    for (const [k] of await store.range(TIME_INDEX, { gte: from, lt: prefixEnd(encodeKey([cut])) })) {
      const s = sessionOfIndexKey(k);
      store.delete(TIME_INDEX, k);
      store.delete(AGG_STORE, encodeKey([...s.key, s.start, s.end]));
    }
  }
}

/** A session of one key, as the session aggregation sees it during a batch. */
interface Session {
  readonly sk: Buffer;
  readonly start: number;
  readonly end: number;
  readonly state: State;
}

function sessionIndexKey(key: readonly unknown[], start: number, end: number): Buffer {
  return encodeKey([end, ...key, start]);
}

function sessionOfIndexKey(k: Buffer): { key: unknown[]; start: number; end: number } {
  const parts = decodeKey(k);
  return { key: parts.slice(1, -1), start: parts[parts.length - 1] as number, end: parts[0] as number };
}

function resolveAggregates(spec: AggregateSpec, functions: FunctionRegistry): ResolvedAggregate[] {
  return spec.aggregates.map((a) => {
    const def = functions.get(a.name);
    if (!def || def.kind !== "aggregate") throw new Error(`internal: ${a.name} is not an aggregate`);
    const infos: ArgInfo[] = a.args.map((e, i) =>
      e.kind === "Literal"
        ? { kind: "value", type: a.argTypes[i] ?? e.type, literal: { value: e.value } }
        : { kind: "value", type: a.argTypes[i] ?? e.type },
    );
    const r = def.resolve(infos);
    if (!r.ok) throw new Error(`internal: ${a.name}: ${r.message}`);
    return r.value;
  });
}

/**
 * The aggregate rows as the store holds them now (committed state): group key, results, and window bounds,
 * in the operator's output layout. Tables that an aggregation materializes are read this way (as ksqlDB
 * does), so the hot path writes each group's state once per commit and nothing else.
 */
async function* pointRead(store: PartitionStore, key: Buffer): AsyncGenerator<[Buffer, unknown]> {
  const v = await store.read(AGG_STORE, key);
  if (v !== undefined) yield [key, v];
}

/** The accumulators that turn a stored state into results, resolved once per spec and function registry. */
const resolvedForRead = new WeakMap<
  AggregateSpec,
  WeakMap<FunctionRegistry, ReturnType<typeof resolveAggregates>[number]["accumulator"][]>
>();
function readAccumulators(spec: AggregateSpec, functions: FunctionRegistry) {
  let byRegistry = resolvedForRead.get(spec);
  if (!byRegistry) resolvedForRead.set(spec, (byRegistry = new WeakMap()));
  let accs = byRegistry.get(functions);
  if (!accs) byRegistry.set(functions, (accs = resolveAggregates(spec, functions).map((r) => r.accumulator)));
  return accs;
}

export async function* readAggregates(
  spec: AggregateSpec,
  functions: FunctionRegistry,
  store: PartitionStore,
  /** Only groups whose encoded key (group values, then window) is in this range; default all. */
  range: { gte?: Buffer; lt?: Buffer } = {},
): AsyncGenerator<{ values: unknown[]; ts: number; window?: Window }> {
  const accs = readAccumulators(spec, functions);
  const n = spec.groupBy.length;
  const w = spec.window;
  // One group without windows (a pull query's key lookup): one committed read instead of an iterator.
  const point =
    !w &&
    range.gte !== undefined &&
    range.lt !== undefined &&
    range.lt.equals(prefixEnd(range.gte)) &&
    decodeKey(range.gte).length === n;
  const entries: AsyncIterable<[Buffer, unknown]> = point
    ? pointRead(store, range.gte!)
    : store.iterate(AGG_STORE, range);
  for await (const [k, v] of entries) {
    const parts = decodeKey(k);
    const state = v as State;
    const values = parts.slice(0, n);
    for (let i = 0; i < accs.length; i++) {
      let r: unknown;
      try {
        r = accs[i]!.result(state[i + 1]);
      } catch {
        // A failing result (user code) was reported when the state was folded; reading it gives NULL.
        r = null;
      }
      values.push(r === undefined ? null : r);
    }
    let window: Window | undefined;
    if (w) {
      const start = parts[n] as number;
      window = { start, end: w.type === "SESSION" ? (parts[n + 1] as number) : start + (w.sizeMs ?? 0) };
      values.push(window.start, window.end);
    }
    yield window ? { values, ts: state[0] as number, window } : { values, ts: state[0] as number };
  }
}

/** The first of the ascending `times` that is >= `t` (the stream time at which something due at `t` happened). */
function firstAtLeast(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! >= t) hi = mid;
    else lo = mid + 1;
  }
  return times[lo]!;
}

/** Appends to `out` the starts of the time windows that contain `ts`, oldest first (see {@link timeWindows}). */
export function windowStarts(ts: number, w: AggregateWindow, out: number[]): void {
  const size = w.sizeMs ?? 0;
  const advance = w.type === "HOPPING" ? (w.advanceMs ?? size) : size;
  if (size <= 0 || advance <= 0) return;
  const lastStart = ts - (((ts % advance) + advance) % advance);
  if (lastStart <= ts - size || lastStart < 0) return;
  let first = lastStart;
  while (first - advance > ts - size && first - advance >= 0) first -= advance;
  for (let start = first; start <= lastStart; start += advance) out.push(start);
}

/** The time windows that contain `ts` (TUMBLING: one; HOPPING: size / advance of them), oldest first. */
export function timeWindows(ts: number, w: AggregateWindow): Window[] {
  const size = w.sizeMs ?? 0;
  const advance = w.type === "HOPPING" ? (w.advanceMs ?? size) : size;
  if (size <= 0 || advance <= 0) return [];
  const out: Window[] = [];
  const lastStart = ts - (((ts % advance) + advance) % advance);
  for (let start = lastStart; start > ts - size; start -= advance) {
    if (start < 0) break;
    out.push({ start, end: start + size });
  }
  return out.reverse();
}

/** A time for the processing log: ISO 8601 when it is one, else the number. */
function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
