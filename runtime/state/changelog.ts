/**
 * Changelog topics: a copy of a task's state store in the event log, so that a task whose local store
 * is missing (new machine, deleted data folder) or behind (a crash between the changelog write and the
 * local commit) rebuilds it from the log instead of re-reading its inputs.
 *
 * One compacted topic per stage of a query, `_esql-<queryId>-<stage>-changelog`, with one partition per
 * task (the task's input partition). Every record is one database write of a commit ({@link RawWrite}):
 * the key is the full LevelDB key (store name prefix and key, or the offsets prefix and `topic/partition`),
 * the value the encoded value, a tombstone for a delete. Named stores and the source offsets share the
 * topic so that one replay restores state and position together, in order, without transactions (the log
 * appends atomically per partition only). The last record of each commit carries the header
 * {@link COMMIT_HEADER}; a replay applies whole commits and ignores a trailing partial one (a crash while
 * a large commit was being written in several appends). Compaction keeps the latest value per key, which
 * is all a replay needs. The local store records how far it has applied the changelog under the offsets
 * key `<changelog topic>/<partition>`, in the same LevelDB batch as the state.
 *
 * Ownership (several instances, see `runtime/cluster`): a task that takes a partition over *claims* its
 * changelog partition: it appends a claim record with the next epoch (key `__claim/<epoch>`, header
 * {@link CLAIM_HEADER}) and then writes every record with the header {@link EPOCH_HEADER}. A replay follows
 * the latest claim: records of an older epoch that come after a newer claim were written by an instance
 * that had lost the partition without knowing yet, and are skipped; an unfinished commit is dropped at a
 * claim. The writer checks its own appends for contiguity: when a record it did not write sits between
 * two of its appends and that record is a newer claim, it stops (`FencedError`) before committing locally,
 * so its local store never holds writes the shared history disowns. Without claims (one instance) every
 * record has epoch 0 and all of this is inert.
 */
import {
  LogError,
  type AppendResult,
  type EventLog,
  type LogRecord,
  type LogTransaction,
  type ProduceRecord,
} from "../log/types.ts";
import type { PartitionStore, RawWrite, SourceOffsets } from "./store.ts";

export const COMMIT_HEADER = "esql-commit";
export const CLAIM_HEADER = "esql-claim";
export const EPOCH_HEADER = "esql-epoch";
/** Bytes per append: stays under Kafka's default `message.max.bytes` (1 MB) per record batch. */
const MAX_APPEND_BYTES = 512 * 1024;
/** Per-record overhead counted against {@link MAX_APPEND_BYTES} (Kafka's record framing, roughly). */
const RECORD_OVERHEAD = 32;

export function changelogTopic(queryId: string, stage: string): string {
  return `_esql-${queryId}-${stage}-changelog`;
}

/** What a restore did, for progress lines. */
export interface RestoreProgress {
  readonly topic: string;
  readonly partition: number;
  /** Changelog records read so far, and how many there are to read in all. */
  readonly read: number;
  readonly total: number;
  readonly done: boolean;
}

/** Another instance claimed the partition: this writer must stop (its last commit was not applied locally). */
export class FencedError extends Error {
  constructor(topic: string, partition: number, ours: number, theirs: number) {
    super(`${topic}/${partition} was claimed by another instance (epoch ${theirs} > ours ${ours})`);
    this.name = "FencedError";
  }
}

/**
 * Whether `e` says another instance owns the partition now: a newer claim in the changelog, or the broker
 * fencing this task's transactional producer (exactly-once). Either way the task stops; nothing was committed.
 */
export function isFenced(e: unknown): boolean {
  return e instanceof FencedError || (e instanceof LogError && e.code === "FENCED");
}

function headerNumber(r: LogRecord, key: string): number | undefined {
  for (const h of r.headers) if (h.key === key && h.value) return Number(h.value.toString());
  return undefined;
}

export class Changelog {
  /** The epoch this writer claimed (0: never claimed, the single-instance case). */
  private epoch = 0;
  /** Where our next append should land when nobody else wrote in between (undefined: not checked). */
  private expectedNext: number | undefined;

  constructor(
    private readonly log: EventLog,
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** The offsets key under which a store records its changelog position. */
  private get positionKey(): string {
    return `${this.topic}/${this.partition}`;
  }

  /** The offsets key under which a store records the epoch of the history it holds. */
  private get epochKey(): string {
    return `${this.topic}#epoch/${this.partition}`;
  }

  private positions(position: number, epoch: number): SourceOffsets {
    return new Map([
      [this.positionKey, position],
      [this.epochKey, epoch],
    ]);
  }

  /**
   * Appends one commit's writes (a `BeforeCommit` hook for `PartitionStore.commit`); resolves the position
   * to record with the commit. Rejects with {@link FencedError} when a newer claim appeared.
   */
  readonly write = (writes: readonly RawWrite[]): Promise<SourceOffsets | undefined> =>
    this.writeVia(writes, (topic, records) => this.log.append(topic, records));

  /**
   * The same inside the transaction `tx` (exactly-once), which it then commits: the task's outputs, already
   * appended in `tx`, become visible together with the state and input offsets, or not at all.
   */
  async writeInTransaction(writes: readonly RawWrite[], tx: LogTransaction): Promise<SourceOffsets | undefined> {
    const positions = await this.writeVia(writes, (topic, records) => tx.append(topic, records));
    await tx.commit();
    // The commit marker takes the offset after our last record.
    if (positions && this.expectedNext !== undefined) this.expectedNext++;
    return positions;
  }

  private async writeVia(
    writes: readonly RawWrite[],
    append: (topic: string, records: readonly ProduceRecord[]) => Promise<AppendResult[]>,
  ): Promise<SourceOffsets | undefined> {
    if (writes.length === 0) return undefined;
    let chunk: ProduceRecord[] = [];
    let bytes = 0;
    let next = 0;
    const epochHeader = this.epoch > 0 ? [{ key: EPOCH_HEADER, value: Buffer.from(String(this.epoch)) }] : [];
    const flush = async () => {
      const r = await append(this.topic, chunk);
      const first = r[0]!.offset;
      if (this.expectedNext !== undefined && first !== this.expectedNext) await this.checkGap(this.expectedNext, first);
      next = r[r.length - 1]!.offset + 1;
      if (this.expectedNext !== undefined) this.expectedNext = next;
      chunk = [];
      bytes = 0;
    };
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      const size = w.key.length + (w.value?.length ?? 0) + RECORD_OVERHEAD;
      if (chunk.length > 0 && bytes + size > MAX_APPEND_BYTES) await flush();
      const last = i === writes.length - 1;
      const headers = last ? [...epochHeader, { key: COMMIT_HEADER, value: Buffer.from("1") }] : epochHeader;
      chunk.push({ key: w.key, value: w.value, partition: this.partition, ...(headers.length > 0 ? { headers } : {}) });
      bytes += size;
    }
    await flush();
    return this.positions(next, this.epoch);
  }

  /** Someone else appended in `[from, to)`: fine unless it is a newer claim. */
  private async checkGap(from: number, to: number): Promise<void> {
    const claim = await this.claimIn(from, to, this.epoch + 1);
    if (claim !== undefined) throw new FencedError(this.topic, this.partition, this.epoch, claim);
  }

  /** The first claim in `[from, to)` with an epoch of at least `atLeast`, if any. */
  private async claimIn(from: number, to: number, atLeast: number): Promise<number | undefined> {
    for (let offset = from; offset < to;) {
      const batch = await this.log.read(this.topic, this.partition, offset, Math.min(5000, to - offset));
      if (batch.length === 0) return undefined;
      for (const r of batch) {
        if (r.offset >= to) return undefined;
        const claim = headerNumber(r, CLAIM_HEADER);
        if (claim !== undefined && claim >= atLeast) return claim;
      }
      offset = batch[batch.length - 1]!.offset + 1;
    }
    return undefined;
  }

  /**
   * Takes the partition over: brings `store` up to date, appends a claim with the next epoch, and applies
   * what the previous owner appended meanwhile. From then on this writer's records carry the new epoch.
   * Resolves the records replayed. Rejects with {@link FencedError} when a newer claim follows ours.
   */
  async claim(store: PartitionStore, onProgress?: (p: RestoreProgress) => void): Promise<number> {
    let read = await this.restore(store, onProgress);
    const from = store.offset(this.topic, this.partition) ?? 0;
    const epoch = (store.offset(`${this.topic}#epoch`, this.partition) ?? 0) + 1;
    const [at] = await this.log.append(this.topic, [
      {
        key: Buffer.from(`__claim/${epoch}`),
        value: Buffer.from(String(epoch)),
        partition: this.partition,
        headers: [{ key: CLAIM_HEADER, value: Buffer.from(String(epoch)) }],
      },
    ]);
    // Another instance claiming at the same moment with the same epoch: the first claim in the log wins.
    const rival = await this.claimIn(from, at!.offset, epoch);
    if (rival !== undefined) throw new FencedError(this.topic, this.partition, epoch, rival);
    read += await this.restore(store);
    const seen = store.offset(`${this.topic}#epoch`, this.partition) ?? 0;
    if (seen !== epoch) throw new FencedError(this.topic, this.partition, epoch, seen);
    this.epoch = epoch;
    this.expectedNext = Math.max(at!.offset + 1, store.offset(this.topic, this.partition) ?? 0);
    return read;
  }

  /**
   * Brings `store` up to the end of the changelog: replays the commits after the position the store
   * recorded (all of them for a new, empty store), following claims as described above. Resolves the
   * number of records read.
   */
  async restore(store: PartitionStore, onProgress?: (p: RestoreProgress) => void): Promise<number> {
    const end = await this.log.endOffset(this.topic, this.partition);
    const begin = await this.log.beginningOffset(this.topic, this.partition);
    let offset = Math.max(store.offset(this.topic, this.partition) ?? 0, begin);
    if (offset >= end) return 0;
    let epoch = store.offset(`${this.topic}#epoch`, this.partition) ?? 0;
    const total = end - offset;
    let read = 0;
    let pending: RawWrite[] = [];
    const report = (done: boolean) => onProgress?.({ topic: this.topic, partition: this.partition, read, total, done });
    while (offset < end) {
      const batch = await this.log.read(this.topic, this.partition, offset, 5000);
      if (batch.length === 0) break;
      // Whole commits only, applied together per read: the first `complete` writes of `pending` end a commit.
      let complete = 0;
      let position = -1;
      for (const r of batch) {
        if (r.offset >= end) break;
        read++;
        const claim = headerNumber(r, CLAIM_HEADER);
        if (claim !== undefined) {
          if (claim > epoch) {
            // A new owner: what the old one left unfinished will never be finished.
            pending = pending.slice(0, complete);
            epoch = claim;
          }
          position = r.offset + 1;
          continue;
        }
        const recordEpoch = headerNumber(r, EPOCH_HEADER) ?? 0;
        if (recordEpoch < epoch) continue; // written by an instance that had lost the partition
        if (recordEpoch > epoch) {
          pending = pending.slice(0, complete);
          epoch = recordEpoch;
        }
        if (r.key) pending.push({ key: r.key, value: r.value });
        if (r.headers.some((h) => h.key === COMMIT_HEADER)) {
          complete = pending.length;
          position = r.offset + 1;
        }
      }
      if (position >= 0) {
        await store.applyWrites(pending.slice(0, complete), this.positions(position, epoch));
        pending = pending.slice(complete);
      }
      offset = batch[batch.length - 1]!.offset + 1;
      if (offset < end) report(false);
    }
    report(true);
    return read;
  }
}
