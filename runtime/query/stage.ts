/**
 * A stage (sub-topology) of a persistent query and the task that runs it for one input partition.
 *
 * A task's loop, one batch at a time: read records from its partition at the offset its store holds,
 * decode them, run them through the processors, append what comes out to the output topic, then commit
 * the store: state changes and the new input offset in one atomic LevelDB batch. A crash between the
 * append and the commit repeats the batch: state never counts a record twice (it was not committed), and
 * internal topics are idempotent (each record carries its origin; the next stage skips origins it has
 * already folded), so only the user-visible sink topic can see a repeated record (at-least-once).
 */
import { deserialize } from "node:v8";
import type { CatalogSource } from "../../src/semantic/catalog.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { LogError, type EventLog, type LogRecord } from "../log/types.ts";
import { SourceProcessor } from "../processors/source.ts";
import { ORIGIN_HEADER, type InternalValue, type StageOutput } from "../processors/sink.ts";
import type { Processor, ProcessingError, ProcessorContext, Row, TaskMetrics } from "../processors/types.ts";
import { encodeKey } from "../state/keycodec.ts";
import type { PartitionStore } from "../state/store.ts";

const META_STORE = "meta";

export type StageInput =
  | { readonly kind: "source"; readonly topic: string; readonly source: CatalogSource }
  | { readonly kind: "internal"; readonly topic: string };

export interface Stage {
  readonly id: string;
  readonly input: StageInput;
  readonly processors: () => Processor[];
  readonly output: () => StageOutput;
}

export interface TaskEnv {
  readonly queryId: string;
  readonly log: EventLog;
  readonly functions: FunctionRegistry;
  readonly properties: Readonly<Record<string, string>>;
  readonly onError: (e: ProcessingError) => void;
}

export class StageTask {
  readonly metrics: TaskMetrics = { recordsIn: 0, recordsOut: 0, errors: 0, lateDropped: 0 };
  private readonly ctx: ProcessorContext;
  private readonly source: SourceProcessor | undefined;
  private readonly processors: Processor[];
  private readonly output: StageOutput;
  private position: number | undefined;

  constructor(
    readonly stage: Stage,
    readonly partition: number,
    private readonly store: PartitionStore,
    private readonly env: TaskEnv,
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
          topic: at?.topic ?? stage.input.topic,
          partition: at?.partition ?? partition,
          offset: at?.offset ?? -1,
          where,
          message: error instanceof Error ? error.message : String(error),
        });
      },
    };
    this.ctx = ctx;
    this.source = stage.input.kind === "source" ? new SourceProcessor(stage.input.source) : undefined;
    this.processors = stage.processors();
    this.output = stage.output();
    this.source?.init(ctx);
    for (const p of this.processors) p.init(ctx);
    this.output.init(ctx);
    const st = store.offset(stage.input.topic, partition);
    if (st !== undefined) this.position = st;
    const savedTime = store.offset("__streamtime", partition);
    if (savedTime !== undefined) ctx.streamTime = savedTime;
  }

  /** The task's store (read-only use outside the task: pull queries, table snapshots). */
  get stateStore(): PartitionStore {
    return this.store;
  }

  get inputTopic(): string {
    return this.stage.input.topic;
  }

  /** The next offset this task will read. */
  async currentPosition(): Promise<number> {
    if (this.position === undefined) {
      const reset = (this.env.properties["auto.offset.reset"] ?? "earliest").toLowerCase();
      this.position =
        reset === "latest"
          ? await this.env.log.endOffset(this.inputTopic, this.partition)
          : await this.env.log.beginningOffset(this.inputTopic, this.partition);
    }
    return this.position;
  }

  /** Processes up to `maxRecords` records; resolves how many input records it consumed (0: caught up). */
  async step(maxRecords: number): Promise<number> {
    const from = await this.currentPosition();
    let records: LogRecord[];
    try {
      records = await this.env.log.read(this.inputTopic, this.partition, from, maxRecords);
    } catch (e) {
      if (e instanceof LogError && e.code === "OFFSET_OUT_OF_RANGE") {
        // The records we would read next are gone (retention): start from what is there, as Kafka does.
        this.position = await this.env.log.beginningOffset(this.inputTopic, this.partition);
        return 0;
      }
      throw e;
    }
    if (records.length === 0) return 0;
    let rows = this.source ? await this.source.process(records) : await this.decodeInternal(records);
    for (const p of this.processors) {
      if (rows.length === 0 && !p.punctuate) break;
      rows = await p.process(rows);
    }
    const produce = this.output.toRecords(rows);
    if (produce.length > 0) await this.env.log.append(this.output.topic, produce);
    const next = records[records.length - 1]!.offset + 1;
    await this.store.commit(
      new Map([
        [`${this.inputTopic}/${this.partition}`, next],
        [`__streamtime/${this.partition}`, this.ctx.streamTime],
      ]),
    );
    this.position = next;
    return records.length;
  }

  /** Decodes internal-topic records, skipping origins this task has already folded (idempotence). */
  private async decodeInternal(records: readonly LogRecord[]): Promise<Row[]> {
    const origins = records.map((r) => parseOrigin(r));
    const upstream = [...new Set(origins.map((o) => o?.partition ?? -1))].map((p) => encodeKey(["origin", p]));
    await this.store.prefetch(META_STORE, upstream);
    const rows: Row[] = [];
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const o = origins[i];
      this.metrics.recordsIn++;
      if (o) {
        const k = encodeKey(["origin", o.partition]);
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
      rows.push(row);
    }
    return rows;
  }

  async close(): Promise<void> {
    await this.store.close();
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
