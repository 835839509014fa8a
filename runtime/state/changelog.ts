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
 */
import type { EventLog, ProduceRecord } from "../log/types.ts";
import type { PartitionStore, RawWrite, SourceOffsets } from "./store.ts";

export const COMMIT_HEADER = "esql-commit";
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

export class Changelog {
  constructor(
    private readonly log: EventLog,
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** The offsets key under which a store records its changelog position. */
  private get positionKey(): string {
    return `${this.topic}/${this.partition}`;
  }

  /**
   * Appends one commit's writes (a `BeforeCommit` hook for `PartitionStore.commit`); resolves the position
   * to record with the commit.
   */
  readonly write = async (writes: readonly RawWrite[]): Promise<SourceOffsets | undefined> => {
    if (writes.length === 0) return undefined;
    let chunk: ProduceRecord[] = [];
    let bytes = 0;
    let next = 0;
    const flush = async () => {
      const r = await this.log.append(this.topic, chunk);
      next = r[r.length - 1]!.offset + 1;
      chunk = [];
      bytes = 0;
    };
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      const size = w.key.length + (w.value?.length ?? 0) + RECORD_OVERHEAD;
      if (chunk.length > 0 && bytes + size > MAX_APPEND_BYTES) await flush();
      const last = i === writes.length - 1;
      chunk.push({ key: w.key, value: w.value, partition: this.partition, ...(last ? { headers: [{ key: COMMIT_HEADER, value: Buffer.from("1") }] } : {}) });
      bytes += size;
    }
    await flush();
    return new Map([[this.positionKey, next]]);
  };

  /**
   * Brings `store` up to the end of the changelog: replays the commits after the position the store
   * recorded (all of them for a new, empty store). Resolves the number of records replayed.
   */
  async restore(store: PartitionStore, onProgress?: (p: RestoreProgress) => void): Promise<number> {
    const end = await this.log.endOffset(this.topic, this.partition);
    const begin = await this.log.beginningOffset(this.topic, this.partition);
    let offset = Math.max(store.offset(this.topic, this.partition) ?? 0, begin);
    if (offset >= end) return 0;
    const total = end - offset;
    let read = 0;
    let pending: RawWrite[] = [];
    const report = (done: boolean) => onProgress?.({ topic: this.topic, partition: this.partition, read, total, done });
    while (offset < end) {
      const batch = await this.log.read(this.topic, this.partition, offset, 5000);
      if (batch.length === 0) break;
      // Whole commits only, applied together per read: `complete` writes of `pending` end a commit.
      let complete = 0;
      let position = -1;
      for (const r of batch) {
        if (r.offset >= end) break;
        read++;
        if (r.key) pending.push({ key: r.key, value: r.value });
        if (r.headers.some((h) => h.key === COMMIT_HEADER)) {
          complete = pending.length;
          position = r.offset + 1;
        }
      }
      if (position >= 0) {
        await store.applyWrites(pending.slice(0, complete), new Map([[this.positionKey, position]]));
        pending = pending.slice(complete);
      }
      offset = batch[batch.length - 1]!.offset + 1;
      if (offset < end) report(false);
    }
    report(true);
    return read;
  }
}
