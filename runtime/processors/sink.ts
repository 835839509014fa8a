/**
 * Stage outputs: the query's sink topic (CSAS stream, CTAS changelog) and internal repartition topics.
 *
 * The sink of a table also materializes it: the store `table` keeps the latest output row of every key
 * (and window), written in the same atomic commit as the aggregation state, so pull queries and `esql run`
 * read the table without scanning its topic.
 */
import { STORE, type AggregateWindow, type RepartitionSpec, type SinkSpec } from "../../src/plan/topology.ts";
import { compileExprs, type CompiledExpr } from "../expr/compile.ts";
import { partitionForKey } from "../log/partition.ts";
import type { LogHeader, ProduceRecord } from "../log/types.ts";
import { joinWindowedKey, sourceSerdes, type SourceSerdes } from "../serde/formats.ts";
import { encodeInternal, type InternalValue } from "../serde/internal.ts";
import { decodeKey, encodeKey } from "../state/keycodec.ts";
import type { ProcessorContext, Row } from "./types.ts";
import { lastWindowStart, windowTimes } from "../../src/plan/window.ts";

export const TABLE_STORE = STORE.table;
const TABLE_TIME = STORE.tableTime;
const HISTORY_STORE = STORE.history;
const HISTORY_END = STORE.historyEnd;
const HISTORY_LAST = STORE.historyLast;
const TIME_PREFIX_LEN = encodeKey([0]).length;

/** Header that makes internal topics idempotent: `<partition>:<offset>:<seq>` of the producing input record. */
export const ORIGIN_HEADER = "esql-origin";

export interface StageOutput {
  readonly topic: string;
  init(ctx: ProcessorContext): void;
  /** Records for the output topic, in order, and the store writes that go with them. */
  toRecords(rows: readonly Row[]): ProduceRecord[] | Promise<ProduceRecord[]>;
}

export class SinkOutput implements StageOutput {
  readonly topic: string;
  private serdes!: SourceSerdes;
  private keyIdx!: number[];
  private valueIdx!: number[];
  private ctx!: ProcessorContext;
  /** `WITH (TIMESTAMP = 'col')` on the sink: the record time comes from that output column. */
  private timestampOf: ((values: readonly unknown[]) => number | null) | undefined;

  constructor(private readonly spec: SinkSpec) {
    this.topic = spec.sink.topic;
  }

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    this.serdes = sourceSerdes(this.spec.sink);
    const ts = this.spec.sink.timestamp;
    if (ts) {
      const i = this.spec.columns.indexOf(ts.column);
      const col = this.spec.sink.columns.find((c) => c.name === ts.column);
      if (i >= 0 && col?.type.kind === "STRING") {
        const parse = ctx.functions.get("PARSE_TIMESTAMP");
        const r =
          parse?.kind === "scalar"
            ? parse.resolve([
                { kind: "value", type: col.type },
                { kind: "value", type: col.type },
              ])
            : undefined;
        const impl = r?.ok ? r.value.impl : undefined;
        const format = ts.format ?? "yyyy-MM-dd'T'HH:mm:ss.SSS";
        this.timestampOf = (values) => {
          const v = values[i];
          return v === null || v === undefined || !impl ? null : (impl(v, format) as number | null);
        };
      } else if (i >= 0) {
        this.timestampOf = (values) => (typeof values[i] === "number" ? (values[i] as number) : null);
      }
    }
    const idx = (name: string) => {
      const i = this.spec.columns.indexOf(name);
      if (i < 0) throw new Error(`internal: sink column ${name} not in (${this.spec.columns.join(", ")})`);
      return i;
    };
    this.keyIdx = this.serdes.keyColumns.map((c) => idx(c.name));
    this.valueIdx = this.serdes.valueColumns.map((c) => idx(c.name));
  }

  toRecords(rows: readonly Row[]): ProduceRecord[] | Promise<ProduceRecord[]> {
    const out = this.records(rows);
    if (this.spec.history) return this.recordHistory(this.spec.history.retentionMs).then(() => out);
    return this.spec.retainWindows ? this.expireWindows(this.spec.retainWindows).then(() => out) : out;
  }

  /** The rows `records` wrote in this batch, for the history (`HISTORY_RETENTION`). */
  private versions: { key: unknown[]; ts: number; values: unknown[] | null }[] = [];

  /**
   * Keeps the batch's rows as versions in the store `history` (key columns, then the version's time), and
   * purges the versions a newer one replaced more than `retentionMs` of stream time ago. A version's time is
   * its row's time, or the key's latest version's when that is later (a late update replaces the latest
   * version). The version each new one replaces is indexed in `historyend` by the new one's time; a tombstone
   * also by its own time (once it is beyond the retention, nothing before it is needed either).
   */
  private async recordHistory(retentionMs: number): Promise<void> {
    const store = this.ctx.store;
    const versions = this.versions;
    this.versions = [];
    if (versions.length > 0) {
      const keys = versions.map((v) => encodeKey(v.key));
      await store.prefetch(HISTORY_LAST, keys);
      for (let i = 0; i < versions.length; i++) {
        const v = versions[i]!;
        const k = keys[i]!;
        const last = store.get(HISTORY_LAST, k) as number | undefined;
        const at = last !== undefined && last > v.ts ? last : v.ts;
        if (last !== undefined && at > last)
          store.put(HISTORY_END, Buffer.concat([encodeKey([at]), encodeKey([...v.key, last])]), 1);
        const vk = encodeKey([...v.key, at]);
        store.put(HISTORY_STORE, vk, v.values);
        if (v.values === null) store.put(HISTORY_END, Buffer.concat([encodeKey([at]), vk]), 1);
        store.put(HISTORY_LAST, k, at);
      }
    }
    const cut = this.ctx.streamTime - retentionMs;
    if (cut <= this.purgedBefore) return;
    const from = this.purgedBefore === -Infinity ? Buffer.alloc(0) : encodeKey([this.purgedBefore + 1]);
    const gone = await store.range(HISTORY_END, { gte: from, lt: encodeKey([cut + 1]) });
    const lasts: Buffer[] = [];
    for (const [k] of gone) {
      const vk = k.subarray(TIME_PREFIX_LEN);
      store.delete(HISTORY_END, k);
      store.delete(HISTORY_STORE, vk);
      lasts.push(vk);
    }
    // A key whose latest version went (a tombstone beyond the retention) has no history left.
    if (lasts.length > 0) {
      const keyOf = lasts.map((vk) => {
        const parts = decodeKey(vk);
        return { key: encodeKey(parts.slice(0, -1)), at: parts[parts.length - 1] as number };
      });
      await store.prefetch(
        HISTORY_LAST,
        keyOf.map((x) => x.key),
      );
      for (const x of keyOf) if (store.get(HISTORY_LAST, x.key) === x.at) store.delete(HISTORY_LAST, x.key);
    }
    this.purgedBefore = cut;
  }

  /** Versions replaced at or before this time are purged already (since this task started). */
  private purgedBefore = -Infinity;

  /**
   * Deletes the kept windows past their retention, as the aggregation deletes its own (see aggregate.ts): a
   * time window when its start < (start of the newest window) - retention, a session when its end <= stream
   * time - retention.
   */
  private async expireWindows(w: AggregateWindow): Promise<void> {
    const { retentionMs } = windowTimes(w, true);
    const now = this.ctx.streamTime;
    const cut = w.type === "SESSION" ? now - retentionMs + 1 : lastWindowStart(now, w) - retentionMs;
    if (cut <= this.expiredBefore) return;
    const from = this.expiredBefore === -Infinity ? Buffer.alloc(0) : encodeKey([this.expiredBefore]);
    for (const [k] of await this.ctx.store.range(TABLE_TIME, { gte: from, lt: encodeKey([cut]) })) {
      this.ctx.store.delete(TABLE_TIME, k);
      this.ctx.store.delete(TABLE_STORE, k.subarray(TIME_PREFIX_LEN));
    }
    this.expiredBefore = cut;
  }

  /** Kept windows whose time is below this are deleted already (since this task started). */
  private expiredBefore = -Infinity;

  private records(rows: readonly Row[]): ProduceRecord[] {
    const out: ProduceRecord[] = [];
    const windowType = this.spec.sink.window?.type;
    const keyRows = rows.map((r) => this.keyIdx.map((i) => r.values[i] ?? null));
    let keep: boolean[] | undefined;
    if (this.spec.materialize && this.ctx.execution.recordCache && rows.length > 1) {
      // Only the last update of each key (and window) in the batch is written.
      keep = new Array<boolean>(rows.length).fill(false);
      const seen = new Set<string>();
      for (let i = rows.length - 1; i >= 0; i--) {
        const r = rows[i]!;
        const id = encodeKey(r.window ? [...keyRows[i]!, r.window.start, r.window.end] : keyRows[i]!).toString(
          "latin1",
        );
        if (seen.has(id)) continue;
        seen.add(id);
        keep[i] = true;
      }
    }
    for (let ri = 0; ri < rows.length; ri++) {
      if (keep && !keep[ri]) continue;
      const r = rows[ri]!;
      this.ctx.currentRow = r;
      const keyRow = keyRows[ri]!;
      let key: Buffer | null;
      let value: Buffer | null;
      try {
        key = r.nullKey && !this.spec.rekeyed ? null : this.serdes.key.serialize(keyRow);
        value = r.tombstone ? null : this.serdes.value.serialize(this.valueIdx.map((i) => r.values[i] ?? null));
      } catch (e) {
        this.ctx.drop("sink", "error", e, { operation: "serialize" });
        continue;
      }
      let partition: number | undefined;
      if (windowType && r.window) {
        // Kafka Streams partitions windowed records by the key without its window.
        if (key !== null) partition = partitionForKey(key, this.spec.partitions);
        key = joinWindowedKey(key, r.window, windowType);
      }
      let timestamp = r.ts;
      if (this.timestampOf && !r.tombstone) {
        let t: number | null;
        try {
          t = this.timestampOf(r.values);
        } catch (e) {
          this.ctx.drop("sink", "error", e, { operation: "timestamp" });
          continue;
        }
        if (t === null || t < 0) {
          this.ctx.drop("sink", "error", `invalid timestamp ${String(t)} in ${this.spec.sink.timestamp!.column}`, {
            operation: "timestamp",
          });
          continue;
        }
        timestamp = t;
      }
      const rec: ProduceRecord = { key, value, timestamp, ...(partition === undefined ? {} : { partition }) };
      out.push(r.headers && !r.tombstone ? { ...rec, headers: r.headers } : rec);
      if (this.spec.history) this.versions.push({ key: keyRow, ts: r.ts, values: r.tombstone ? null : r.values });
      if (this.spec.materialize) {
        const sk = encodeKey(r.window ? [...keyRow, r.window.start, r.window.end] : keyRow);
        if (r.tombstone) this.ctx.store.delete(TABLE_STORE, sk);
        else this.ctx.store.put(TABLE_STORE, sk, [r.values, r.ts]);
        if (this.spec.retainWindows && r.window) {
          const t = this.spec.retainWindows.type === "SESSION" ? r.window.end : r.window.start;
          const ik = Buffer.concat([encodeKey([t]), sk]);
          if (r.tombstone) this.ctx.store.delete(TABLE_TIME, ik);
          else this.ctx.store.put(TABLE_TIME, ik, null);
        }
      }
      this.ctx.metrics.recordsOut++;
    }
    return out;
  }
}

export class RepartitionOutput implements StageOutput {
  readonly topic: string;
  private keyFns!: CompiledExpr[];
  private ctx!: ProcessorContext;

  constructor(private readonly spec: RepartitionSpec) {
    this.topic = spec.topic;
  }

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    this.keyFns = compileExprs(this.spec.keyExprs, {
      columns: this.spec.columns,
      functions: ctx.functions,
      onError: (e, where) => ctx.reportError(e, where),
    });
  }

  private keyOf(values: readonly unknown[]): Buffer {
    return encodeKey(this.keyFns.map((f) => f(values)));
  }

  toRecords(rows: readonly Row[]): ProduceRecord[] {
    const out: ProduceRecord[] = [];
    let seq = 0;
    let lastOrigin = "";
    // The origin names the input topic too: a join's two inputs have overlapping partitions and offsets, and
    // the next stage keeps one high-water mark per origin topic and partition.
    const origin = (r: Row): LogHeader[] => {
      const base = `${r.topic}:${r.partition}:${r.offset}`;
      seq = base === lastOrigin ? seq + 1 : 0;
      lastOrigin = base;
      // Topic names are ASCII (Kafka allows [a-zA-Z0-9._-]): latin1 skips the UTF-8 encoder.
      return [{ key: ORIGIN_HEADER, value: Buffer.from(`${base}:${seq}`, "latin1") }];
    };
    const push = (key: Buffer, value: InternalValue, r: Row) => {
      out.push({
        key,
        value: encodeInternal(value),
        timestamp: r.ts,
        partition: partitionForKey(key, this.spec.partitions),
        headers: origin(r),
      });
    };
    for (const r of rows) {
      this.ctx.currentRow = r;
      const w = r.window;
      if (!this.spec.fromTable) {
        push(this.keyOf(r.values), r.tombstone ? { v: null, o: r.values, w } : { v: r.values, w }, r);
        continue;
      }
      const newKey = r.tombstone ? undefined : this.keyOf(r.values);
      // A tombstone that does not know the row it deletes (a join's) still carries its key columns.
      const oldRow = r.old ?? (r.tombstone ? r.values : undefined);
      const oldKey = oldRow ? this.keyOf(oldRow) : undefined;
      if (newKey && oldKey && newKey.equals(oldKey)) push(newKey, { v: r.values, o: r.old ?? null, w }, r);
      else {
        if (oldKey) push(oldKey, { v: null, o: oldRow ?? null, w, m: newKey !== undefined }, r);
        if (newKey) push(newKey, { v: r.values, o: null, w }, r);
      }
    }
    return out;
  }
}
