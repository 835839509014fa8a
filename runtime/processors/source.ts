/**
 * The source operator: decodes log records of a catalog source into rows, extracts the event time, and
 * adds the pseudo columns. A record that cannot be decoded goes to the processing log; the query goes on.
 *
 * Output row: key columns, value and header columns (declaration order), ROWTIME, ROWPARTITION, ROWOFFSET,
 * then WINDOWSTART, WINDOWEND for a windowed source.
 *
 * For a TABLE source the operator keeps the latest row of every key in the store `source`, so each row it
 * emits carries `old` (the previous row, or null): what table filters and aggregations need to retract.
 */
import type { CatalogSource } from "../../src/plan/source.ts";
import { keysFirst, sourceRowColumns, STORE } from "../../src/plan/topology.ts";
import type { SqlType } from "../../src/types/sqltype.ts";
import type { LogRecord } from "../log/types.ts";
import { sourceSerdes, splitWindowedKey, type SourceSerdes } from "../serde/formats.ts";
import { encodeKey } from "../state/keycodec.ts";
import { OutOfRangeError } from "../serde/types.ts";
import type { DropReason, ProcessorContext, Row } from "./types.ts";

export const SOURCE_STORE = STORE.source;

export class SourceProcessor {
  private serdes!: SourceSerdes;
  private ctx!: ProcessorContext;
  /** For each row position after the key: where the value comes from. */
  private layout!: ({ kind: "value"; index: number } | { kind: "headers" } | { kind: "header"; key: string })[];
  private extractTime!: (row: unknown[], record: LogRecord) => number | null;
  private readonly isTable: boolean;

  /** `storeName`: where a table source keeps its rows (distinct per input of a two-input stage). */
  constructor(
    private readonly source: CatalogSource,
    private readonly storeName: string = SOURCE_STORE,
    /** The value columns to decode (the plan's column pruning, `StageInputPlan.decode`); default all. */
    private readonly decodeColumns?: readonly string[],
  ) {
    this.isTable = source.sourceType === "TABLE";
  }

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    this.serdes = sourceSerdes(this.source, this.decodeColumns);
    const valueNames = this.serdes.valueColumns.map((c) => c.name);
    this.layout = keysFirst(this.source.columns)
      .filter((c) => c.namespace !== "KEY")
      .map((c) =>
        c.namespace === "VALUE"
          ? { kind: "value" as const, index: valueNames.indexOf(c.name) }
          : c.headerKey === undefined
            ? { kind: "headers" as const }
            : { kind: "header" as const, key: c.headerKey },
      );
    this.extractTime = this.timestampExtractor();
  }

  private timestampExtractor(): (row: unknown[], record: LogRecord) => number | null {
    const ts = this.source.timestamp;
    if (!ts) return (_row, r) => r.timestamp;
    const names = sourceRowColumns(this.source);
    const i = names.indexOf(ts.column);
    const col = this.source.columns.find((c) => c.name === ts.column);
    if (i < 0 || !col) throw new Error(`internal: timestamp column ${ts.column} not in ${this.source.name}`);
    const type: SqlType = col.type;
    if (type.kind === "STRING") {
      const parse = this.ctx.functions.get("PARSE_TIMESTAMP");
      if (!parse || parse.kind !== "scalar") throw new Error("internal: PARSE_TIMESTAMP missing");
      const r = parse.resolve([
        { kind: "value", type },
        { kind: "value", type },
      ]);
      if (!r.ok) throw new Error(`internal: ${r.message}`);
      const impl = r.value.impl;
      const format = ts.format ?? "yyyy-MM-dd'T'HH:mm:ss.SSS";
      return (row) => {
        const v = row[i];
        return v === null || v === undefined ? null : (impl(v, format) as number | null);
      };
    }
    return (row) => {
      const v = row[i];
      return typeof v === "number" ? v : null;
    };
  }

  /** Decodes one batch of one partition and, for a table source, tells each row what it replaces. */
  async process(records: readonly LogRecord[]): Promise<Row[]> {
    return this.track(this.decode(records));
  }

  /**
   * Decodes records into rows (event time extracted, pseudo columns added). Touches no store, so a task can
   * decode records ahead of folding them; records that cannot be decoded go to the processing log.
   */
  decode(records: readonly LogRecord[]): Row[] {
    const rows: Row[] = [];
    const { key: keySerde, value: valueSerde } = this.serdes;
    const window = this.source.window;
    const keyCount = this.serdes.keyColumns.length;
    const layout = this.layout;
    const width = keyCount + layout.length + 3 + (window ? 2 : 0);
    for (const rec of records) {
      this.ctx.currentRow = rec; // a record names its topic, partition and offset itself
      let keyRow: unknown[] | null;
      let valueRow: unknown[] | null;
      let win: { start: number; end: number } | undefined;
      try {
        let keyBytes = rec.key;
        if (window && keyBytes !== null) {
          const split = splitWindowedKey(keyBytes, window);
          keyBytes = split.key;
          win = split.window;
        }
        keyRow = keySerde.deserialize(keyBytes);
      } catch (e) {
        this.ctx.drop("source", undecodable(e), e, { operation: "deserialize key" });
        continue;
      }
      try {
        valueRow = valueSerde.deserialize(rec.value);
      } catch (e) {
        this.ctx.drop("source", undecodable(e), e, { operation: "deserialize value" });
        continue;
      }
      if (this.isTable && keyCount > 0 && keyRow === null) {
        // A table's rows are identified by their key: a record without one updates nothing (as Kafka Streams).
        this.ctx.drop("source", "null-key", `a record of table ${this.source.name} has no key`);
        continue;
      }
      // The row is filled in place: one array of its final width.
      const values: unknown[] = new Array(width);
      let at = 0;
      for (; at < keyCount; at++) values[at] = keyRow === null ? null : (keyRow[at] ?? null);
      for (let li = 0; li < layout.length; li++, at++) {
        const l = layout[li]!;
        if (l.kind === "value") values[at] = valueRow === null ? null : (valueRow[l.index] ?? null);
        else if (l.kind === "headers") values[at] = rec.headers.map((h) => ({ KEY: h.key, VALUE: h.value }));
        else {
          let v: Buffer | null = null;
          for (const h of rec.headers) if (h.key === l.key) v = h.value;
          values[at] = v;
        }
      }
      values[at++] = rec.timestamp;
      values[at++] = rec.partition;
      values[at++] = rec.offset;
      if (window) {
        values[at++] = win?.start ?? null;
        values[at] = win?.end ?? null;
      }
      let ts: number | null = rec.timestamp;
      if (valueRow !== null) {
        try {
          ts = this.extractTime(values, rec);
        } catch (e) {
          this.ctx.drop("source", "error", e, { operation: "timestamp" });
          continue;
        }
        if (ts === null || ts < 0) {
          this.ctx.drop("source", "error", `invalid timestamp ${String(ts)}`, { operation: "timestamp" });
          continue;
        }
        values[values.length - (window ? 5 : 3)] = ts; // ROWTIME is the extracted event time
      }
      const row: Row = { values, ts, topic: rec.topic, partition: rec.partition, offset: rec.offset };
      if (win) row.window = win;
      if (keyRow === null && keyCount > 0) row.nullKey = true;
      if (rec.headers.length > 0) row.headers = rec.headers;
      if (valueRow === null) row.tombstone = true;
      rows.push(row);
    }
    return rows;
  }

  /**
   * The stateful half of a source: a table source keeps the latest row per key in its store and sets each
   * row's `old`; tombstones of absent keys are dropped. Must run in processing order, as part of the batch
   * whose commit records the rows' offsets. A stream source returns the rows as they are.
   */
  async track(rows: Row[]): Promise<Row[]> {
    if (this.isTable) await this.trackTable(rows);
    return rows;
  }

  /** Keeps the latest row per key, and tells each row what it replaces. */
  private async trackTable(rows: Row[]): Promise<void> {
    const keyCount = this.serdes.keyColumns.length;
    const keys = rows.map((r) => this.storeKey(r, keyCount));
    await this.ctx.store.prefetch(this.storeName, keys);
    const out: Row[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const k = keys[i]!;
      const prev = this.ctx.store.get(this.storeName, k) as unknown[] | undefined;
      r.old = prev ?? null;
      if (r.tombstone) {
        if (prev === undefined) continue; // deleting a key that does not exist changes nothing
        this.ctx.store.delete(this.storeName, k);
      } else {
        this.ctx.store.put(this.storeName, k, r.values);
      }
      out.push(r);
    }
    rows.length = 0;
    rows.push(...out);
  }

  private storeKey(r: Row, keyCount: number): Buffer {
    const key = r.values.slice(0, keyCount);
    if (r.window) key.push(r.window.start, r.window.end);
    return encodeKey(key);
  }
}

/** Why a record that failed to deserialize is dropped: a value beyond its type's range, or bytes that do not decode. */
function undecodable(e: unknown): DropReason {
  return e instanceof OutOfRangeError ? "out-of-range" : "undecodable";
}
