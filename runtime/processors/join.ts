/**
 * The join operator: two co-partitioned inputs (rows tagged `side` 0 = left, 1 = right), already
 * partitioned by the join key (a repartition stage runs first where needed), merged in timestamp order by
 * the task. Semantics follow Kafka Streams as ksqlDB uses it:
 *
 * - STREAM_TABLE: the table side is kept in the store `right` (latest row per key); each stream row looks
 *   its key up. Table updates emit nothing. LEFT emits the stream row with NULLs when nothing matches.
 * - STREAM_STREAM: both sides are buffered in stores `left`/`right` keyed by (join key, time, origin); a row
 *   joins the other side's rows whose time lies within `WITHIN (before, after)` of its own. Outer sides emit
 *   at once with NULLs when nothing matched yet (ksqlDB's behaviour without a GRACE PERIOD). Output time is the
 *   later of the two rows'.
 * - TABLE_TABLE: both sides kept by key; an update on either side re-joins with the other side's current row
 *   and emits the new joined row, or a tombstone when the key leaves the result.
 * - FOREIGN_KEY: the left table, repartitioned by its foreign-key expression, is kept by its own key with an
 *   index (foreign key, left key); a right update re-joins every left row that points at it.
 */
import type { JoinSpec } from "../../src/plan/topology.ts";
import { compileExprs, type CompiledExpr } from "../expr/compile.ts";
import { decodeKey, encodeKey } from "../state/keycodec.ts";
import type { Processor, ProcessorContext, Row } from "./types.ts";

const LEFT = "left";
const RIGHT = "right";
const FK_INDEX = "fkindex";
const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;

type Source =
  | { kind: "L"; i: number }
  | { kind: "R"; i: number }
  | { kind: "KEY" }
  | { kind: "TIME" }
  | { kind: "PARTITION" }
  | { kind: "OFFSET" }
  | { kind: "WS" }
  | { kind: "WE" };

type Stored = [values: unknown[], ts: number];

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
    const within = this.spec.within ?? { beforeMs: 0, afterMs: 0 };
    const grace = within.graceMs ?? DEFAULT_GRACE_MS;
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
      await this.ctx.store.loadPrefix(LEFT, p);
      await this.ctx.store.loadPrefix(RIGHT, p);
    }
    const out: Row[] = [];
    const outer = this.spec.joinType;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const key = keys[i];
      this.ctx.currentRow = r;
      if (r.ts > this.ctx.streamTime) this.ctx.streamTime = r.ts;
      if (key === null) {
        this.ctx.drop("join", "null-key", "the join key is NULL");
        continue;
      }
      const closeTime = this.ctx.streamTime - within.beforeMs - within.afterMs - grace;
      if (r.ts < closeTime) {
        this.ctx.drop(
          "join",
          "late",
          `event time ${r.ts} is before ${closeTime}, where the join window closed ` +
            `(stream time ${this.ctx.streamTime}, grace period ${grace} ms)`,
        );
        continue;
      }
      const isLeft = r.side !== 1;
      const prefix = this.storeKey(key, r);
      // This side's buffer: (key, time, origin) so equal times keep both rows.
      const own = Buffer.concat([prefix, encodeKey([r.ts, r.partition, r.offset])]);
      this.ctx.store.put(isLeft ? LEFT : RIGHT, own, [r.values, r.ts] satisfies Stored);
      // A left row at t joins right rows in [t - before, t + after]; a right row at t joins left rows in [t - after, t + before].
      const lo = isLeft ? r.ts - within.beforeMs : r.ts - within.afterMs;
      const hi = isLeft ? r.ts + within.afterMs : r.ts + within.beforeMs;
      let matched = false;
      for (const [suffix, v] of this.ctx.store.scanLoaded(isLeft ? RIGHT : LEFT, prefix)) {
        const [t] = decodeKey(suffix) as [number];
        if (t < lo || t > hi) continue;
        const other = v as Stored;
        matched = true;
        const ts = Math.max(r.ts, other[1]);
        out.push(isLeft ? this.joined(r.values, other[0], key, ts, r) : this.joined(other[0], r.values, key, ts, r));
      }
      if (!matched) {
        if (isLeft && (outer === "LEFT" || outer === "FULL")) out.push(this.joined(r.values, null, key, r.ts, r));
        if (!isLeft && (outer === "RIGHT" || outer === "FULL")) out.push(this.joined(null, r.values, key, r.ts, r));
      }
    }
    return out;
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
      if (has(l, rr)) out.push(this.joined(l?.[0] ?? null, rr?.[0] ?? null, outKey, ts, r));
      else if (has(lOld, rOld)) out.push(this.tombstone(lOld?.[0] ?? null, rOld?.[0] ?? null, outKey, ts, r));
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
