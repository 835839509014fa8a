/**
 * A stage (sub-topology) of a persistent query and the task that runs it for one partition of its inputs.
 *
 * A task's loop, one batch at a time: read records from its partition of each input at the offsets its
 * store holds, decode them, merge the inputs in timestamp order (joins), run the rows through the
 * processors, append what comes out to the output topic, then commit the store: state changes and the new
 * input offsets in one atomic LevelDB batch. A crash between the append and the commit repeats the batch:
 * state never counts a record twice (it was not committed), and internal topics are idempotent (each
 * record carries its origin; the next stage skips origins it has already folded), so only the user-visible
 * sink topic can see a repeated record (at-least-once).
 */
import { deserialize } from "node:v8";
import type { CatalogSource } from "../../src/semantic/catalog.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import {
  LogError,
  supportsTransactions,
  type EventLog,
  type LogRecord,
  type LogTransaction,
  type TransactionalLog,
} from "../log/types.ts";
import { SourceProcessor, SOURCE_STORE } from "../processors/source.ts";
import { ORIGIN_HEADER, type InternalValue, type StageOutput } from "../processors/sink.ts";
import type { Processor, ProcessingError, ProcessorContext, Row, TaskMetrics } from "../processors/types.ts";
import { encodeKey } from "../state/keycodec.ts";
import type { Changelog } from "../state/changelog.ts";
import type { PartitionStore } from "../state/store.ts";

const META_STORE = "meta";

export type StageInput =
  | { readonly kind: "source"; readonly topic: string; readonly source: CatalogSource }
  | { readonly kind: "internal"; readonly topic: string };

export interface Stage {
  readonly id: string;
  /** One input, or two for a join (left, right); rows of input i are tagged `side: i`. */
  readonly inputs: readonly StageInput[];
  readonly processors: () => Processor[];
  readonly output: () => StageOutput;
}

export interface TaskEnv {
  readonly queryId: string;
  readonly log: EventLog;
  readonly functions: FunctionRegistry;
  readonly properties: Readonly<Record<string, string>>;
  readonly onError: (e: ProcessingError) => void;
  /**
   * Names the query's changelog topics, transactional ids and state folders (default: the query id).
   * Instances of one service use `<serviceId>-<queryId>`, so that deployments sharing a broker (or a data
   * folder) never share internal topics or stores.
   */
  readonly topicId?: string;
}

/** `processing.guarantee` values that ask for exactly-once (Kafka Streams' and ksqlDB's names). */
const EXACTLY_ONCE = new Set(["exactly_once", "exactly_once_v2", "exactly_once_beta"]);

/**
 * The log and transactional id a task of `stage` on `partition` writes with when it runs exactly-once
 * (`processing.guarantee`, on a log with transactions), else undefined.
 */
export function taskTransactions(
  env: TaskEnv,
  stageId: string,
  partition: number,
): { readonly log: TransactionalLog; readonly id: string } | undefined {
  return wantsExactlyOnce(env.properties) && supportsTransactions(env.log)
    ? { log: env.log, id: `esql-${env.topicId ?? env.queryId}-${stageId}-${partition}` }
    : undefined;
}

/** Whether `properties` ask for exactly-once processing (`processing.guarantee`). */
export function wantsExactlyOnce(properties: Readonly<Record<string, string>>): boolean {
  const v = properties["processing.guarantee"] ?? properties["ksql.streams.processing.guarantee"];
  return v !== undefined && EXACTLY_ONCE.has(v.trim().toLowerCase());
}

interface InputState {
  readonly input: StageInput;
  readonly side: 0 | 1;
  readonly source: SourceProcessor | undefined;
  position: number | undefined;
}

export class StageTask {
  readonly metrics: TaskMetrics = { recordsIn: 0, recordsOut: 0, errors: 0, lateDropped: 0 };
  private readonly ctx: ProcessorContext;
  private readonly inputs: InputState[];
  private readonly processors: Processor[];
  private readonly output: StageOutput;

  constructor(
    readonly stage: Stage,
    readonly partition: number,
    private readonly store: PartitionStore,
    private readonly env: TaskEnv,
    /** Where each commit's writes go before the local commit (see `state/changelog.ts`). */
    private readonly changelog?: Changelog,
  ) {
    const metrics = this.metrics;
    const ctx: ProcessorContext = {
      queryId: env.queryId,
      partition,
      store,
      functions: env.functions,
      metrics,
      streamTime: -1,
      properties: env.properties,
      currentRow: undefined,
      reportError: (error: unknown, where: string) => {
        metrics.errors++;
        const at = ctx.currentRow;
        env.onError({
          queryId: env.queryId,
          topic: at?.topic ?? stage.inputs[0]!.topic,
          partition: at?.partition ?? partition,
          offset: at?.offset ?? -1,
          where,
          message: error instanceof Error ? error.message : String(error),
        });
      },
    };
    this.ctx = ctx;
    this.inputs = stage.inputs.map((input, i) => ({
      input,
      side: i === 0 ? 0 : 1,
      source:
        input.kind === "source"
          ? new SourceProcessor(input.source, i === 0 ? SOURCE_STORE : `${SOURCE_STORE}${i}`)
          : undefined,
      position: store.offset(input.topic, partition),
    }));
    this.processors = stage.processors();
    this.output = stage.output();
    this.transactional = taskTransactions(env, stage.id, partition);
    for (const i of this.inputs) i.source?.init(ctx);
    for (const p of this.processors) p.init(ctx);
    this.output.init(ctx);
    const savedTime = store.offset("__streamtime", partition);
    if (savedTime !== undefined) ctx.streamTime = savedTime;
  }

  /** The task's store (read-only use outside the task: pull queries, table snapshots). */
  get stateStore(): PartitionStore {
    return this.store;
  }

  get inputTopics(): string[] {
    return this.inputs.map((i) => i.input.topic);
  }

  /** The next offset this task will read from input `i`. */
  async currentPosition(i = 0): Promise<number> {
    const st = this.inputs[i]!;
    if (st.position === undefined) {
      const reset = (this.env.properties["auto.offset.reset"] ?? "earliest").toLowerCase();
      // Internal topics are always read from the start: they only hold what this query wrote.
      st.position =
        reset === "latest" && st.input.kind === "source"
          ? await this.env.log.endOffset(st.input.topic, this.partition)
          : await this.env.log.beginningOffset(st.input.topic, this.partition);
    }
    return st.position;
  }

  private async readInput(i: number, maxRecords: number): Promise<LogRecord[]> {
    const st = this.inputs[i]!;
    const from = await this.currentPosition(i);
    try {
      return await this.env.log.read(st.input.topic, this.partition, from, maxRecords);
    } catch (e) {
      if (e instanceof LogError && e.code === "OFFSET_OUT_OF_RANGE") {
        // The records we would read next are gone (retention): start from what is there, as Kafka does.
        st.position = await this.env.log.beginningOffset(st.input.topic, this.partition);
        return [];
      }
      throw e;
    }
  }

  /** Processes up to `maxRecords` records per input; resolves how many input records it consumed (0: caught up). */
  async step(maxRecords: number): Promise<number> {
    const batches: LogRecord[][] = [];
    let total = 0;
    for (let i = 0; i < this.inputs.length; i++) {
      const b = await this.readInput(i, maxRecords);
      batches.push(b);
      total += b.length;
    }
    if (total === 0) return 0;
    const decoded: Row[][] = [];
    for (let i = 0; i < this.inputs.length; i++) {
      const st = this.inputs[i]!;
      const recs = batches[i]!;
      const rows = recs.length === 0 ? [] : st.source ? await st.source.process(recs) : await this.decodeInternal(recs);
      if (this.inputs.length > 1) for (const r of rows) r.side = st.side;
      decoded.push(rows);
    }
    let rows = decoded.length === 1 ? decoded[0]! : mergeByTime(decoded);
    for (const p of this.processors) {
      if (rows.length === 0) break;
      rows = await p.process(rows);
    }
    const produce = this.output.toRecords(rows);
    // Exactly-once: outputs, state and input offsets in one transaction (committed by the changelog write).
    const tx = this.transactional ? await this.transactional.log.beginTransaction(this.transactional.id) : undefined;
    try {
      if (produce.length > 0) await (tx ?? this.env.log).append(this.output.topic, produce);
      await this.commitStep(batches, tx);
    } catch (e) {
      await tx?.abort().catch(() => undefined);
      throw e;
    }
    return total;
  }

  private async commitStep(batches: LogRecord[][], tx: LogTransaction | undefined): Promise<void> {
    const offsets = new Map<string, number>();
    for (let i = 0; i < this.inputs.length; i++) {
      const b = batches[i]!;
      if (b.length === 0) continue;
      const next = b[b.length - 1]!.offset + 1;
      offsets.set(`${this.inputs[i]!.input.topic}/${this.partition}`, next);
    }
    offsets.set(`__streamtime/${this.partition}`, this.ctx.streamTime);
    const changelog = this.changelog;
    await this.store.commit(
      offsets,
      tx && changelog
        ? (writes) => changelog.writeInTransaction(writes, tx)
        : tx
          ? async () => (await tx.commit(), undefined)
          : changelog?.write,
    );
    for (let i = 0; i < this.inputs.length; i++) {
      const b = batches[i]!;
      if (b.length > 0) this.inputs[i]!.position = b[b.length - 1]!.offset + 1;
    }
  }

  /** The log and transactional id of this task when it runs exactly-once (`processing.guarantee`), else undefined. */
  private readonly transactional: { readonly log: TransactionalLog; readonly id: string } | undefined;

  /** Decodes internal-topic records, skipping origins this task has already folded (idempotence). */
  private async decodeInternal(records: readonly LogRecord[]): Promise<Row[]> {
    const topic = records[0]!.topic;
    const origins = records.map((r) => parseOrigin(r));
    const originKey = (p: number) => encodeKey(["origin", topic, p]);
    const upstream = [...new Set(origins.map((o) => o?.partition ?? -1))].map(originKey);
    await this.store.prefetch(META_STORE, upstream);
    const rows: Row[] = [];
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const o = origins[i];
      this.metrics.recordsIn++;
      if (o) {
        const k = originKey(o.partition);
        const seen = this.store.get(META_STORE, k) as [number, number] | undefined;
        if (seen && (o.offset < seen[0] || (o.offset === seen[0] && o.seq <= seen[1]))) continue;
        this.store.put(META_STORE, k, [o.offset, o.seq]);
      }
      if (rec.value === null) continue;
      const iv = deserialize(rec.value) as InternalValue;
      const values = iv.v ?? iv.o ?? [];
      const row: Row = { values, ts: rec.timestamp, topic: rec.topic, partition: rec.partition, offset: rec.offset };
      if (iv.o !== undefined) row.old = iv.o;
      if (iv.v === null) row.tombstone = true;
      if (iv.w) row.window = iv.w;
      if (iv.m) row.movedAway = true;
      rows.push(row);
    }
    return rows;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** Merges per-input row lists (each in offset order) by timestamp; ties go to the earlier input. */
function mergeByTime(lists: Row[][]): Row[] {
  const out: Row[] = [];
  const idx = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const r = lists[i]![idx[i]!];
      if (r === undefined) continue;
      if (best < 0 || r.ts < lists[best]![idx[best]!]!.ts) best = i;
    }
    if (best < 0) return out;
    out.push(lists[best]![idx[best]!++]!);
  }
}

function parseOrigin(r: LogRecord): { partition: number; offset: number; seq: number } | undefined {
  for (const h of r.headers) {
    if (h.key === ORIGIN_HEADER && h.value) {
      const [p, o, s] = h.value.toString().split(":").map(Number);
      return { partition: p!, offset: o!, seq: s! };
    }
  }
  return undefined;
}
