import { kafkaConfigFromEnv, type KafkaConnectionConfig } from "../config.ts";
import type {
  AppendResult,
  CreateTopicOptions,
  GroupCapableLog,
  GroupMembership,
  GroupOptions,
  LogRecord,
  LogTransaction,
  PartitionPosition,
  ProduceRecord,
  SubscribeOptions,
  TopicDescription,
  TransactionalLog,
} from "../types.ts";
import { LogError } from "../types.ts";
import { KafkaTopics } from "./admin.ts";
import {
  Kafka,
  clientConfig,
  toLogError,
  type KafkaClient,
  type KafkaLogHost,
  type KafkaLogOptions,
} from "./client.ts";
import { KafkaFetcher } from "./fetch.ts";
import { KafkaGroups } from "./group.ts";
import { KafkaAppender } from "./produce.ts";

/**
 * The Kafka `EventLog`, over kafkajs 2.2.x. `runtime/log/kafka/` is the only place that imports the Kafka
 * client (`client.ts` loads it). This class joins the parts and owns the life cycle (connect, close):
 *
 * - Topics (`admin.ts`): the kafkajs admin client (create with `waitForLeaders`, describe, delete, list;
 *   topics whose name starts with `__` are Kafka's own and are hidden).
 * - Appends and transactions (`produce.ts`): one idempotent producer, partitions chosen here with the
 *   embedded log's partitioner, so every record's offset is known from the produce response.
 * - Reads and offsets (`fetch.ts`): Fetch and ListOffsets requests issued through kafkajs' own (private)
 *   cluster object (`internals.ts`), read committed, with read-ahead; `subscribe` and `waitForData` are
 *   long-poll Fetches without a consumer group.
 * - Group membership (`group.ts`): a consumer group for membership only, with our own assigner.
 *
 * Known limits (of kafkajs 2.2.4, documented rather than worked around):
 * - kafkajs encodes headers from an object `{ key: value | value[] }`, so repeated header keys come back
 *   grouped (`a,b,a` → `a,a,b`) and integer-like keys come first; distinct keys keep their order.
 * - kafkajs cannot encode a `null` header value (it throws inside the encoder): `append` rejects such
 *   records with `INVALID_ARGUMENT`. Reading null header values written by other clients works.
 * - `append` is atomic per partition, not across partitions (no transactions).
 * - Fetches use READ_COMMITTED: records of aborted transactions and control records are skipped.
 */
export class KafkaEventLog implements GroupCapableLog, TransactionalLog {
  private readonly kafka: KafkaClient;
  private readonly topics: KafkaTopics;
  private readonly appender: KafkaAppender;
  private readonly fetcher: KafkaFetcher;
  private readonly groups: KafkaGroups;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly config: KafkaConnectionConfig & KafkaLogOptions) {
    this.kafka = new Kafka(clientConfig(config));
    const host: KafkaLogHost = {
      kafka: this.kafka,
      config,
      connect: () => this.connect(),
      checkOpen: () => this.checkOpen(),
      forget: (topic) => this.forget(topic),
    };
    this.topics = new KafkaTopics(host);
    this.fetcher = new KafkaFetcher(host, this.topics);
    this.appender = new KafkaAppender(host, this.topics);
    this.groups = new KafkaGroups(host, this.topics);
  }

  /** Connects the admin client and the fetch connections; called lazily by every operation. */
  connect(): Promise<void> {
    this.checkOpen();
    this.connecting ??= Promise.all([this.topics.admin.connect(), this.fetcher.connect()]).then(
      () => undefined,
      (err: unknown) => {
        this.connecting = undefined;
        throw toLogError(err, `cannot connect to Kafka at ${this.config.brokers.join(",")}`);
      },
    );
    return this.connecting;
  }

  createTopic(name: string, options: CreateTopicOptions): Promise<boolean> {
    return this.topics.create(name, options);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.connect();
    // Every kafkajs client (admin, producer, fetch cluster) refreshes metadata for all the topics it has
    // used, and a refresh naming a topic deleted meanwhile fails, whatever the call was for. So: the fetch
    // cluster forgets the topic first; the deletion waits for admin calls in flight and holds new ones
    // (`KafkaTopics.delete`); and it runs in the append queue, replacing the producer before the next append.
    this.forget(name);
    await this.appender.enqueue(() => this.topics.delete(name, () => this.appender.replaceProducer()));
  }

  listTopics(): Promise<string[]> {
    return this.topics.list();
  }

  describeTopic(name: string): Promise<TopicDescription | undefined> {
    return this.topics.describe(name);
  }

  append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]> {
    return this.appender.append(topic, records);
  }

  beginTransaction(transactionalId: string): Promise<LogTransaction> {
    return this.appender.beginTransaction(transactionalId);
  }

  read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return this.fetcher.read(topic, partition, fromOffset, maxRecords);
  }

  beginningOffset(topic: string, partition: number): Promise<number> {
    return this.fetcher.beginningOffset(topic, partition);
  }

  endOffset(topic: string, partition: number): Promise<number> {
    return this.fetcher.endOffset(topic, partition);
  }

  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.fetcher.offsetForTime(topic, partition, timestamp);
  }

  waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean> {
    return this.fetcher.waitForData(topic, positions, signal);
  }

  subscribe(
    topic: string,
    positions: readonly PartitionPosition[],
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<LogRecord[]> {
    return this.fetcher.subscribe(topic, positions, options);
  }

  joinGroup(options: GroupOptions): Promise<GroupMembership> {
    return this.groups.join(options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fetcher.abortFollowers();
    await this.appender.drained();
    await Promise.allSettled([this.groups.leaveAll(), this.appender.closeTransactional()]);
    await Promise.allSettled([
      this.appender.closeProducer(),
      this.topics.admin.disconnect(),
      this.fetcher.disconnect(),
    ]);
  }

  /** Drops what every part knows about a topic that is gone, so metadata refreshes do not keep naming it. */
  private forget(topic: string): void {
    this.fetcher.forget(topic);
    this.topics.forget(topic);
    this.appender.forget(topic);
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError("CLOSED", `the Kafka log (${this.config.brokers.join(",")}) is closed`);
  }
}

/** A {@link KafkaEventLog} configured from `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, `KAFKA_SSL`, `KAFKA_SASL_*`. */
export function createKafkaLogFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: KafkaLogOptions = {},
): KafkaEventLog {
  return new KafkaEventLog({ ...kafkaConfigFromEnv(env), ...options });
}
