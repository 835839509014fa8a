/**
 * State stores on classic-level (LevelDB).
 *
 * One {@link PartitionStore} is one LevelDB database: the state of one query's task for one input
 * partition. It holds any number of named stores (key prefixes) and the source offsets the state
 * corresponds to. Processing happens in batches:
 *
 * 1. `await prefetch(keys)` / `await loadPrefix(prefix)` bring what the batch will read into memory;
 * 2. processors `get`/`put`/`delete` synchronously (no `await` per record);
 * 3. `await commit(offsets)` writes every change of the batch and the new source offsets in ONE LevelDB
 *    batch, so state and position move atomically: a crash repeats work but never loses or
 *    double-applies an event in a store.
 *
 * Values are stored with the codec in `codec.ts` (JSON where exact, else `v8.serialize`).
 */
import { ClassicLevel } from "classic-level";
import { mkdirSync } from "node:fs";
import { decodeValue, encodeValue } from "./codec.ts";
import { prefixEnd } from "./keycodec.ts";

type Level = ClassicLevel<Buffer, Buffer>;

/** Reserved prefix for metadata (offsets); named stores never start with 0x00. */
const META = 0x00;
const OFFSET_PREFIX = Buffer.from([META, 0x6f]); // 0x00 'o'

/** A change made by a commit: what a changelog topic receives. `value` null = deleted. */
export interface StoreChange {
  readonly store: string;
  readonly key: Buffer;
  readonly value: unknown;
}

/** Where the state stands: next offset to read per source `topic/partition`. */
export type SourceOffsets = ReadonlyMap<string, number>;

/**
 * One write of a commit as the database sees it: the full LevelDB key (store name prefix included, or
 * the offsets prefix) and the encoded value (`null`: deleted). A changelog topic holds these, so that
 * replaying them in order rebuilds the database: named stores and source offsets alike.
 */
export interface RawWrite {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

/**
 * Called by `commit` with the batch's writes before they are written locally (to copy them to a
 * changelog first). Resolves extra offsets to record in the same local batch (the changelog position),
 * which are not part of `writes`.
 */
export type BeforeCommit = (writes: readonly RawWrite[]) => Promise<SourceOffsets | undefined>;

const ABSENT = Symbol("absent");

export class PartitionStore {
  private readonly db: Level;
  /** Cached values by binary key (latin1 string); ABSENT = known not to exist. */
  private readonly cache = new Map<string, unknown>();
  private readonly dirty = new Set<string>();
  private readonly loadedPrefixes = new Set<string>();
  private offsets = new Map<string, number>();
  /** Soft limit on cached clean entries; beyond it, clean entries are dropped after a commit. */
  private readonly maxCached: number;
  private epoch = 0;

  private constructor(db: Level, offsets: Map<string, number>, maxCached: number) {
    this.db = db;
    this.offsets = offsets;
    this.maxCached = maxCached;
  }

  /** Opens (creating when needed) the store in `path`. Fails with a clear message if another process holds it. */
  static async open(path: string, options: { maxCached?: number } = {}): Promise<PartitionStore> {
    mkdirSync(path, { recursive: true });
    const db: Level = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: "buffer", valueEncoding: "buffer" });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === "LEVEL_LOCKED" || (e as { code?: string }).code === "LEVEL_LOCKED") {
        throw new Error(`state store ${path} is in use by another process (LevelDB lock held)`, { cause: e });
      }
      throw e;
    }
    const offsets = new Map<string, number>();
    for await (const [k, v] of db.iterator({ gte: OFFSET_PREFIX, lt: prefixEnd(OFFSET_PREFIX) })) {
      offsets.set(k.subarray(OFFSET_PREFIX.length).toString("utf8"), Number(decodeValue(v)));
    }
    return new PartitionStore(db, offsets, options.maxCached ?? 200_000);
  }

  /**
   * Changes whenever the in-memory cache is dropped (size limit, rollback, restore). A processor that keeps
   * its own hot copies of entries (e.g. aggregate states by group) drops them when this changes, so it
   * never works from a value the store no longer vouches for.
   */
  get cacheEpoch(): number {
    return this.epoch;
  }

  /** Cached entries (committed or not): processors keep their hot copies within the same bound. */
  get cacheLimit(): number {
    return this.maxCached;
  }

  /** The next offset to read of `topic` partition `partition`, or undefined when never committed. */
  offset(topic: string, partition: number): number | undefined {
    return this.offsets.get(`${topic}/${partition}`);
  }

  allOffsets(): SourceOffsets {
    return this.offsets;
  }

  /** Loads the given keys of store `name` into memory (one `getMany` for those not cached). */
  async prefetch(name: string, keys: readonly Buffer[]): Promise<void> {
    const missing: Buffer[] = [];
    const seen = new Set<string>();
    const head = nameHead(name);
    for (const k of keys) {
      const id = head.id + (k as Buffer).toString("latin1");
      if (this.cache.has(id) || seen.has(id)) continue;
      seen.add(id);
      missing.push(Buffer.from(id, "latin1"));
    }
    if (missing.length === 0) return;
    const values = await this.db.getMany(missing);
    for (let i = 0; i < missing.length; i++) {
      const v = values[i];
      this.cache.set(missing[i]!.toString("latin1"), v === undefined ? ABSENT : decodeValue(v));
    }
  }

  /** Loads every entry of store `name` whose key starts with `prefix` (e.g. all windows of one key). */
  async loadPrefix(name: string, prefix: Buffer): Promise<void> {
    const full = fullKey(name, prefix);
    const id = full.toString("latin1");
    if (this.loadedPrefixes.has(id)) return;
    for await (const [k, v] of this.db.iterator({ gte: full, lt: prefixEnd(full) })) {
      const kid = k.toString("latin1");
      if (!this.cache.has(kid)) this.cache.set(kid, decodeValue(v));
    }
    this.loadedPrefixes.add(id);
  }

  /** The value of `key` in store `name`; undefined when absent. The key must have been prefetched. */
  get(name: string, key: Buffer): unknown {
    const id = nameHead(name).id + key.toString("latin1");
    const v = this.cache.get(id);
    if (v === undefined) throw new Error(`internal: key read from store '${name}' without prefetch`);
    return v === ABSENT ? undefined : v;
  }

  put(name: string, key: Buffer, value: unknown): void {
    const id = nameHead(name).id + key.toString("latin1");
    this.cache.set(id, value);
    this.dirty.add(id);
  }

  delete(name: string, key: Buffer): void {
    const id = nameHead(name).id + key.toString("latin1");
    this.cache.set(id, ABSENT);
    this.dirty.add(id);
  }

  /**
   * Entries of store `name` with keys starting with `prefix`, in key order, as the batch sees them
   * (committed state plus this batch's changes). `loadPrefix` must have been awaited for the prefix.
   * Each entry's key is returned WITHOUT the prefix (the part after it).
   */
  scanLoaded(name: string, prefix: Buffer): [Buffer, unknown][] {
    const full = fullKey(name, prefix);
    const lo = full.toString("latin1");
    const hi = prefixEnd(full).toString("latin1");
    const out: [string, unknown][] = [];
    for (const [id, v] of this.cache) if (id >= lo && id < hi && v !== ABSENT) out.push([id, v]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const skip = full.length;
    return out.map(([id, v]) => [Buffer.from(id, "latin1").subarray(skip), v]);
  }

  /**
   * Writes this batch's changes and the new source offsets in one atomic LevelDB batch, and returns the
   * changes. With `beforeWrite`, the batch's raw writes go to it first (a changelog topic) and the local
   * write happens only once it resolved: a changelog is never behind its local store.
   */
  async commit(offsets: SourceOffsets, beforeWrite?: BeforeCommit): Promise<StoreChange[]> {
    const ops: { type: "put" | "del"; key: Buffer; value?: Buffer }[] = [];
    const changes: StoreChange[] = [];
    for (const id of this.dirty) {
      const key = Buffer.from(id, "latin1");
      const v = this.cache.get(id);
      const nameLen = key[0]!;
      const store = storeNameOf(id, nameLen);
      const userKey = key.subarray(1 + nameLen);
      if (v === ABSENT || v === undefined) {
        ops.push({ type: "del", key });
        changes.push({ store, key: userKey, value: null });
      } else {
        ops.push({ type: "put", key, value: encodeValue(v) });
        changes.push({ store, key: userKey, value: v });
      }
    }
    const put = (k: string, v: number) =>
      ops.push({ type: "put", key: Buffer.concat([OFFSET_PREFIX, Buffer.from(k, "utf8")]), value: encodeValue(v) });
    for (const [k, v] of offsets) put(k, v);
    const extra = beforeWrite ? await beforeWrite(ops.map((o) => ({ key: o.key, value: o.value ?? null }))) : undefined;
    for (const [k, v] of extra ?? []) put(k, v);
    for (const [k, v] of offsets) this.offsets.set(k, v);
    for (const [k, v] of extra ?? []) this.offsets.set(k, v);
    if (ops.length > 0) await this.db.batch(ops as never);
    this.dirty.clear();
    if (this.cache.size > this.maxCached) {
      this.cache.clear();
      this.loadedPrefixes.clear();
      this.epoch++;
    }
    return changes;
  }

  /**
   * Writes replayed changelog writes (see {@link RawWrite}) and `offsets` in one atomic batch, e.g. to
   * rebuild a missing or stale store. Drops the in-memory cache (no batch may be in progress).
   */
  async applyWrites(writes: readonly RawWrite[], offsets: SourceOffsets): Promise<void> {
    const ops: { type: "put" | "del"; key: Buffer; value?: Buffer }[] = [];
    const learned = new Map<string, number>();
    for (const w of writes) {
      ops.push(w.value === null ? { type: "del", key: w.key } : { type: "put", key: w.key, value: w.value });
      if (w.value !== null && w.key.subarray(0, OFFSET_PREFIX.length).equals(OFFSET_PREFIX)) {
        learned.set(w.key.subarray(OFFSET_PREFIX.length).toString("utf8"), Number(decodeValue(w.value)));
      }
    }
    for (const [k, v] of offsets) {
      ops.push({ type: "put", key: Buffer.concat([OFFSET_PREFIX, Buffer.from(k, "utf8")]), value: encodeValue(v) });
      learned.set(k, v);
    }
    if (ops.length > 0) await this.db.batch(ops as never);
    for (const [k, v] of learned) this.offsets.set(k, v);
    this.cache.clear();
    this.dirty.clear();
    this.loadedPrefixes.clear();
    this.epoch++;
  }

  /** Forgets this batch's uncommitted changes (the batch failed and will be retried). */
  rollback(): void {
    for (const id of this.dirty) this.cache.delete(id);
    this.dirty.clear();
    this.loadedPrefixes.clear();
    this.epoch++;
  }

  /** Committed entries of store `name` in key order between `gte` (inclusive) and `lt` (exclusive). */
  async *iterate(name: string, range: { gte?: Buffer; lt?: Buffer } = {}): AsyncGenerator<[Buffer, unknown]> {
    const base = fullKey(name, Buffer.alloc(0));
    const gte = range.gte === undefined ? base : fullKey(name, range.gte);
    const lt = range.lt === undefined ? prefixEnd(base) : fullKey(name, range.lt);
    for await (const [k, v] of this.db.iterator({ gte, lt })) yield [k.subarray(base.length), decodeValue(v)];
  }

  /**
   * Entries of store `name` between `gte` (inclusive) and `lt` (exclusive) in key order, as the batch sees
   * them: committed entries with this batch's uncommitted puts and deletes applied. Costs one LevelDB range
   * read plus one pass over the batch's changes (for time-ordered indexes: what closed, what expired).
   * Keys are returned without the store name prefix. Does not fill the cache.
   */
  async range(name: string, range: { gte: Buffer; lt: Buffer }): Promise<[Buffer, unknown][]> {
    const base = nameHead(name).bytes;
    const gte = fullKey(name, range.gte);
    const lt = fullKey(name, range.lt);
    const byId = new Map<string, unknown>();
    for await (const [k, v] of this.db.iterator({ gte, lt })) byId.set(k.toString("latin1"), decodeValue(v));
    const lo = gte.toString("latin1");
    const hi = lt.toString("latin1");
    for (const id of this.dirty) {
      if (id < lo || id >= hi) continue;
      const v = this.cache.get(id);
      if (v === ABSENT || v === undefined) byId.delete(id);
      else byId.set(id, v);
    }
    const ids = [...byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ids.map((id) => [Buffer.from(id, "latin1").subarray(base.length), byId.get(id)]);
  }

  /**
   * Committed value of `key` in store `name`, read from disk (for queries; does not touch the cache). A
   * synchronous get: one key costs microseconds, and the round trip through libuv's thread pool and a promise
   * cost more (half the CPU of a pull query's key lookup, measured with 32 concurrent lookups).
   */
  async read(name: string, key: Buffer): Promise<unknown> {
    const v = this.db.getSync(fullKey(name, key));
    return v === undefined ? undefined : decodeValue(v);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

const nameCache = new Map<string, { bytes: Buffer; id: string }>();

/**
 * The key prefix of a named store, as bytes and as the latin1 string the cache uses for ids:
 * `len(name) name`. Named stores are disjoint prefixes, never starting with the META byte.
 */
function nameHead(name: string): { bytes: Buffer; id: string } {
  let head = nameCache.get(name);
  if (head === undefined) {
    const n = Buffer.from(name, "utf8");
    if (n.length === 0 || n.length > 250) throw new Error(`internal: bad store name '${name}'`);
    const bytes = Buffer.concat([Buffer.from([n.length]), n]);
    head = { bytes, id: bytes.toString("latin1") };
    nameCache.set(name, head);
  }
  return head;
}

const namesByHead = new Map<string, string>();

/** The store name at the head of a cache id (`len(name) name ...`), decoded once per name. */
function storeNameOf(id: string, nameLen: number): string {
  const head = id.slice(0, 1 + nameLen);
  let name = namesByHead.get(head);
  if (name === undefined) {
    name = Buffer.from(head.slice(1), "latin1").toString("utf8");
    namesByHead.set(head, name);
  }
  return name;
}

function fullKey(name: string, key: Uint8Array): Buffer {
  return Buffer.concat([nameHead(name).bytes, key]);
}
