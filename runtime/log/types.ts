/**
 * The `EventLog`: the one interface every runtime component uses to reach topics. Two implementations
 * sit behind it: the embedded on-disk log (`embedded.ts`) and Kafka (the only module that imports the
 * Kafka client). Everything above this line is the same code for both, so the interface models Kafka:
 *
 * - A topic has a fixed number of partitions (numbered `0 .. partitions-1`); order is per partition.
 * - Every record in a partition has an offset: the first record of a partition gets offset 0 and each
 *   append adds 1. Offsets are plain JS `number`s (safe integers): Kafka offsets are int64, but a
 *   partition would need 2^53 records before this matters; the Kafka adapter converts kafkajs' string
 *   offsets with `Number()`. Numbers keep the hot path free of bigint arithmetic and allocation.
 * - The "end offset" (Kafka's high watermark / log-end offset) is the offset the NEXT record will get:
 *   a partition holds the offsets `[beginningOffset, endOffset)`. A consumer's position is likewise
 *   "the next offset to read", exactly as Kafka's committed offsets are.
 * - No consumer groups and no committed offsets live here: state stores keep the source offsets
 *   themselves and write them in the same atomic batch as the state (see GUIDE: offsets move
 *   atomically with state). A task resumes by reading from the offsets its store recorded.
 * - Record timestamps are milliseconds since the epoch (Kafka CreateTime).
 *
 * Errors at this I/O edge are `LogError`s with a `code`; they are not user diagnostics.
 */

/** A record header, as Kafka has them: an ordered list, keys may repeat, values may be null. */
export interface LogHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** A record to append. */
export interface ProduceRecord {
  readonly key: Buffer | null;
  /** `null` is a tombstone. */
  readonly value: Buffer | null;
  /** Milliseconds since the epoch; defaults to the time of the append. */
  readonly timestamp?: number;
  readonly headers?: readonly LogHeader[];
  /**
   * The partition to write to. When absent the default partitioner chooses, as Kafka's producer does:
   * a non-null key goes to `toPositive(murmur2(key)) % partitions` (see `partition.ts`), so the same
   * key lands on the same partition as with a Java/kafkajs producer; null keys go round-robin.
   */
  readonly partition?: number;
}

/** A record read from a partition. Buffers may be views into a larger buffer: treat them as read-only. */
export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: readonly LogHeader[];
}

/** Where one appended record went. */
export interface AppendResult {
  readonly partition: number;
  readonly offset: number;
}

export interface TopicConfig {
  /**
   * Kafka's `cleanup.policy`; default `delete`: records older than `retentionMs` are deleted. `compact` keeps
   * the latest record of each key (and drops tombstones after `deleteRetentionMs`); `compact,delete` does both.
   */
  readonly cleanupPolicy?: "delete" | "compact" | "compact,delete";
  /** Kafka's `retention.ms`; `-1` or absent: keep forever. Applies to `delete` and `compact,delete`. */
  readonly retentionMs?: number;
  /** Kafka's `delete.retention.ms`: how long a compacted topic keeps a tombstone; default one day. */
  readonly deleteRetentionMs?: number;
}

export interface CreateTopicOptions {
  /** At least 1. */
  readonly partitions: number;
  readonly config?: TopicConfig;
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: number;
  readonly config: TopicConfig;
}

/** A read position: the next offset to read in one partition. */
export interface PartitionPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface SubscribeOptions {
  /** Upper bound on the records in one yielded batch; default 1000. */
  readonly maxRecords?: number;
  /** Ends the iteration (the iterator returns normally, it does not throw). */
  readonly signal?: AbortSignal;
}

export interface EventLog {
  /**
   * Creates a topic. Resolves `false` (and changes nothing) when the topic already exists, like
   * kafkajs' `admin.createTopics`. Rejects with `INVALID_ARGUMENT` for a bad name or partition count.
   */
  createTopic(name: string, options: CreateTopicOptions): Promise<boolean>;
  /**
   * Deletes a topic and its records. Once it resolves, the topic is gone for this log's calls (`listTopics`,
   * `describeTopic`). Rejects with `UNKNOWN_TOPIC` when it does not exist.
   */
  deleteTopic(name: string): Promise<void>;
  /** Topic names, sorted. */
  listTopics(): Promise<string[]>;
  /** The topic's partition count and config, or `undefined` when it does not exist. */
  describeTopic(name: string): Promise<TopicDescription | undefined>;

  /**
   * Appends records to one topic, durably and atomically (all or none), in the order given.
   * Resolves with where each record went, index for index. Records are visible to readers once the
   * promise resolves. Rejects with `UNKNOWN_TOPIC` or `INVALID_PARTITION`.
   */
  append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]>;

  /**
   * Reads up to `maxRecords` records of one partition in offset order, starting at `fromOffset`
   * (inclusive). Resolves `[]` when `fromOffset` equals the end offset. Rejects with
   * `OFFSET_OUT_OF_RANGE` when `fromOffset` is below the beginning offset or above the end offset
   * (the caller then decides where to restart, as Kafka's `auto.offset.reset` does).
   */
  read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]>;

  /** The offset of the first record still stored (0 until records are deleted). */
  beginningOffset(topic: string, partition: number): Promise<number>;
  /** The offset the next appended record will get (the high watermark). */
  endOffset(topic: string, partition: number): Promise<number>;
  /**
   * The first offset whose record's timestamp is at or after `timestamp` (epoch ms), or the end offset when
   * no record is (Kafka's ListOffsets by timestamp, `offsetsForTimes`). Where a query given a start time begins.
   */
  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number>;

  /**
   * Resolves `true` as soon as one of the given partitions has a record at or after its position
   * (its end offset is greater than the position's offset), immediately if one already has; resolves
   * `false` when `signal` aborts first or the log is closed. Also resolves `true` when the topic is
   * deleted, so that the caller's next read reports it.
   */
  waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean>;

  /**
   * Follows partitions from the given positions, yielding non-empty batches of records; every batch
   * holds records of ONE partition in offset order. Waits for new records at the end (for push
   * queries and `--follow`); ends when `options.signal` aborts.
   */
  subscribe(
    topic: string,
    positions: readonly PartitionPosition[],
    options?: SubscribeOptions,
  ): AsyncIterableIterator<LogRecord[]>;

  /** Releases the log (closes the database or the client). Further calls reject with `CLOSED`. */
  close(): Promise<void>;
}

/**
 * Group membership, for logs that several processes share (Kafka): members with the same `groupId` learn
 * who else is there and receive an assignment computed by one of them (the leader), again after every
 * change (a member joins, leaves or stops heartbeating). What is assigned is opaque here: the caller's
 * `assign` turns the members' metadata into one blob per member. The embedded log has no groups (one
 * process owns the folder).
 */
export interface GroupOptions {
  readonly groupId: string;
  /** This member's metadata, sent with every join (read by the leader's `assign`). Called per join. */
  readonly metadata: () => Buffer;
  /** Runs on the leader: one assignment blob per member id, from every member's metadata. */
  readonly assign: (
    members: readonly { readonly memberId: string; readonly metadata: Buffer }[],
  ) => Map<string, Buffer>;
  /** This member's blob, after each completed rebalance. */
  readonly onAssignment: (memberId: string, assignment: Buffer) => void;
  /** A failure of the membership (the member then tries to join again). */
  readonly onError?: (error: Error) => void;
  /** Milliseconds without a heartbeat before the group drops a member (Kafka's `session.timeout.ms`); default 10000. */
  readonly sessionTimeoutMs?: number;
}

export interface GroupMembership {
  /** Leaves the group (the others rebalance at once rather than after the session timeout). */
  leave(): Promise<void>;
}

/** An {@link EventLog} whose processes can form groups. */
export interface GroupCapableLog extends EventLog {
  joinGroup(options: GroupOptions): Promise<GroupMembership>;
}

export function supportsGroups(log: EventLog): log is GroupCapableLog {
  return typeof (log as Partial<GroupCapableLog>).joinGroup === "function";
}

/** A transaction: appends that become visible to readers together, at `commit`, or never. */
export interface LogTransaction {
  append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** An {@link EventLog} with transactions (Kafka). Its readers see committed records only. */
export interface TransactionalLog extends EventLog {
  /**
   * Begins a transaction as `transactionalId`: one writer per id at a time; beginning as an id fences its
   * previous holder (whose appends and commit then reject with `FENCED`) and aborts what it left open.
   */
  beginTransaction(transactionalId: string): Promise<LogTransaction>;
}

export function supportsTransactions(log: EventLog): log is TransactionalLog {
  return typeof (log as Partial<TransactionalLog>).beginTransaction === "function";
}

export type LogErrorCode =
  | "UNKNOWN_TOPIC"
  | "INVALID_PARTITION"
  | "INVALID_ARGUMENT"
  | "OFFSET_OUT_OF_RANGE"
  /** Another writer took over this transactional id (see `TransactionalLog`). */
  | "FENCED"
  /** The data folder is used by another process (LevelDB's lock). */
  | "LOCKED"
  | "CLOSED"
  | "IO";

/** An error at the log edge. `message` says what was asked and what was found. */
export class LogError extends Error {
  readonly code: LogErrorCode;
  constructor(code: LogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LogError";
    this.code = code;
  }
}
