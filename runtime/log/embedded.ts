import { ClassicLevel } from "classic-level";
import { followByReading } from "./follow.ts";
import { partitionForKey } from "./partition.ts";
import {
  LogError,
  type AppendResult,
  type CreateTopicOptions,
  type EventLog,
  type LogHeader,
  type LogRecord,
  type PartitionPosition,
  type ProduceRecord,
  type SubscribeOptions,
  type TopicConfig,
  type TopicDescription,
} from "./types.ts";

/**
 * The embedded on-disk `EventLog`: one LevelDB database (classic-level) in a data folder, owned by one
 * process (LevelDB locks the folder; a second opener gets a `LOCKED` error). Any number of readers in
 * that process share it.
 *
 * Layout (all keys binary, so LevelDB's byte order is the order we want):
 * - `00 "topic/" <name>`                 → JSON `{ id, partitions, config }`
 * - `00 "nextTopicId"`                   → JSON number; ids are never reused, so a re-created topic
 *                                           cannot see records of the deleted one
 * - `01 <id u32> <partition u32>`        → `<beginning f64> <end f64>`: the partition's offsets, written
 *                                           in the same batch as the records that move them
 * - `02 <id u32> <partition u32> <offset u64>` → a chunk of up to `CHUNK_RECORDS` consecutive records of
 *                                           one append, keyed by the first one's offset (see `encodeChunk`);
 *                                           a partition's chunks are contiguous and ordered by offset, so a
 *                                           read is one reverse seek plus one range. Chunking (like Kafka's
 *                                           record batches) matters: LevelDB's per-entry cost dominates
 *                                           reads of small records.
 *
 * Appends are serialized through one write queue: offsets are assigned inside the queue, the records
 * and the new end offsets go in ONE LevelDB batch, and readers see the new end offset only after the
 * batch is durable.
 *
 * Cleanup (Kafka's log cleaner, with a chunk as the segment), run every `cleanupIntervalMs` (default five
 * minutes, Kafka's `log.retention.check.interval.ms`) and by {@link EmbeddedLog.cleanup}, through the write
 * queue:
 * - `delete` (and `compact,delete`) with `retentionMs`: the oldest chunks whose newest record timestamp is
 *   older than the retention are deleted, oldest first, up to the first one that is not; the beginning
 *   offset moves past them. A reader positioned before it gets `OFFSET_OUT_OF_RANGE` and restarts at the
 *   beginning (what the runtime does, as Kafka's `auto.offset.reset=earliest`).
 * - `compact` (and `compact,delete`): every chunk but the partition's last (the active segment) keeps only
 *   the records that are the latest of their key among those chunks, and drops tombstones whose timestamp
 *   is older than `deleteRetentionMs` (default one day). Records keep their offsets: a compacted chunk is
 *   stored sparse (each record with its offset), so offsets have gaps but stay monotonic, and reads skip
 *   the gaps. Records without key are kept (Kafka refuses them on compacted topics).
 */
export class EmbeddedLog implements EventLog {
  private readonly topics = new Map<string, TopicState>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private writeQueue: Promise<unknown> = Promise.resolve();
  private nextTopicId: number;
  private closed = false;

  private cleanupTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    readonly location: string,
    nextTopicId: number,
  ) {
    this.nextTopicId = nextTopicId;
  }

  /**
   * Opens (creating when missing) the log in the folder `location`. Rejects with `LOCKED` when another
   * process (or another open log in this process) holds the folder. `cleanupIntervalMs`: how often
   * retention and compaction run (0: only when {@link cleanup} is called).
   */
  static async open(location: string, options: { cleanupIntervalMs?: number } = {}): Promise<EmbeddedLog> {
    const db = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: "buffer", valueEncoding: "buffer" });
    try {
      await db.open({ createIfMissing: true });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code === "LEVEL_LOCKED") {
        throw new LogError(
          "LOCKED",
          `the data folder '${location}' is in use by another esql process (LevelDB holds its LOCK file); ` +
            `stop that process or choose another data folder`,
          { cause: err },
        );
      }
      throw new LogError("IO", `cannot open the embedded log in '${location}': ${(err as Error).message}`, {
        cause: err,
      });
    }
    const idBuf = await db.get(NEXT_TOPIC_ID_KEY);
    const log = new EmbeddedLog(db, location, idBuf ? (JSON.parse(idBuf.toString("utf8")) as number) : 1);
    await log.load();
    const interval = options.cleanupIntervalMs ?? DEFAULT_CLEANUP_INTERVAL_MS;
    if (interval > 0) {
      log.cleanupTimer = setInterval(() => {
        // A failed cleanup changes nothing (one LevelDB batch per partition); the next one tries again.
        log.cleanup().catch(() => undefined);
      }, interval);
      log.cleanupTimer.unref();
    }
    return log;
  }

  /**
   * Applies every topic's retention and compaction now (see the class comment), as of `now` (ms since the
   * epoch). Resolves what it removed.
   */
  async cleanup(now: number = Date.now()): Promise<{ deletedRecords: number; compactedRecords: number }> {
    this.checkOpen();
    return this.enqueue(async () => {
      let deletedRecords = 0;
      let compactedRecords = 0;
      for (const t of this.topics.values()) {
        if (this.closed) break;
        const policy = t.config.cleanupPolicy ?? "delete";
        const retention = t.config.retentionMs;
        for (let p = 0; p < t.partitions; p++) {
          if (policy !== "compact" && retention !== undefined && retention >= 0) {
            deletedRecords += await this.deleteExpired(t, p, now - retention);
          }
          if (policy !== "delete") {
            compactedRecords += await this.compact(t, p, now - (t.config.deleteRetentionMs ?? DAY_MS));
          }
        }
      }
      return { deletedRecords, compactedRecords };
    });
  }

  /** Deletes the partition's oldest chunks whose records are all older than `before`; returns how many records. */
  private async deleteExpired(t: TopicState, p: number, before: number): Promise<number> {
    const batch = this.db.batch();
    // Nothing left: the log starts at its end, as Kafka's does after deleting every segment.
    let beginning = t.end[p]!;
    let deleted = 0;
    for await (const [k, v] of this.db.iterator({ gte: recordKey(t.id, p, 0), lt: recordKey(t.id, p, t.end[p]!) })) {
      const records = chunkRecords(k, v);
      if (records.some((r) => v.readDoubleBE(r.pos) >= before)) {
        beginning = records[0]!.offset;
        break;
      }
      batch.del(k);
      deleted += records.length;
    }
    if (deleted === 0) return 0;
    batch.put(partitionStateKey(t.id, p), encodePartitionState(beginning, t.end[p]!));
    await batch.write();
    t.beginning[p] = beginning;
    return deleted;
  }

  /**
   * Compacts every chunk of the partition but its last: keeps the latest record of each key among them, and
   * drops tombstones older than `tombstonesBefore`. Returns how many records it removed.
   */
  private async compact(t: TopicState, p: number, tombstonesBefore: number): Promise<number> {
    const range = { gte: recordKey(t.id, p, t.beginning[p]!), lt: recordKey(t.id, p, t.end[p]!) };
    const active = await this.db.keys({ ...range, reverse: true, limit: 1 }).all();
    if (active.length === 0) return 0;
    const cleanable = { gte: range.gte, lt: active[0]! };
    // The latest offset of every key in the cleanable chunks (Kafka's offset map).
    const latest = new Map<string, number>();
    for await (const [k, v] of this.db.iterator(cleanable)) {
      for (const r of chunkRecords(k, v)) {
        const key = recordKeyBytes(v, r.pos);
        if (key !== null) latest.set(key.toString("latin1"), r.offset);
      }
    }
    const batch = this.db.batch();
    let removed = 0;
    for await (const [k, v] of this.db.iterator(cleanable)) {
      const records = chunkRecords(k, v);
      const kept = records.filter((r) => {
        const key = recordKeyBytes(v, r.pos);
        if (key === null) return true;
        if (latest.get(key.toString("latin1")) !== r.offset) return false;
        return !(recordValueIsNull(v, r.pos) && v.readDoubleBE(r.pos) < tombstonesBefore);
      });
      if (kept.length === records.length) continue;
      removed += records.length - kept.length;
      batch.del(k);
      if (kept.length > 0) {
        const base = kept[0]!.offset;
        batch.put(recordKey(t.id, p, base), encodeSparseChunk(v, kept, base));
      }
    }
    if (removed > 0) await batch.write();
    return removed;
  }

  private async load(): Promise<void> {
    const metas = await this.db.iterator({ gte: TOPIC_META_PREFIX, lt: prefixEnd(TOPIC_META_PREFIX) }).all();
    for (const [k, v] of metas) {
      const name = k.subarray(TOPIC_META_PREFIX.length).toString("utf8");
      const meta = JSON.parse(v.toString("utf8")) as TopicMeta;
      const state: TopicState = {
        name,
        id: meta.id,
        partitions: meta.partitions,
        config: meta.config,
        beginning: new Array<number>(meta.partitions).fill(0),
        end: new Array<number>(meta.partitions).fill(0),
        roundRobin: 0,
      };
      const positions = await this.db
        .iterator({ gte: partitionStateKey(meta.id, 0), lt: partitionStateKey(meta.id + 1, 0) })
        .all();
      for (const [pk, pv] of positions) {
        const p = pk.readUInt32BE(5);
        state.beginning[p] = pv.readDoubleBE(0);
        state.end[p] = pv.readDoubleBE(8);
      }
      this.topics.set(name, state);
    }
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<boolean> {
    this.checkOpen();
    const problem = topicNameProblem(name);
    if (problem) throw new LogError("INVALID_ARGUMENT", problem);
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new LogError(
        "INVALID_ARGUMENT",
        `a topic needs a whole number of partitions >= 1, found ${options.partitions}`,
      );
    }
    return this.enqueue(async () => {
      if (this.topics.has(name)) return false;
      const id = this.nextTopicId;
      const config: TopicConfig = { ...(options.config ?? {}) };
      const batch = this.db.batch();
      batch.put(topicMetaKey(name), Buffer.from(JSON.stringify({ id, partitions: options.partitions, config })));
      batch.put(NEXT_TOPIC_ID_KEY, Buffer.from(JSON.stringify(id + 1)));
      await batch.write();
      this.nextTopicId = id + 1;
      this.topics.set(name, {
        name,
        id,
        partitions: options.partitions,
        config,
        beginning: new Array<number>(options.partitions).fill(0),
        end: new Array<number>(options.partitions).fill(0),
        roundRobin: 0,
      });
      return true;
    });
  }

  async deleteTopic(name: string): Promise<void> {
    this.topic(name);
    await this.enqueue(async () => {
      const t = this.topic(name);
      await this.db.clear({ gte: recordPrefix(t.id), lt: recordPrefix(t.id + 1) });
      const batch = this.db.batch();
      batch.del(topicMetaKey(name));
      for (let p = 0; p < t.partitions; p++) batch.del(partitionStateKey(t.id, p));
      await batch.write();
      this.topics.delete(name);
      this.wake(name);
    });
  }

  async listTopics(): Promise<string[]> {
    this.checkOpen();
    return [...this.topics.keys()].sort();
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    this.checkOpen();
    const t = this.topics.get(name);
    return t && { name, partitions: t.partitions, config: t.config };
  }

  async append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]> {
    const checked = this.topic(topic);
    for (const r of records) {
      if (r.partition !== undefined) checkPartition(checked, r.partition);
    }
    if (records.length === 0) return [];
    return this.enqueue(async () => {
      const t = this.topic(topic); // may have been deleted while queued
      const now = Date.now();
      const results: AppendResult[] = new Array(records.length);
      const end = t.end.slice();
      const batch = this.db.batch();
      // Per partition: the encoded records of the chunk being filled and the offset of its first record.
      const pending: (Buffer[] | undefined)[] = new Array(t.partitions);
      const firstOffset: number[] = new Array(t.partitions);
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const partition =
          r.partition ?? (r.key !== null ? partitionForKey(r.key, t.partitions) : t.roundRobin++ % t.partitions);
        const offset = end[partition]!++;
        let chunk = pending[partition];
        if (chunk === undefined) {
          chunk = pending[partition] = [];
          firstOffset[partition] = offset;
        }
        chunk.push(encodeRecord(r, now));
        if (chunk.length === CHUNK_RECORDS) {
          batch.put(recordKey(t.id, partition, firstOffset[partition]!), encodeChunk(chunk));
          pending[partition] = undefined;
        }
        results[i] = { partition, offset };
      }
      for (let p = 0; p < t.partitions; p++) {
        const chunk = pending[p];
        if (chunk !== undefined) batch.put(recordKey(t.id, p, firstOffset[p]!), encodeChunk(chunk));
      }
      for (let p = 0; p < t.partitions; p++) {
        if (end[p] !== t.end[p]) batch.put(partitionStateKey(t.id, p), encodePartitionState(t.beginning[p]!, end[p]!));
      }
      await batch.write();
      t.end = end;
      this.wake(topic);
      return results;
    });
  }

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    const t = this.topic(topic);
    checkPartition(t, partition);
    const begin = t.beginning[partition]!;
    const end = t.end[partition]!;
    if (!Number.isInteger(fromOffset) || fromOffset < begin || fromOffset > end) {
      throw new LogError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${fromOffset} is out of range for ${topic}-${partition}: expected ${begin} to ${end}`,
      );
    }
    const max = Math.max(0, Math.floor(maxRecords));
    const out: LogRecord[] = [];
    // Compaction leaves gaps: a range that holds none of the records left moves on to the next one.
    for (let from = fromOffset; out.length === 0 && from < end; from += max) {
      const stop = Math.min(end, from + max);
      if (stop <= from) return [];
      // The chunk holding `from` starts at or before it: find its key with one reverse seek.
      const heads = await this.db
        .keys({
          gte: recordKey(t.id, partition, 0),
          lte: recordKey(t.id, partition, from),
          reverse: true,
          limit: 1,
        })
        .all();
      const entries = await this.db
        .iterator({ gte: heads[0] ?? recordKey(t.id, partition, from), lt: recordKey(t.id, partition, stop) })
        .all();
      for (const [k, v] of entries) {
        const base = k.readUInt32BE(9) * 0x1_0000_0000 + k.readUInt32BE(13);
        const head = v.readUInt32BE(0);
        const sparse = head >= SPARSE;
        const count = sparse ? head - SPARSE : head;
        let pos = 4;
        for (let j = 0; j < count; j++) {
          let offset = base + j;
          if (sparse) {
            offset = base + v.readUInt32BE(pos);
            pos += 4;
          }
          if (offset >= stop) break;
          if (offset < from) {
            pos = skipRecord(v, pos);
          } else {
            out.push(decodeRecord(topic, partition, offset, v, pos));
            pos = cursor;
          }
        }
      }
    }
    return out;
  }

  async beginningOffset(topic: string, partition: number): Promise<number> {
    const t = this.topic(topic);
    checkPartition(t, partition);
    return t.beginning[partition]!;
  }

  async endOffset(topic: string, partition: number): Promise<number> {
    const t = this.topic(topic);
    checkPartition(t, partition);
    return t.end[partition]!;
  }

  /** A scan from the beginning (timestamps need not be ordered, as in Kafka): for a query's start only. */
  async offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    let at = await this.beginningOffset(topic, partition);
    for (;;) {
      const records = await this.read(topic, partition, at, 10_000);
      if (records.length === 0) return at;
      const hit = records.find((r) => r.timestamp >= timestamp);
      if (hit) return hit.offset;
      at = records[records.length - 1]!.offset + 1;
    }
  }

  waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean> {
    let t: TopicState;
    try {
      t = this.topic(topic);
      for (const p of positions) checkPartition(t, p.partition);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e))); // reject rather than throw, like every other method here
    }
    const ready = (): boolean => {
      const now = this.topics.get(topic);
      if (now !== t) return true; // deleted (or re-created): let the next read report it
      for (const p of positions) if (t.end[p.partition]! > p.offset) return true;
      return false;
    };
    if (ready()) return Promise.resolve(true);
    if (signal?.aborted || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let set = this.waiters.get(topic);
      if (!set) this.waiters.set(topic, (set = new Set()));
      const waiters = set;
      const finish = (result: boolean): void => {
        waiters.delete(waiter);
        signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const waiter = (): void => {
        if (this.closed) finish(false);
        else if (ready()) finish(true);
      };
      const onAbort = (): void => finish(false);
      waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  subscribe(
    topic: string,
    positions: readonly PartitionPosition[],
    options?: SubscribeOptions,
  ): AsyncIterableIterator<LogRecord[]> {
    return followByReading(this, topic, positions, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.cleanupTimer);
    await this.writeQueue.catch(() => undefined);
    for (const topic of [...this.waiters.keys()]) this.wake(topic);
    await this.db.close();
  }

  private wake(topic: string): void {
    const set = this.waiters.get(topic);
    if (!set) return;
    for (const w of [...set]) w();
    if (set.size === 0) this.waiters.delete(topic);
  }

  /** Runs `fn` after every write queued before it; a failed write does not block later ones. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(fn, fn);
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError("CLOSED", `the embedded log in '${this.location}' is closed`);
  }

  private topic(name: string): TopicState {
    this.checkOpen();
    const t = this.topics.get(name);
    if (!t) throw new LogError("UNKNOWN_TOPIC", `topic '${name}' does not exist`);
    return t;
  }
}

interface TopicMeta {
  readonly id: number;
  readonly partitions: number;
  readonly config: TopicConfig;
}

interface TopicState extends TopicMeta {
  readonly name: string;
  beginning: number[];
  /** Committed end offsets: what readers may see. */
  end: number[];
  roundRobin: number;
}

function checkPartition(t: TopicState, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitions) {
    throw new LogError(
      "INVALID_PARTITION",
      `topic '${t.name}' has partitions 0 to ${t.partitions - 1}, found partition ${partition}`,
    );
  }
}

/** Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`. */
function topicNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 249) return `a topic name needs 1 to 249 characters, found ${name.length}`;
  if (name === "." || name === "..") return `'${name}' is not a valid topic name`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `a topic name may contain only ASCII letters, digits, '.', '_' and '-', found '${name}'`;
  }
  return undefined;
}

// ---- key layout ----

const TOPIC_META_PREFIX = Buffer.from("\x00topic/", "latin1");
const NEXT_TOPIC_ID_KEY = Buffer.from("\x00nextTopicId", "latin1");

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return end;
}

function topicMetaKey(name: string): Buffer {
  return Buffer.concat([TOPIC_META_PREFIX, Buffer.from(name, "utf8")]);
}

function partitionStateKey(id: number, partition: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = 0x01;
  k.writeUInt32BE(id, 1);
  k.writeUInt32BE(partition, 5);
  return k;
}

function encodePartitionState(beginning: number, end: number): Buffer {
  const v = Buffer.allocUnsafe(16);
  v.writeDoubleBE(beginning, 0);
  v.writeDoubleBE(end, 8);
  return v;
}

function recordPrefix(id: number): Buffer {
  const k = Buffer.allocUnsafe(5);
  k[0] = 0x02;
  k.writeUInt32BE(id, 1);
  return k;
}

function recordKey(id: number, partition: number, offset: number): Buffer {
  const k = Buffer.allocUnsafe(17);
  k[0] = 0x02;
  k.writeUInt32BE(id, 1);
  k.writeUInt32BE(partition, 5);
  k.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 9);
  k.writeUInt32BE(offset >>> 0, 13);
  return k;
}

// ---- record encoding ----
// A chunk is <count u32> followed by `count` records, each:
// <timestamp f64> <keyLen i32, -1 = null> <key> <valueLen i32> <value> <headerCount u32>
//   then per header: <keyLen u32> <key utf8> <valueLen i32> <value>

const EMPTY_HEADERS: readonly LogHeader[] = Object.freeze([]);

/** Records per LevelDB entry: big enough to amortize LevelDB's per-entry cost, small enough for seeks. */
const CHUNK_RECORDS = 256;

/**
 * The flag in a chunk's count of a sparse chunk (one compaction rewrote): each record is preceded by its
 * offset minus the chunk's first offset (u32), instead of offsets following one another.
 */
const SPARSE = 0x8000_0000;

const DEFAULT_CLEANUP_INTERVAL_MS = 5 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

/** The records of a chunk: each one's offset and where it starts in the chunk. */
function chunkRecords(k: Buffer, v: Buffer): { offset: number; pos: number }[] {
  const base = k.readUInt32BE(9) * 0x1_0000_0000 + k.readUInt32BE(13);
  const head = v.readUInt32BE(0);
  const sparse = head >= SPARSE;
  const count = sparse ? head - SPARSE : head;
  const out: { offset: number; pos: number }[] = new Array(count);
  let pos = 4;
  for (let j = 0; j < count; j++) {
    let offset = base + j;
    if (sparse) {
      offset = base + v.readUInt32BE(pos);
      pos += 4;
    }
    out[j] = { offset, pos };
    pos = skipRecord(v, pos);
  }
  return out;
}

/** A sparse chunk of the given records of chunk `v` (offsets relative to `base`, the first one's). */
function encodeSparseChunk(v: Buffer, records: readonly { offset: number; pos: number }[], base: number): Buffer {
  const parts: Buffer[] = [Buffer.allocUnsafe(4)];
  parts[0]!.writeUInt32BE(SPARSE + records.length, 0);
  for (const r of records) {
    const delta = Buffer.allocUnsafe(4);
    delta.writeUInt32BE(r.offset - base, 0);
    parts.push(delta, v.subarray(r.pos, skipRecord(v, r.pos)));
  }
  return Buffer.concat(parts);
}

/** The key of the record at `pos` (null when it has none). */
function recordKeyBytes(b: Buffer, pos: number): Buffer | null {
  const len = b.readInt32BE(pos + 8);
  return len < 0 ? null : b.subarray(pos + 12, pos + 12 + len);
}

/** Whether the record at `pos` is a tombstone. */
function recordValueIsNull(b: Buffer, pos: number): boolean {
  const keyLen = Math.max(0, b.readInt32BE(pos + 8));
  return b.readInt32BE(pos + 12 + keyLen) < 0;
}

function encodeChunk(records: readonly Buffer[]): Buffer {
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(records.length, 0);
  return Buffer.concat([count, ...records]);
}

/** Where `decodeRecord` stopped: avoids allocating a result pair per record on the read path. */
let cursor = 0;

/** The position after the record at `pos`. */
function skipRecord(b: Buffer, pos: number): number {
  pos += 8;
  let len = b.readInt32BE(pos);
  pos += 4 + Math.max(0, len);
  len = b.readInt32BE(pos);
  pos += 4 + Math.max(0, len);
  const count = b.readUInt32BE(pos);
  pos += 4;
  for (let i = 0; i < count; i++) {
    pos += 4 + b.readUInt32BE(pos);
    len = b.readInt32BE(pos);
    pos += 4 + Math.max(0, len);
  }
  return pos;
}

function encodeRecord(r: ProduceRecord, now: number): Buffer {
  const headers = r.headers ?? EMPTY_HEADERS;
  let size = 8 + 4 + (r.key?.length ?? 0) + 4 + (r.value?.length ?? 0) + 4;
  for (const h of headers) size += 4 + Buffer.byteLength(h.key, "utf8") + 4 + (h.value?.length ?? 0);
  const b = Buffer.allocUnsafe(size);
  b.writeDoubleBE(r.timestamp ?? now, 0);
  let pos = writeBytes(b, 8, r.key);
  pos = writeBytes(b, pos, r.value);
  b.writeUInt32BE(headers.length, pos);
  pos += 4;
  for (const h of headers) {
    const n = b.write(h.key, pos + 4, "utf8");
    b.writeUInt32BE(n, pos);
    pos = writeBytes(b, pos + 4 + n, h.value);
  }
  return b;
}

function writeBytes(b: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) {
    b.writeInt32BE(-1, pos);
    return pos + 4;
  }
  b.writeInt32BE(bytes.length, pos);
  bytes.copy(b, pos + 4);
  return pos + 4 + bytes.length;
}

/** Decodes the record at `pos` and leaves the position after it in `cursor`. */
function decodeRecord(topic: string, partition: number, offset: number, b: Buffer, pos: number): LogRecord {
  const timestamp = b.readDoubleBE(pos);
  pos += 8;
  let len = b.readInt32BE(pos);
  pos += 4;
  const key = len < 0 ? null : b.subarray(pos, (pos += len));
  len = b.readInt32BE(pos);
  pos += 4;
  const value = len < 0 ? null : b.subarray(pos, (pos += len));
  const count = b.readUInt32BE(pos);
  pos += 4;
  let headers = EMPTY_HEADERS;
  if (count > 0) {
    const hs: LogHeader[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const kl = b.readUInt32BE(pos);
      const hk = b.toString("utf8", pos + 4, pos + 4 + kl);
      pos += 4 + kl;
      const vl = b.readInt32BE(pos);
      pos += 4;
      const hv = vl < 0 ? null : b.subarray(pos, (pos += vl));
      hs[i] = { key: hk, value: hv };
    }
    headers = hs;
  }
  cursor = pos;
  return { topic, partition, offset, key, value, timestamp, headers };
}
