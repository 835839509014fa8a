/**
 * Reads. kafkajs has no public "fetch from offset" call (its consumer needs a group, and offers no manual
 * assignment), so reads issue Fetch requests themselves through kafkajs' own cluster object (`clusterFor`
 * in `internals.ts`: the client's private cluster factory, same connection settings, SASL and TLS).
 *
 * - `read` is ONE Fetch round trip with `maxWaitTime` 0 (about a millisecond on a local broker, plus the
 *   decoding of whole record batches: Kafka returns batches, so a read from the middle of a batch decodes it
 *   entirely and drops the records before `fromOffset`). Reads read ahead: records fetched beyond
 *   `maxRecords` are kept for the next read, and a read that returns records starts the next Fetch of its
 *   partition at once, so a reader catching up overlaps its processing with the round trip (an empty
 *   read-ahead answer is never trusted: the read then fetches again).
 * - `subscribe` and `waitForData` are long-poll Fetches (`maxWaitTime` {@link LONG_POLL_MS}) over all
 *   followed partitions at once: no consumer group, no committed offsets, no rebalances, and no polling
 *   loop while idle.
 * - Offsets: ListOffsets through the fetch cluster, for the one partition asked (two requests, earliest and
 *   latest, sent together). Read committed: the end offset is the last stable offset, which equals the high
 *   watermark while no transaction is open.
 * - Fetches use READ_COMMITTED: records of aborted transactions and control records are skipped.
 */
import { LogError, type LogHeader, type LogRecord, type PartitionPosition, type SubscribeOptions } from "../types.ts";
import type { KafkaTopics } from "./admin.ts";
import { checkPartition, toLogError, unknownTopic, type KafkaLogHost } from "./client.ts";
import { READ_COMMITTED, clusterFor, type InternalCluster, type RawMessage, type RawPartition } from "./internals.ts";

/**
 * How long a follow Fetch waits at the broker for new records before answering empty. Short, because
 * `close()` lets in-flight requests finish (kafkajs drains a connection before closing it), so this
 * bounds how long `close()` takes; an idle follower costs one tiny request per interval.
 */
const LONG_POLL_MS = 1000;
/** The smallest Fetch size `read` asks for. */
const READ_MIN_BYTES = 16 * 1024;
/** Fetch errors that mean "your metadata is stale": refresh, then try again. */
const RETRY_AFTER_METADATA = new Set([
  "NOT_LEADER_FOR_PARTITION",
  "LEADER_NOT_AVAILABLE",
  "FENCED_LEADER_EPOCH",
  "UNKNOWN_LEADER_EPOCH",
  "KafkaJSBrokerNotFound",
]);
/**
 * How long a Fetch or ListOffsets keeps retrying while leaders move (a new topic's partitions, a broker
 * restarting): a loaded broker can take seconds to elect a leader, and giving up sooner fails the query.
 */
const LEADER_WAIT_MS = 30_000;

/** Whether to retry an error that means "stale metadata", after a pause that grows with each attempt. */
async function retryAfterStaleMetadata(err: unknown, attempt: number, started: number): Promise<boolean> {
  const type = (err as { type?: string }).type;
  if (type === undefined || !RETRY_AFTER_METADATA.has(type) || Date.now() - started > LEADER_WAIT_MS) return false;
  await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 1000)));
  return true;
}

interface FetchedPartition {
  readonly partition: number;
  readonly records: LogRecord[];
  /** The offset to fetch next: past every record the broker returned, including skipped ones. */
  readonly nextOffset: number;
  readonly highWatermark: number;
}

export class KafkaFetcher {
  private readonly cluster: InternalCluster;
  private readonly followers = new Set<AbortController>();
  /**
   * Read-ahead of `read`, per `topic/partition`: what the next read from `from` gets (records already
   * fetched beyond the last read's `maxRecords`, or a Fetch started when it returned). A read from another
   * offset drops it.
   */
  private readonly readAhead = new Map<
    string,
    { readonly from: number; readonly fetched: Promise<FetchedPartition | undefined> }
  >();

  constructor(
    private readonly host: KafkaLogHost,
    private readonly topics: KafkaTopics,
  ) {
    this.cluster = clusterFor(host.kafka);
  }

  connect(): Promise<void> {
    return this.cluster.connect();
  }

  disconnect(): Promise<void> {
    return this.cluster.disconnect();
  }

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    await this.host.connect();
    checkPartition(topic, await this.topics.partitionCount(topic), partition);
    if (!Number.isInteger(fromOffset) || fromOffset < 0) {
      throw new LogError("OFFSET_OUT_OF_RANGE", `offset ${fromOffset} is out of range for ${topic}-${partition}`);
    }
    const max = Math.max(0, Math.floor(maxRecords));
    if (max === 0) return [];
    // Ask for about what `max` records need: Kafka answers with whole record batches anyway (at least
    // one, however large), and kafkajs decodes everything it receives.
    const bytes = Math.min(this.maxBytesPerPartition(), Math.max(READ_MIN_BYTES, max * 256));
    const id = `${topic}/${partition}`;
    const ahead = this.readAhead.get(id);
    this.readAhead.delete(id);
    let got: FetchedPartition | undefined;
    if (ahead !== undefined && ahead.from === fromOffset) {
      const f = await ahead.fetched;
      // An empty answer may be stale (records may have arrived since it was asked): fetch again below.
      if (f !== undefined && f.records.length > 0) got = f;
    }
    let offset = fromOffset;
    while (got === undefined) {
      const [f] = await this.fetch(topic, [{ partition, offset }], 0, bytes);
      if (!f || f.records.length > 0 || f.nextOffset === offset)
        got = f ?? { partition, records: [], nextOffset: offset, highWatermark: offset };
      // Only control records or aborted transactions there: skip past them rather than answer [] early.
      else offset = f.nextOffset;
    }
    const records = got.records;
    if (records.length === 0) return records;
    if (records.length > max) {
      // Already fetched and decoded: kept for the next read, which continues right after this one.
      const rest = records.slice(max);
      this.readAhead.set(id, {
        from: records[max - 1]!.offset + 1,
        fetched: Promise.resolve({ ...got, records: rest }),
      });
      return records.slice(0, max);
    }
    // Read ahead: the next Fetch is on its way while the caller processes these records.
    const next = this.fetch(topic, [{ partition, offset: got.nextOffset }], 0, bytes).then(
      (r) => r[0],
      () => undefined, // the next read fetches again and reports the error itself
    );
    this.readAhead.set(id, { from: records[records.length - 1]!.offset + 1, fetched: next });
    return records;
  }

  async beginningOffset(topic: string, partition: number): Promise<number> {
    return (await this.offsets(topic, partition)).low;
  }

  async endOffset(topic: string, partition: number): Promise<number> {
    return (await this.offsets(topic, partition)).high;
  }

  /**
   * ListOffsets by timestamp (what kafkajs' `admin.fetchTopicOffsetsByTimestamp` sends), through the fetch
   * cluster as `offsets` does; the broker's -1 (no record at or after the time) is the end offset.
   */
  async offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    const { high, at } = await this.offsets(topic, partition, timestamp);
    return at === undefined || at < 0 ? high : at;
  }

  async waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean> {
    await this.host.connect();
    const partitions = await this.topics.partitionCount(topic);
    for (const p of positions) checkPartition(topic, partitions, p.partition);
    const stop = this.follow(signal);
    try {
      while (!stop.signal.aborted) {
        let got: FetchedPartition[] | undefined;
        try {
          got = await abortable(this.fetch(topic, positions, LONG_POLL_MS, 1), stop.signal);
        } catch (err) {
          // Deleted topic or a position past the end: let the caller's next read report it.
          if (err instanceof LogError && (err.code === "UNKNOWN_TOPIC" || err.code === "OFFSET_OUT_OF_RANGE"))
            return true;
          throw err;
        }
        if (got === undefined) return false;
        for (const g of got) {
          const pos = positions.find((p) => p.partition === g.partition);
          if (pos && g.highWatermark > pos.offset) return true;
        }
      }
      return false;
    } finally {
      stop.done();
    }
  }

  subscribe(
    topic: string,
    positions: readonly PartitionPosition[],
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<LogRecord[]> {
    return this.followByFetching(topic, positions, options);
  }

  private async *followByFetching(
    topic: string,
    positions: readonly PartitionPosition[],
    options: SubscribeOptions,
  ): AsyncIterableIterator<LogRecord[]> {
    const maxRecords = Math.max(1, options.maxRecords ?? 1000);
    const next = positions.map((p) => ({ partition: p.partition, offset: p.offset }));
    if (next.length === 0) return;
    await this.host.connect();
    const partitions = await this.topics.partitionCount(topic);
    for (const p of next) checkPartition(topic, partitions, p.partition);
    const stop = this.follow(options.signal);
    try {
      while (!stop.signal.aborted) {
        const got = await abortable(this.fetch(topic, next, LONG_POLL_MS, this.maxBytesPerPartition()), stop.signal);
        if (got === undefined) return;
        for (const g of got) {
          const pos = next.find((p) => p.partition === g.partition)!;
          pos.offset = g.nextOffset;
          for (let i = 0; i < g.records.length; i += maxRecords) {
            if (stop.signal.aborted) return;
            yield i === 0 && g.records.length <= maxRecords ? g.records : g.records.slice(i, i + maxRecords);
          }
        }
      }
    } finally {
      stop.done();
    }
  }

  private maxBytesPerPartition(): number {
    return this.host.config.fetchMaxBytesPerPartition ?? 1024 * 1024;
  }

  /**
   * One Fetch per leader broker for `positions` of `topic`, waiting up to `waitMs` for data (0: answer at
   * once). Returns, per partition, its records at or after the asked offset and the next offset to ask.
   */
  private async fetch(
    topic: string,
    positions: readonly PartitionPosition[],
    waitMs: number,
    maxBytesPerPartition: number,
  ): Promise<FetchedPartition[]> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        // A retry must not bring back a topic forgotten meanwhile (deleted): see `deleteTopic`.
        if (attempt > 0 && !this.cluster.targetTopics.has(topic)) throw unknownTopic(topic);
        await this.ensureClusterKnows(topic);
        const byLeader = this.cluster.findLeaderForPartitions(
          topic,
          positions.map((p) => p.partition),
        );
        const asked = new Map(positions.map((p) => [p.partition, p.offset]));
        const responses = await Promise.all(
          Object.entries(byLeader).map(async ([nodeId, parts]) => {
            const broker = await this.cluster.findBroker({ nodeId });
            return broker.fetch({
              replicaId: -1,
              isolationLevel: READ_COMMITTED,
              maxWaitTime: waitMs,
              minBytes: 1,
              maxBytes: maxBytesPerPartition * parts.length,
              topics: [
                {
                  topic,
                  partitions: parts.map((partition) => ({
                    partition,
                    fetchOffset: String(asked.get(partition)),
                    maxBytes: maxBytesPerPartition,
                  })),
                },
              ],
            });
          }),
        );
        const out: FetchedPartition[] = [];
        for (const response of responses) {
          for (const t of response.responses) {
            for (const p of t.partitions) out.push(toFetched(topic, p, asked.get(p.partition)!));
          }
        }
        return out;
      } catch (err) {
        const e = toLogError(err, `cannot fetch from '${topic}'`, topic);
        if (e.code === "UNKNOWN_TOPIC") {
          this.host.forget(topic);
          throw e;
        }
        if (await retryAfterStaleMetadata(err, attempt, started)) {
          await this.cluster.refreshMetadata().catch(() => undefined);
          continue;
        }
        if (e.code === "OFFSET_OUT_OF_RANGE") {
          const bad = (err as { partition?: number }).partition;
          const pos = positions.find((p) => p.partition === bad) ?? positions[0]!;
          throw new LogError(
            "OFFSET_OUT_OF_RANGE",
            `offset ${pos.offset} is out of range for ${topic}-${pos.partition}: it is before the first stored ` +
              `record or past the end offset`,
            { cause: err },
          );
        }
        throw e;
      }
    }
  }

  /** Makes the fetch cluster's metadata cover `topic`. */
  private async ensureClusterKnows(topic: string): Promise<void> {
    if (!this.cluster.targetTopics.has(topic)) await this.cluster.addTargetTopic(topic);
    else await this.cluster.refreshMetadataIfNecessary();
  }

  /** Drops the read-ahead of a topic that is gone, and takes it out of the fetch cluster's metadata. */
  forget(topic: string): void {
    for (const id of this.readAhead.keys()) if (id.startsWith(`${topic}/`)) this.readAhead.delete(id);
    this.cluster.targetTopics.delete(topic);
  }

  private async offsets(
    topic: string,
    partition: number,
    timestamp?: number,
  ): Promise<{ low: number; high: number; at?: number }> {
    await this.host.connect();
    checkPartition(topic, await this.topics.partitionCount(topic), partition);
    // ListOffsets through the fetch cluster, for this one partition. Not `admin.fetchTopicOffsets`: with
    // several topics created and read at once, its metadata cache can lack a new topic's leader, and it
    // then fails with a TypeError (`high.pop()` undefined) instead of refreshing.
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ensureClusterKnows(topic);
        if (Object.keys(this.cluster.findLeaderForPartitions(topic, [partition])).length === 0) {
          throw Object.assign(new Error(`no leader known for ${topic}-${partition}`), { type: "LEADER_NOT_AVAILABLE" });
        }
        const ask = (fromBeginning: boolean, fromTimestamp?: number) =>
          this.cluster.fetchTopicsOffset([
            {
              topic,
              fromBeginning,
              partitions: [{ partition }],
              ...(fromTimestamp !== undefined ? { fromTimestamp } : {}),
            },
          ]);
        const [high, low, byTime] = await Promise.all([
          ask(false),
          ask(true),
          timestamp === undefined ? undefined : ask(false, timestamp),
        ]);
        const offsetIn = (r: { topic: string; partitions: { partition: number; offset: string }[] }[]) =>
          r.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
        const h = offsetIn(high);
        const l = offsetIn(low);
        if (h === undefined || l === undefined)
          throw new LogError("IO", `Kafka returned no offsets for ${topic}-${partition}`);
        const t = byTime && offsetIn(byTime);
        return { low: Number(l), high: Number(h), ...(t !== undefined ? { at: Number(t) } : {}) };
      } catch (err) {
        const e = toLogError(err, `cannot read the offsets of ${topic}-${partition}`, topic);
        if (e.code === "UNKNOWN_TOPIC") {
          this.host.forget(topic);
          throw e;
        }
        if (await retryAfterStaleMetadata(err, attempt, started)) {
          await this.cluster.refreshMetadata().catch(() => undefined);
          continue;
        }
        throw e;
      }
    }
  }

  /** Ends every follower (`subscribe`, `waitForData`): the log is closing. */
  abortFollowers(): void {
    for (const f of this.followers) f.abort();
  }

  /** An abort signal that fires on the caller's signal or on `close()`. */
  private follow(signal?: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    if (signal?.aborted) controller.abort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.followers.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        signal?.removeEventListener("abort", onAbort);
        this.followers.delete(controller);
      },
    };
  }
}

function toFetched(topic: string, p: RawPartition, askedOffset: number): FetchedPartition {
  const messages = p.messages;
  const records: LogRecord[] = [];
  // READ_COMMITTED: a producer's records from an aborted transaction's first offset up to its ABORT
  // marker are not part of the log (what kafkajs' consumer and the Java consumer do).
  // One producer may have aborted several transactions in the range: their first offsets, in order.
  const aborted = new Map<string, number[]>();
  for (const a of p.abortedTransactions)
    aborted.set(a.producerId, [...(aborted.get(a.producerId) ?? []), Number(a.firstOffset)]);
  for (const firsts of aborted.values()) firsts.sort((x, y) => x - y);
  const aborting = new Set<string>();
  let nextOffset = askedOffset;
  for (const m of messages) {
    const offset = Number(m.offset);
    // Records before the asked offset (the rest of a batch that starts earlier, or what a fetch issued ahead
    // of this read returned) are not returned, but they still open and close aborted transactions: a
    // transaction aborted before the asked offset must not hide the producer's next, committed one.
    const returned = offset >= askedOffset;
    if (returned) nextOffset = offset + 1;
    const producerId = m.batchContext?.producerId;
    // As the Java consumer does: an aborted transaction starts at its first offset, for data and control
    // records alike, and ends at its producer's next control record (the ABORT marker). A fetch that starts
    // at the marker sees the transaction start and end there: the producer's later records are committed.
    const firsts = aborted.size > 0 ? aborted.get(producerId) : undefined;
    if (firsts !== undefined && firsts.length > 0 && offset >= firsts[0]!) {
      aborting.add(producerId);
      firsts.shift();
    }
    if (m.isControlRecord) {
      aborting.delete(producerId);
      continue;
    }
    if (aborting.size > 0 && m.batchContext?.inTransaction && aborting.has(producerId)) continue;
    if (!returned) continue;
    records.push({
      topic,
      partition: p.partition,
      offset,
      key: m.key,
      value: m.value,
      timestamp: Number(m.timestamp),
      headers: fromKafkaHeaders(m.headers),
    });
  }
  return { partition: p.partition, records, nextOffset, highWatermark: Number(p.highWatermark) };
}

const EMPTY_HEADERS: readonly LogHeader[] = Object.freeze([]);

function fromKafkaHeaders(headers: RawMessage["headers"] | undefined): readonly LogHeader[] {
  if (!headers) return EMPTY_HEADERS;
  const keys = Object.keys(headers);
  if (keys.length === 0) return EMPTY_HEADERS;
  const out: LogHeader[] = [];
  for (const key of keys) {
    const v = headers[key]!;
    if (Array.isArray(v)) for (const one of v) out.push({ key, value: one });
    else out.push({ key, value: v });
  }
  return out;
}

/** Resolves `undefined` when `signal` aborts first (the promise runs on; its rejection is ignored). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => undefined);
      resolve(undefined);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
