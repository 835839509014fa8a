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
import type { ExecutionSettings, StageInputPlan, StartPosition } from "../../src/plan/topology.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import {
  LogError,
  supportsTransactions,
  type EventLog,
  type LogRecord,
  type LogTransaction,
  type ProduceRecord,
  type TransactionalLog,
} from "../log/types.ts";
import { SourceProcessor, SOURCE_STORE } from "../processors/source.ts";
import { ORIGIN_HEADER, type StageOutput } from "../processors/sink.ts";
import { decodeInternal } from "../serde/internal.ts";
import type { Processor, ProcessingError, ProcessorContext, Row, TaskMetrics } from "../processors/types.ts";
import { DropLedger } from "./drops.ts";
import { encodeKey } from "../state/keycodec.ts";
import type { Changelog } from "../state/changelog.ts";
import type { BeforeCommit, PartitionStore } from "../state/store.ts";

const META_STORE = "meta";

/** Where a stage reads: a source topic (decoded with its source's formats) or an internal topic of the query. */
export type StageInput = StageInputPlan;

export interface Stage {
  readonly id: string;
  /** One input, or two for a join (left, right); rows of input i are tagged `side: i`. */
  readonly inputs: readonly StageInput[];
  readonly processors: () => Processor[];
  readonly output: () => StageOutput;
  /** Where source inputs start without stored offsets (the plan's `START_FROM`); see `StageTask.resolveStart`. */
  readonly start?: StartPosition;
}

export interface TaskEnv {
  readonly queryId: string;
  readonly log: EventLog;
  readonly functions: FunctionRegistry;
  /** How the query runs (from its plan: `TopologyPlan.execution`). */
  readonly execution: ExecutionSettings;
  readonly onError: (e: ProcessingError) => void;
  /**
   * Names the query's changelog topics, transactional ids and state folders (default: the query id).
   * Instances of one service use `<serviceId>-<queryId>`, so that deployments sharing a broker (or a data
   * folder) never share internal topics or stores.
   */
  readonly topicId?: string;
}

/**
 * The log and transactional id a task of `stage` on `partition` writes with when it runs exactly-once
 * (`processing.guarantee`, on a log with transactions), else undefined.
 */
export function taskTransactions(
  env: TaskEnv,
  stageId: string,
  partition: number,
): { readonly log: TransactionalLog; readonly id: string } | undefined {
  return env.execution.guarantee === "exactly_once" && supportsTransactions(env.log)
    ? { log: env.log, id: `esql-${env.topicId ?? env.queryId}-${stageId}-${partition}` }
    : undefined;
}

/** Where an internal-topic record came from (its `ORIGIN_HEADER`): what makes internal topics idempotent. */
interface Origin {
  /** The input topic of the upstream task ("" in records written before origins named it). */
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly seq: number;
}

/**
 * One input of a task: the records read ahead and decoded but not folded yet. Decoding touches no store,
 * so records can wait here while the stage's other tasks catch up in event time (see {@link StageTask.frontier}).
 */
interface InputState {
  readonly input: StageInput;
  readonly side: 0 | 1;
  readonly source: SourceProcessor | undefined;
  /** The next offset to fold: committed with the store (undefined: not known yet, see `auto.offset.reset`). */
  position: number | undefined;
  /** The next offset to read: `position` plus what is buffered (and what decoding dropped). */
  readAt: number | undefined;
  /** Decoded rows not folded yet, in offset order, from index `head` on. */
  rows: Row[];
  /** Internal inputs: each buffered row's origin, index for index with `rows`. */
  origins: (Origin | undefined)[];
  head: number;
  /** The last read found nothing new: the input is caught up for now and holds back no other input. */
  atEnd: boolean;
}

/** What {@link StageTask.take} took for one round: rows to fold per input and the offsets they bring. */
export interface TakenBatch {
  readonly rows: readonly (readonly Row[])[];
  readonly origins: readonly (readonly (Origin | undefined)[])[];
  /** Next offset to fold per input after the batch (undefined: unchanged). */
  readonly next: readonly (number | undefined)[];
  /** Input records the batch consumes (offsets advanced), for progress reporting. */
  readonly consumed: number;
}

export class StageTask {
  readonly metrics: TaskMetrics = { recordsIn: 0, recordsOut: 0, errors: 0, dropped: new Map() };
  /** Counts and logs dropped records; its counters are committed with the offsets (`commitStep`). */
  private readonly drops: DropLedger;
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
    const drops = new DropLedger(env.queryId, partition, metrics, env.onError);
    this.drops = drops;
    const ctx: ProcessorContext = {
      queryId: env.queryId,
      partition,
      store,
      functions: env.functions,
      metrics,
      streamTime: -1,
      execution: env.execution,
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
      drop: (operator, reason, error, options) => {
        const at = options?.at ?? ctx.currentRow ?? { topic: stage.inputs[0]!.topic, partition, offset: -1 };
        drops.drop(operator, reason, error, options?.operation ?? operator, at);
      },
    };
    this.ctx = ctx;
    this.inputs = stage.inputs.map((input, i) => {
      const position = store.offset(input.topic, partition);
      return {
        input,
        side: i === 0 ? 0 : 1,
        source:
          input.kind === "source"
            ? new SourceProcessor(input.source, i === 0 ? SOURCE_STORE : `${SOURCE_STORE}${i}`, input.decode)
            : undefined,
        position,
        readAt: position,
        rows: [],
        origins: [],
        head: 0,
        atEnd: false,
      };
    });
    this.processors = stage.processors();
    this.output = stage.output();
    this.transactional = taskTransactions(env, stage.id, partition);
    for (const i of this.inputs) i.source?.init(ctx);
    for (const p of this.processors) p.init(ctx);
    this.output.init(ctx);
    const savedTime = store.offset("__streamtime", partition);
    if (savedTime !== undefined) ctx.streamTime = savedTime;
    drops.restore(store);
  }

  /** The task's store (read-only use outside the task: pull queries, table snapshots). */
  get stateStore(): PartitionStore {
    return this.store;
  }

  get inputTopics(): string[] {
    return this.inputs.map((i) => i.input.topic);
  }

  /** The largest record time this task has folded (its stream time; -1 before any). */
  get streamTime(): number {
    return this.ctx.streamTime;
  }

  /** The topic this task's stage writes (its sink or an internal repartition topic). */
  get outputTopic(): string {
    return this.output.topic;
  }

  /** Whether the task runs each batch in a Kafka transaction of its own (exactly-once). */
  get isTransactional(): boolean {
    return this.transactional !== undefined;
  }

  /** The next offset this task will fold from input `i` (what its store has committed). */
  async currentPosition(i = 0): Promise<number> {
    await this.start();
    return this.inputs[i]!.position!;
  }

  /**
   * Settles where each input starts (see {@link resolveStart}); the query calls it when it creates the task,
   * so `latest` and a timestamp mean the moment the query started, not its first read.
   */
  start(): Promise<void> {
    return (this.starting ??= this.resolveStart());
  }

  /** Settles once every input has a position (see {@link resolveStart}). */
  private starting: Promise<void> | undefined;

  /**
   * Gives the inputs whose store holds no offset (a new query) their start: the plan's `START_FROM`, else
   * the `auto.offset.reset` property (earliest by default); internal topics always start at their beginning.
   * Offsets resolved otherwise than "the beginning" are committed at once (with the changelog), so a restart
   * continues from them and does not seek again: `latest` or a timestamp means the moment the query started,
   * not the next restart. (Seeking the beginning again finds the same records, bar those retention deleted.)
   */
  private async resolveStart(): Promise<void> {
    const resolved = new Map<string, number>();
    for (const st of this.inputs) {
      if (st.position !== undefined) continue;
      const { offset, fromBeginning } = await this.startOffset(st.input);
      st.position = st.readAt = offset;
      if (!fromBeginning) resolved.set(`${st.input.topic}/${this.partition}`, offset);
    }
    if (resolved.size === 0) return;
    const tx = this.transactional ? await this.transactional.log.beginTransaction(this.transactional.id) : undefined;
    try {
      await this.store.commit(resolved, this.beforeCommit(tx));
    } catch (e) {
      await tx?.abort().catch(() => undefined);
      throw e;
    }
  }

  private async startOffset(input: StageInput): Promise<{ offset: number; fromBeginning: boolean }> {
    const log = this.env.log;
    const p = this.partition;
    const beginning = async () => ({ offset: await log.beginningOffset(input.topic, p), fromBeginning: true });
    if (input.kind === "internal") return beginning();
    const start = this.stage.start ?? { kind: this.env.execution.offsetReset };
    const at = (offset: number) => ({ offset, fromBeginning: false });
    switch (start.kind) {
      case "earliest":
        return beginning();
      case "latest":
        return at(await log.endOffset(input.topic, p));
      case "timestamp":
        return at(await log.offsetForTime(input.topic, p, start.timestamp));
      case "offsets": {
        const asked = start.offsets.find((o) => o.partition === p)?.offset;
        if (asked === undefined) return beginning();
        // An offset outside what the partition holds is clamped into it (gone to retention, or not written yet).
        const begin = await log.beginningOffset(input.topic, p);
        return at(Math.min(Math.max(asked, begin), await log.endOffset(input.topic, p)));
      }
    }
  }

  /**
   * Reads ahead: tops each input's buffer up to `maxRecords` decoded rows. An input whose read finds
   * nothing new is `atEnd` (caught up for now).
   */
  async fill(maxRecords: number): Promise<void> {
    for (let i = 0; i < this.inputs.length; i++) {
      const st = this.inputs[i]!;
      const buffered = st.rows.length - st.head;
      if (buffered >= maxRecords) continue;
      await this.start();
      let records: LogRecord[];
      try {
        records = await this.env.log.read(st.input.topic, this.partition, st.readAt!, maxRecords - buffered);
      } catch (e) {
        if (!(e instanceof LogError && e.code === "OFFSET_OUT_OF_RANGE")) throw e;
        // The records we would read next are gone (retention): start from what is there, as Kafka does.
        st.position = st.readAt = await this.env.log.beginningOffset(st.input.topic, this.partition);
        st.rows = [];
        st.origins = [];
        st.head = 0;
        st.atEnd = false;
        continue;
      }
      st.atEnd = records.length === 0;
      if (records.length === 0) continue;
      st.readAt = records[records.length - 1]!.offset + 1;
      if (st.head > 0 && st.head * 2 >= st.rows.length) {
        st.rows = st.rows.slice(st.head);
        st.origins = st.origins.slice(st.head);
        st.head = 0;
      }
      if (st.source) {
        for (const row of st.source.decode(records)) st.rows.push(row);
      } else {
        this.decodeInternal(records, st);
      }
    }
  }

  /**
   * How far in event time this task's inputs are known: the largest timestamp buffered of each input that
   * may hold more records, the smallest of those over the inputs; `Infinity` when every input is caught up.
   * Rows up to the smallest frontier of a stage's tasks can be folded without running ahead of any input.
   */
  frontier(): number {
    let min = Infinity;
    for (const st of this.inputs) {
      if (st.atEnd) continue;
      let max = -Infinity;
      for (let j = st.head; j < st.rows.length; j++) if (st.rows[j]!.ts > max) max = st.rows[j]!.ts;
      if (max < min) min = max;
    }
    return min;
  }

  /**
   * Takes, from each input, the buffered rows up to the first one later than `horizon` (event time), and
   * the offsets folding them brings. Resolves undefined when nothing would change.
   */
  take(horizon: number): TakenBatch | undefined {
    const rows: Row[][] = [];
    const origins: (Origin | undefined)[][] = [];
    const next: (number | undefined)[] = [];
    let consumed = 0;
    for (const st of this.inputs) {
      let end = st.head;
      while (end < st.rows.length && st.rows[end]!.ts <= horizon) end++;
      rows.push(st.rows.slice(st.head, end));
      origins.push(st.source ? [] : st.origins.slice(st.head, end));
      st.head = end;
      const to = end < st.rows.length ? st.rows[end]!.offset : st.readAt;
      if (to !== undefined && st.position !== undefined && to > st.position) {
        next.push(to);
        consumed += to - st.position;
      } else {
        next.push(undefined);
      }
    }
    return consumed > 0 ? { rows, origins, next, consumed } : undefined;
  }

  /** Folds a taken batch through the processors; resolves the records for the output topic. */
  async process(batch: TakenBatch): Promise<ProduceRecord[]> {
    const decoded: Row[][] = [];
    for (let i = 0; i < this.inputs.length; i++) {
      const st = this.inputs[i]!;
      let rows = batch.rows[i] as Row[];
      if (rows.length > 0) rows = st.source ? await st.source.track(rows) : await this.dedup(rows, batch.origins[i]!);
      if (this.inputs.length > 1) for (const r of rows) r.side = st.side;
      decoded.push(rows);
    }
    let rows = decoded.length === 1 ? decoded[0]! : mergeByTime(decoded);
    for (const p of this.processors) {
      if (rows.length === 0) break;
      rows = await p.process(rows);
    }
    return this.output.toRecords(rows);
  }

  /**
   * Commits a processed batch: state changes and the new input offsets in one atomic store write (after the
   * changelog). `produce`, when given, is appended first (in this task's transaction when exactly-once);
   * without it the caller has appended the batch's outputs already.
   */
  async commit(batch: TakenBatch, produce?: readonly ProduceRecord[]): Promise<void> {
    // Exactly-once: outputs, state and input offsets in one transaction (committed by the changelog write).
    const tx = this.transactional ? await this.transactional.log.beginTransaction(this.transactional.id) : undefined;
    try {
      if (produce && produce.length > 0) await (tx ?? this.env.log).append(this.output.topic, produce);
      await this.commitOffsets(batch, tx);
    } catch (e) {
      await tx?.abort().catch(() => undefined);
      throw e;
    }
  }

  private async commitOffsets(batch: TakenBatch, tx: LogTransaction | undefined): Promise<void> {
    const offsets = new Map<string, number>();
    for (let i = 0; i < this.inputs.length; i++) {
      const next = batch.next[i];
      if (next !== undefined) offsets.set(`${this.inputs[i]!.input.topic}/${this.partition}`, next);
    }
    offsets.set(`__streamtime/${this.partition}`, this.ctx.streamTime);
    const covered = (topic: string, offset: number) => {
      const i = this.inputs.findIndex((st) => st.input.topic === topic);
      const upTo = i < 0 ? Infinity : (batch.next[i] ?? this.inputs[i]!.position);
      return upTo !== undefined && offset < upTo;
    };
    for (const [k, n] of this.drops.endBatch(covered, batch.consumed)) offsets.set(k, n);
    await this.store.commit(offsets, this.beforeCommit(tx));
    this.drops.committedBatch();
    for (let i = 0; i < this.inputs.length; i++) {
      const next = batch.next[i];
      if (next !== undefined) this.inputs[i]!.position = next;
    }
  }

  /** What a commit writes before the local store: the changelog (in `tx` when exactly-once), or commits `tx`. */
  private beforeCommit(tx: LogTransaction | undefined): BeforeCommit | undefined {
    const changelog = this.changelog;
    if (tx && changelog) return (writes) => changelog.writeInTransaction(writes, tx);
    if (tx) return async () => (await tx.commit(), undefined);
    return changelog?.write;
  }

  /** The log and transactional id of this task when it runs exactly-once (`processing.guarantee`), else undefined. */
  private readonly transactional: { readonly log: TransactionalLog; readonly id: string } | undefined;

  /** Decodes internal-topic records into `st`'s buffer with their origins (no store is touched). */
  private decodeInternal(records: readonly LogRecord[], st: InputState): void {
    for (const rec of records) {
      if (rec.value === null) continue;
      const iv = decodeInternal(rec.value);
      const values = iv.v ?? iv.o ?? [];
      const row: Row = { values, ts: rec.timestamp, topic: rec.topic, partition: rec.partition, offset: rec.offset };
      if (iv.o !== undefined) row.old = iv.o;
      if (iv.v === null) row.tombstone = true;
      if (iv.w) row.window = iv.w;
      if (iv.m) row.movedAway = true;
      const origin = parseOrigin(rec);
      if (origin) row.origin = origin;
      st.rows.push(row);
      st.origins.push(origin);
    }
  }

  /** Drops rows whose origin this task has already folded (idempotence of internal topics); records the rest. */
  private async dedup(rows: readonly Row[], origins: readonly (Origin | undefined)[]): Promise<Row[]> {
    const topic = rows[0]!.topic;
    // One high-water mark per upstream input topic and partition (records from before origins named their
    // topic keep the key they had).
    const keys = new Map<string, Buffer>();
    const originKey = (o: Origin): Buffer => {
      const id = `${o.topic}:${o.partition}`;
      let k = keys.get(id);
      if (k === undefined) {
        k = encodeKey(o.topic === "" ? ["origin", topic, o.partition] : ["origin", topic, o.topic, o.partition]);
        keys.set(id, k);
      }
      return k;
    };
    for (const o of origins) if (o) originKey(o);
    await this.store.prefetch(META_STORE, [...keys.values()]);
    const out: Row[] = [];
    for (let i = 0; i < rows.length; i++) {
      const o = origins[i];
      if (o) {
        const k = originKey(o);
        const seen = this.store.get(META_STORE, k) as [number, number] | undefined;
        if (seen && (o.offset < seen[0] || (o.offset === seen[0] && o.seq <= seen[1]))) continue;
        this.store.put(META_STORE, k, [o.offset, o.seq]);
      }
      out.push(rows[i]!);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/**
 * Merges per-task output record lists (each in the order its task produced them) by timestamp; ties go to
 * the earlier list. Stable and deterministic, so a topic several tasks write receives their records in
 * event-time order, whatever the order the tasks ran in.
 */
export function mergeRecordsByTime(lists: readonly (readonly ProduceRecord[])[]): ProduceRecord[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty.length === 0 ? [] : [...nonEmpty[0]!];
  const out: ProduceRecord[] = [];
  const idx = nonEmpty.map(() => 0);
  for (;;) {
    let best = -1;
    let bestTs = 0;
    for (let i = 0; i < nonEmpty.length; i++) {
      const r = nonEmpty[i]![idx[i]!];
      if (r === undefined) continue;
      const ts = r.timestamp ?? Infinity;
      if (best < 0 || ts < bestTs) {
        best = i;
        bestTs = ts;
      }
    }
    if (best < 0) return out;
    out.push(nonEmpty[best]![idx[best]!++]!);
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

function parseOrigin(r: LogRecord): Origin | undefined {
  for (const h of r.headers) {
    if (h.key === ORIGIN_HEADER && h.value) return originOf(h.value);
  }
  return undefined;
}

/** The topic of the last origin parsed and its bytes: consecutive records nearly always share it. */
let lastOriginTopic = "";
let lastOriginTopicBytes: Buffer = Buffer.alloc(0);

/**
 * Parses `[topic:]partition:offset:seq` from the header's bytes (one per internal record, so without
 * `toString` and `split`): the numbers are read digit by digit from the end, the topic is what precedes them.
 */
function originOf(b: Buffer): Origin {
  const nums = [0, 0, 0];
  let end = b.length;
  for (let k = 2; k >= 0; k--) {
    let i = end - 1;
    let n = 0;
    let scale = 1;
    for (; i >= 0 && b[i] !== 0x3a; i--) {
      n += (b[i]! - 0x30) * scale;
      scale *= 10;
    }
    nums[k] = n;
    end = i;
    if (i < 0) break;
  }
  let topic = "";
  if (end > 0) {
    const bytes = b.subarray(0, end);
    if (!bytes.equals(lastOriginTopicBytes)) {
      lastOriginTopic = bytes.toString();
      lastOriginTopicBytes = Buffer.from(bytes);
    }
    topic = lastOriginTopic;
  }
  return { topic, partition: nums[0]!, offset: nums[1]!, seq: nums[2]! };
}
