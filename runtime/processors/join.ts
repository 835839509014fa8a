/**
 * The join operator: two co-partitioned inputs (rows tagged `side` 0 = left, 1 = right), already
 * partitioned by the join key (a repartition stage runs first where needed), merged in timestamp order by
 * the task. Semantics follow Kafka Streams as ksqlDB uses it:
 *
 * - STREAM_TABLE: the table side is kept in the store `right` (latest row per key); each stream row looks
 *   its key up. Table updates emit nothing. LEFT emits the stream row with NULLs when nothing matches.
 * - STREAM_STREAM: both sides are buffered in stores `left`/`right` keyed by (join key, time, origin); a row
 *   joins the other side's rows whose time lies within `WITHIN (before, after)` of its own. Output time is the
 *   later of the two rows'. A row of an outer side (LEFT, RIGHT, FULL) that matched nothing when it arrived:
 *   - without GRACE PERIOD, is emitted at once with NULLs (ksqlDB's eager behaviour, kept for old queries);
 *   - with GRACE PERIOD (Kafka Streams' spurious-result fix, ksqlDB 0.23+), waits in the store `outer`
 *     (key: time, side, buffer key) until its join window has closed: a left row at t when
 *     t + after + grace < stream time, a right row when t + before + grace < stream time. A match arriving
 *     before that removes it; otherwise it is emitted with NULLs and its own time, just before the record
 *     that moved stream time past it is joined. A row that is already out of order by more than its window
 *     (t + after < stream time for a left row) is emitted at once, as Kafka Streams does.
 * - TABLE_TABLE: both sides kept by key; an update on either side re-joins with the other side's current row
 *   and emits the new joined row, or a tombstone when the key leaves the result.
 * - FOREIGN_KEY: the left table, repartitioned by its foreign-key expression, is kept by its own key with an
 *   index (foreign key, left key); a right update re-joins every left row that points at it.
 */
import { STORE, type JoinSpec } from "../../src/plan/topology.ts";
import { compileExprs, type CompiledExpr } from "../expr/compile.ts";
import { decodeKey, encodeKey, prefixEnd } from "../state/keycodec.ts";
import type { Processor, ProcessorContext, Row, Window } from "./types.ts";

const LEFT = STORE.left;
const RIGHT = STORE.right;
const FK_INDEX = STORE.foreignKeyIndex;
const OUTER = STORE.outer;
/** Time index of the stream-stream buffers: key `encodeKey([time, side])` + buffer key. */
const BUFFER_TIME = STORE.joinTime;
const DAY_MS = 24 * 60 * 60 * 1000;

type Source =
  | { kind: "L"; i: number }
  | { kind: "R"; i: number }
  | { kind: "KEY" }
  | { kind: "TIME" }
  | { kind: "PARTITION" }
  | { kind: "OFFSET" }
  | { kind: "WS" }
  | { kind: "WE" };

/** A buffered row; `waiting` when it also waits in the store `outer` for its join window to close. */
type Stored = [values: unknown[], ts: number, waiting?: 1];

/** A row waiting in the store `outer`: what its NULL-joined row needs. */
type Waiting = [values: unknown[], ts: number, topic: string, partition: number, offset: number, window?: Window];

/** An entry of the store `outer` held in memory during a batch. */
interface OuterEntry {
  readonly id: string;
  readonly key: Buffer;
  readonly side: 0 | 1;
  readonly joinKey: unknown;
  readonly row: Waiting;
  removed?: boolean;
}

/** Waiting rows in key order (time first), with removal by id; the oldest leave from the front. */
class WaitingRows {
  private list: OuterEntry[] = [];
  private head = 0;
  private readonly byId = new Map<string, OuterEntry>();

  get size(): number {
    return this.byId.size;
  }

  add(e: OuterEntry): void {
    let lo = this.head;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(this.list[mid]!.key, e.key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.list.splice(lo, 0, e);
    this.byId.set(e.id, e);
  }

  remove(id: string): void {
    const e = this.byId.get(id);
    if (!e) return;
    e.removed = true;
    this.byId.delete(id);
    while (this.head < this.list.length && this.list[this.head]!.removed) this.head++;
    if (this.head > 1024 && this.head * 2 > this.list.length) {
      this.list = this.list.slice(this.head);
      this.head = 0;
    }
  }

  /** The entries in key order (removed ones skipped). */
  *entries(): Generator<OuterEntry> {
    for (let i = this.head; i < this.list.length; i++) {
      const e = this.list[i]!;
      if (!e.removed) yield e;
    }
  }
}

export class JoinProcessor implements Processor {
  private ctx!: ProcessorContext;
  private leftKey!: CompiledExpr;
  private rightKey!: CompiledExpr;
  private layout!: Source[];

  constructor(private readonly spec: JoinSpec) {}

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    const onError = (e: unknown, where: string) => ctx.reportError(e, where);
    this.leftKey = compileExprs([this.spec.leftExpr], {
      columns: this.spec.leftColumns,
      functions: ctx.functions,
      onError,
    })[0]!;
    this.rightKey = compileExprs([this.spec.rightExpr], {
      columns: this.spec.rightColumns,
      functions: ctx.functions,
      onError,
    })[0]!;
    const li = new Map(this.spec.leftColumns.map((c, i) => [c, i] as const));
    const ri = new Map(this.spec.rightColumns.map((c, i) => [c, i] as const));
    this.layout = this.spec.outputColumns.map((name): Source => {
      if (name === this.spec.keyName && (name === "ROWKEY" || !li.has(name))) return { kind: "KEY" };
      const l = li.get(name);
      if (l !== undefined) return { kind: "L", i: l };
      const r = ri.get(name);
      if (r !== undefined) return { kind: "R", i: r };
      switch (name) {
        case "ROWTIME":
          return { kind: "TIME" };
        case "ROWPARTITION":
          return { kind: "PARTITION" };
        case "ROWOFFSET":
          return { kind: "OFFSET" };
        case "WINDOWSTART":
          return { kind: "WS" };
        case "WINDOWEND":
          return { kind: "WE" };
        default:
          throw new Error(`internal: joined column ${name} comes from neither side`);
      }
    });
  }

  private joined(
    left: readonly unknown[] | null,
    right: readonly unknown[] | null,
    key: unknown,
    ts: number,
    trigger: Row,
  ): Row {
    const values = this.layout.map((s) => {
      switch (s.kind) {
        case "L":
          return left ? (left[s.i] ?? null) : null;
        case "R":
          return right ? (right[s.i] ?? null) : null;
        case "KEY":
          return key;
        case "TIME":
          return ts;
        case "PARTITION":
          return trigger.partition;
        case "OFFSET":
          return trigger.offset;
        case "WS":
          return trigger.window?.start ?? null;
        case "WE":
          return trigger.window?.end ?? null;
      }
    });
    const r: Row = { values, ts, topic: trigger.topic, partition: trigger.partition, offset: trigger.offset };
    if (trigger.window) r.window = trigger.window;
    return r;
  }

  /** A deletion of the joined row for `key`; the rows it was made of fill in the key columns. */
  private tombstone(
    left: readonly unknown[] | null,
    right: readonly unknown[] | null,
    key: unknown,
    ts: number,
    trigger: Row,
  ): Row {
    const r = this.joined(left, right, key, ts, trigger);
    r.tombstone = true;
    return r;
  }

  async process(rows: Row[]): Promise<Row[]> {
    switch (this.spec.joinKind) {
      case "STREAM_TABLE":
        return this.streamTable(rows);
      case "STREAM_STREAM":
        return this.streamStream(rows);
      case "TABLE_TABLE":
        return this.tableTable(rows);
      case "FOREIGN_KEY":
        return this.foreignKey(rows);
    }
  }

  private keyOf(r: Row): unknown {
    return r.side === 1 ? this.rightKey(r.values) : this.leftKey(r.values);
  }

  /** Window bounds are part of the key when both sides are windowed (same window type and size). */
  private storeKey(key: unknown, r: Row): Buffer {
    return encodeKey(r.window ? [key, r.window.start, r.window.end] : [key]);
  }

  // ---- stream-table

  private async streamTable(rows: Row[]): Promise<Row[]> {
    rows = rows.filter((r) => r.side === 1 || !r.tombstone);
    const keys = rows.map((r) => {
      this.ctx.currentRow = r;
      return this.keyOf(r);
    });
    await this.ctx.store.prefetch(
      RIGHT,
      rows.map((r, i) => this.storeKey(keys[i], r)),
    );
    const out: Row[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const key = keys[i];
      this.ctx.currentRow = r;
      if (r.ts > this.ctx.streamTime) this.ctx.streamTime = r.ts;
      const sk = this.storeKey(key, r);
      if (r.side === 1) {
        if (r.tombstone) this.ctx.store.delete(RIGHT, sk);
        else this.ctx.store.put(RIGHT, sk, [r.values, r.ts] satisfies Stored);
        continue;
      }
      if (key === null) {
        if (this.spec.joinType === "LEFT") out.push(this.joined(r.values, null, key, r.ts, r));
        else this.ctx.drop("join", "null-key", "the join key is NULL");
        continue;
      }
      const match = this.ctx.store.get(RIGHT, sk) as Stored | undefined;
      if (match) out.push(this.joined(r.values, match[0], key, r.ts, r));
      else if (this.spec.joinType === "LEFT") out.push(this.joined(r.values, null, key, r.ts, r));
    }
    return out;
  }

  // ---- stream-stream

  private async streamStream(rows: Row[]): Promise<Row[]> {
    rows = rows.filter((r) => !r.tombstone);
    const store = this.ctx.store;
    const within = this.spec.within ?? { beforeMs: 0, afterMs: 0 };
    // Without GRACE PERIOD, ksqlDB's JoinWindows.of(before): 24 hours less twice the window, at least 0.
    const grace = within.graceMs ?? Math.max(DAY_MS - 2 * within.beforeMs, 0);
    // Buffered rows are kept (and seen) while their time > stream time - retention.
    const retention = within.beforeMs + within.afterMs + grace;
    const before = this.ctx.streamTime;
    const type = this.spec.joinType;
    const leftOuter = type === "LEFT" || type === "FULL";
    const rightOuter = type === "RIGHT" || type === "FULL";
    // With GRACE PERIOD, a non-joined row waits until its join window closed (see the file comment).
    const deferred = within.graceMs !== undefined && (leftOuter || rightOuter);
    const keys = rows.map((r) => {
      this.ctx.currentRow = r;
      return this.keyOf(r);
    });
    const prefixes = new Map<string, Buffer>();
    rows.forEach((r, i) => {
      const p = this.storeKey(keys[i], r);
      prefixes.set(p.toString("latin1"), p);
    });
    for (const p of prefixes.values()) {
      await store.loadPrefix(LEFT, p);
      await store.loadPrefix(RIGHT, p);
    }
    // The waiting rows that may close during this batch (time < horizon), in store order (time, side, key).
    const waiting = new WaitingRows();
    let horizon = -Infinity;
    if (deferred) {
      let end = this.ctx.streamTime;
      for (const r of rows) if (r.ts > end) end = r.ts;
      horizon = end - Math.min(within.beforeMs, within.afterMs) - grace;
      for (const [k, v] of await store.range(OUTER, { gte: Buffer.alloc(0), lt: encodeKey([horizon]) })) {
        waiting.add(outerEntry(k, v as Waiting));
      }
    }
    const out: Row[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const key = keys[i];
      this.ctx.currentRow = r;
      if (r.ts > this.ctx.streamTime) this.ctx.streamTime = r.ts;
      if (key === null) {
        this.ctx.drop("join", "null-key", "the join key is NULL");
        continue;
      }
      if (deferred && r.ts === this.ctx.streamTime && waiting.size > 0) {
        this.closeWaiting(waiting, within.beforeMs, within.afterMs, grace, r, out);
      }
      // A row older than the buffers' retention still joins what is left of the other side, but is not
      // buffered itself (Kafka Streams' window store drops it): nothing later can join it.
      const expiredUpTo = this.ctx.streamTime - retention;
      const buffered = r.ts > expiredUpTo;
      const isLeft = r.side !== 1;
      const prefix = this.storeKey(key, r);
      // This side's buffer: (key, time, origin) so equal times keep both rows.
      const own = Buffer.concat([prefix, encodeKey([r.ts, r.partition, r.offset])]);
      // A left row at t joins right rows in [t - before, t + after]; a right row at t joins left rows in [t - after, t + before].
      const lo = isLeft ? r.ts - within.beforeMs : r.ts - within.afterMs;
      const hi = isLeft ? r.ts + within.afterMs : r.ts + within.beforeMs;
      const otherStore = isLeft ? RIGHT : LEFT;
      let matched = false;
      for (const [suffix, v] of store.scanLoaded(otherStore, prefix)) {
        const [t] = decodeKey(suffix) as [number];
        if (t < lo || t > hi || t <= expiredUpTo) continue;
        const other = v as Stored;
        matched = true;
        const ts = Math.max(r.ts, other[1]);
        out.push(isLeft ? this.joined(r.values, other[0], key, ts, r) : this.joined(other[0], r.values, key, ts, r));
        if (other[2] === 1) {
          // The other row was waiting for a match: it has one now, so it never goes out with NULLs.
          const otherKey = Buffer.concat([prefix, suffix]);
          const ok = outerKey(isLeft ? 1 : 0, other[1], otherKey);
          store.delete(OUTER, ok);
          waiting.remove(ok.toString("latin1"));
          store.put(otherStore, otherKey, [other[0], other[1]] satisfies Stored);
        }
      }
      if (!buffered && !matched && !(isLeft ? leftOuter : rightOuter)) {
        // Too old to be buffered and nothing to join: the record leaves no trace.
        this.ctx.drop(
          "join",
          "late",
          `event time ${r.ts} is at or before ${expiredUpTo}, where the join window closed ` +
            `(stream time ${this.ctx.streamTime}, grace period ${grace} ms)`,
        );
        continue;
      }
      const mine: Stored = [r.values, r.ts];
      if (!matched && (isLeft ? leftOuter : rightOuter)) {
        const side = isLeft ? 0 : 1;
        const lookBack = isLeft ? within.afterMs : within.beforeMs;
        if (!deferred || r.ts + lookBack < this.ctx.streamTime) {
          out.push(isLeft ? this.joined(r.values, null, key, r.ts, r) : this.joined(null, r.values, key, r.ts, r));
        } else {
          const ok = outerKey(side, r.ts, own);
          const w: Waiting = [r.values, r.ts, r.topic, r.partition, r.offset];
          if (r.window) w.push(r.window);
          store.put(OUTER, ok, w);
          mine.push(1);
          if (r.ts < horizon) waiting.add(outerEntry(ok, w));
        }
      }
      if (buffered) {
        store.put(isLeft ? LEFT : RIGHT, own, mine);
        store.put(BUFFER_TIME, bufferTimeKey(isLeft ? 0 : 1, r.ts, own), 1);
      }
    }
    if (this.ctx.streamTime > before) await this.expireBuffers(before, retention);
    return out;
  }

  /** Deletes buffered rows past the retention (time <= stream time - retention), from where the last cut ended. */
  private async expireBuffers(before: number, retention: number): Promise<void> {
    const store = this.ctx.store;
    const cut = this.ctx.streamTime - retention;
    const from = before < 0 ? Buffer.alloc(0) : encodeKey([before - retention]);
    const to = prefixEnd(encodeKey([cut]));
    if (Buffer.compare(from, to) >= 0) return;
    for (const [k] of await store.range(BUFFER_TIME, { gte: from, lt: to })) {
      const side = decodeKey(k.subarray(0, TIME_SIDE_LEN))[1] as 0 | 1;
      store.delete(BUFFER_TIME, k);
      store.delete(side === 0 ? LEFT : RIGHT, k.subarray(TIME_SIDE_LEN));
    }
  }

  /**
   * Emits (with NULLs for the other side) the waiting rows whose join window has closed at the current
   * stream time, in store order, and removes them. `trigger` is the record that moved stream time: the
   * emitted rows are attributed to it (their origin downstream), with their own time and columns.
   */
  private closeWaiting(
    waiting: WaitingRows,
    beforeMs: number,
    afterMs: number,
    grace: number,
    trigger: Row,
    out: Row[],
  ): void {
    const st = this.ctx.streamTime;
    const closed: OuterEntry[] = [];
    for (const e of waiting.entries()) {
      const [values, ts, topic, partition, offset, window] = e.row;
      if (ts + Math.min(beforeMs, afterMs) + grace >= st) break; // open for both sides: so are all later ones
      if (ts + (e.side === 0 ? afterMs : beforeMs) + grace >= st) continue;
      const origin: Row = { values, ts, topic, partition, offset, ...(window ? { window } : {}) };
      const j =
        e.side === 0
          ? this.joined(values, null, e.joinKey, ts, origin)
          : this.joined(null, values, e.joinKey, ts, origin);
      out.push({ ...j, topic: trigger.topic, partition: trigger.partition, offset: trigger.offset });
      this.ctx.store.delete(OUTER, e.key);
      closed.push(e);
    }
    for (const e of closed) waiting.remove(e.id);
  }

  // ---- table-table on the primary key

  private async tableTable(rows: Row[]): Promise<Row[]> {
    const keys = rows.map((r) => {
      this.ctx.currentRow = r;
      return this.keyOf(r);
    });
    const sks = rows.map((r, i) => this.storeKey(keys[i], r));
    await this.ctx.store.prefetch(LEFT, sks);
    await this.ctx.store.prefetch(RIGHT, sks);
    const out: Row[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const key = keys[i];
      const sk = sks[i]!;
      this.ctx.currentRow = r;
      if (r.ts > this.ctx.streamTime) this.ctx.streamTime = r.ts;
      const isLeft = r.side !== 1;
      const mine = isLeft ? LEFT : RIGHT;
      const before = this.ctx.store.get(mine, sk) as Stored | undefined;
      if (r.tombstone) this.ctx.store.delete(mine, sk);
      else this.ctx.store.put(mine, sk, [r.values, r.ts] satisfies Stored);
      const other = this.ctx.store.get(isLeft ? RIGHT : LEFT, sk) as Stored | undefined;
      const now = r.tombstone ? undefined : ([r.values, r.ts] as Stored);
      const l = isLeft ? now : other;
      const rr = isLeft ? other : now;
      const lOld = isLeft ? before : other;
      const rOld = isLeft ? other : before;
      const ts = Math.max(r.ts, other?.[1] ?? -Infinity);
      const has = (a: Stored | undefined, b: Stored | undefined) => this.inResult(a !== undefined, b !== undefined);
      const outKey = key;
      // The result this record replaces, so a filter or an aggregation downstream knows what it retracts.
      const previous = has(lOld, rOld)
        ? this.joined(
            lOld?.[0] ?? null,
            rOld?.[0] ?? null,
            outKey,
            Math.max(lOld?.[1] ?? -Infinity, rOld?.[1] ?? -Infinity),
            r,
          ).values
        : null;
      let j: Row | undefined;
      if (has(l, rr)) j = this.joined(l?.[0] ?? null, rr?.[0] ?? null, outKey, ts, r);
      else if (previous) j = this.tombstone(lOld?.[0] ?? null, rOld?.[0] ?? null, outKey, ts, r);
      if (j) {
        j.old = previous;
        out.push(j);
      }
    }
    return out;
  }

  private inResult(left: boolean, right: boolean): boolean {
    switch (this.spec.joinType) {
      case "INNER":
        return left && right;
      case "LEFT":
        return left;
      case "RIGHT":
        return right;
      case "FULL":
        return left || right;
    }
  }

  // ---- foreign key

  private async foreignKey(rows: Row[]): Promise<Row[]> {
    const lk = this.spec.leftKeyCount;
    const out: Row[] = [];
    for (const r of rows) {
      this.ctx.currentRow = r;
      if (r.ts > this.ctx.streamTime) this.ctx.streamTime = r.ts;
      if (r.side === 1) {
        const rk = this.rightKey(r.values);
        const rsk = encodeKey([rk]);
        await this.ctx.store.prefetch(RIGHT, [rsk]);
        const before = this.ctx.store.get(RIGHT, rsk) as Stored | undefined;
        if (r.tombstone) this.ctx.store.delete(RIGHT, rsk);
        else this.ctx.store.put(RIGHT, rsk, [r.values, r.ts] satisfies Stored);
        await this.ctx.store.loadPrefix(FK_INDEX, rsk);
        const lefts = this.ctx.store.scanLoaded(FK_INDEX, rsk).map(([leftKey]) => leftKey);
        await this.ctx.store.prefetch(LEFT, lefts);
        for (const lsk of lefts) {
          const left = this.ctx.store.get(LEFT, lsk) as Stored | undefined;
          if (!left) continue;
          const leftKey = left[0].slice(0, lk);
          const ts = Math.max(r.ts, left[1]);
          if (!r.tombstone) out.push(this.joined(left[0], r.values, leftKey[0], ts, r));
          else if (this.spec.joinType === "LEFT") out.push(this.joined(left[0], null, leftKey[0], ts, r));
          else if (before) out.push(this.tombstone(left[0], before[0], leftKey[0], ts, r));
        }
        continue;
      }
      // Left: `values` is the new row (absent on a retraction), `old` the row it replaces.
      const source = r.tombstone ? r.old : r.values;
      if (!source) continue;
      const leftKey = source.slice(0, lk);
      const lsk = encodeKey(leftKey);
      await this.ctx.store.prefetch(LEFT, [lsk]);
      const before = this.ctx.store.get(LEFT, lsk) as Stored | undefined;
      if (before) {
        const oldFk = this.leftKey(before[0]);
        this.ctx.store.delete(FK_INDEX, Buffer.concat([encodeKey([oldFk]), lsk]));
      }
      if (r.tombstone) {
        this.ctx.store.delete(LEFT, lsk);
        // A retraction sent here because the foreign key moved to another partition emits nothing: the
        // partition of the new key emits the new result. A deleted row leaves the result.
        // Like Kafka Streams' foreign-key join, a deleted left row always yields a tombstone, joined or not.
        if (before && !r.movedAway) out.push(this.tombstone(before[0], null, leftKey[0], r.ts, r));
        continue;
      }
      const fk = this.leftKey(r.values);
      this.ctx.store.put(LEFT, lsk, [r.values, r.ts] satisfies Stored);
      if (fk !== null) this.ctx.store.put(FK_INDEX, Buffer.concat([encodeKey([fk]), lsk]), 1);
      const rsk = encodeKey([fk]);
      await this.ctx.store.prefetch(RIGHT, [rsk]);
      const right = fk === null ? undefined : (this.ctx.store.get(RIGHT, rsk) as Stored | undefined);
      const ts = Math.max(r.ts, right?.[1] ?? -Infinity);
      if (right) out.push(this.joined(r.values, right[0], leftKey[0], ts, r));
      else if (this.spec.joinType === "LEFT") out.push(this.joined(r.values, null, leftKey[0], ts, r));
      else if (before) out.push(this.tombstone(before[0], null, leftKey[0], ts, r));
    }
    return out;
  }
}

/** The key of a waiting row in the store `outer`: time, side, then its buffer key (join key, time, origin). */
function outerKey(side: 0 | 1, ts: number, bufferKey: Buffer): Buffer {
  return Buffer.concat([encodeKey([ts, side]), bufferKey]);
}

/** The key of a buffered row in the time index `jointime`: time, side, then its buffer key. */
function bufferTimeKey(side: 0 | 1, ts: number, bufferKey: Buffer): Buffer {
  return Buffer.concat([encodeKey([ts, side]), bufferKey]);
}

/** Length of `encodeKey([time, side])`, the head of `outer` and `jointime` keys. */
const TIME_SIDE_LEN = encodeKey([0, 0]).length;

function outerEntry(key: Buffer, row: Waiting): OuterEntry {
  const parts = decodeKey(key);
  return { id: key.toString("latin1"), key, side: parts[1] as 0 | 1, joinKey: parts[2], row };
}
