/**
 * Topics through the kafkajs admin client: create (with `waitForLeaders`), describe, list (topics whose name
 * starts with `__` are Kafka's own and are hidden), partition counts (cached), and the rule that admin calls
 * run together but never while a topic is being deleted.
 */
import type { Admin } from "kafkajs";
import type { KafkaConnectionConfig } from "../config.ts";
import { LogError, type CreateTopicOptions, type TopicConfig, type TopicDescription } from "../types.ts";
import {
  ConfigResourceTypes,
  ConfigSource,
  Kafka,
  clientConfig,
  toLogError,
  unknownTopic,
  type KafkaLogHost,
} from "./client.ts";

export class KafkaTopics {
  readonly admin: Admin;
  /** Partition counts known from metadata; dropped when a call finds the topic gone. */
  private readonly partitionCounts = new Map<string, number>();
  /** Admin calls in flight, and who waits for none to be (see `shared`). */
  private adminCalls = 0;
  private readonly adminIdle: (() => void)[] = [];
  /** Settles when the topic deletion in progress ends. */
  private deleting: Promise<void> | undefined;

  constructor(private readonly host: KafkaLogHost) {
    this.admin = host.kafka.admin();
  }

  async create(name: string, options: CreateTopicOptions): Promise<boolean> {
    await this.host.connect();
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new LogError(
        "INVALID_ARGUMENT",
        `a topic needs a whole number of partitions >= 1, found ${options.partitions}`,
      );
    }
    const config = options.config ?? {};
    const configEntries = [
      // The interface's default is "keep forever"; Kafka's broker default is 7 days.
      { name: "retention.ms", value: String(config.retentionMs ?? -1) },
      ...(config.cleanupPolicy ? [{ name: "cleanup.policy", value: config.cleanupPolicy }] : []),
    ];
    const create = () =>
      this.shared(() =>
        this.admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: name,
              numPartitions: options.partitions,
              ...(this.host.config.replicationFactor !== undefined
                ? { replicationFactor: this.host.config.replicationFactor }
                : {}),
              configEntries,
            },
          ],
        }),
      );
    for (let attempt = 0; ; attempt++) {
      try {
        let created = await create();
        if (attempt > 0) {
          // The first attempt may have created it before failing (below): count that as created here, and
          // wait until the broker's metadata has it (kafkajs retries this call until the topic shows).
          created = true;
          await this.shared(() => this.admin.fetchTopicMetadata({ topics: [name] }));
        }
        if (created) this.partitionCounts.set(name, options.partitions);
        return created;
      } catch (err) {
        const e = toLogError(err, `cannot create topic '${name}'`, name);
        // kafkajs waits for the new topic's leaders with Metadata requests and gives up on
        // UNKNOWN_TOPIC_OR_PARTITION, which a busy KRaft broker answers until it has applied the creation.
        if (e.code === "UNKNOWN_TOPIC" && attempt < 5) {
          await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Deletes a topic, holding other admin calls meanwhile (`exclusive`), then runs `after` (still holding
   * them). The caller makes every part forget the topic first (see `KafkaEventLog.deleteTopic`).
   */
  delete(name: string, after: () => Promise<void>): Promise<void> {
    return this.exclusive(async () => {
      // Checked first: kafkajs retries UNKNOWN_TOPIC_OR_PARTITION for seconds before giving up.
      if (!(await this.topicNames()).includes(name)) throw unknownTopic(name);
      try {
        await this.admin.deleteTopics({ topics: [name] });
        await this.gone(name);
      } catch (err) {
        throw toLogError(err, `cannot delete topic '${name}'`, name);
      } finally {
        this.host.forget(name);
      }
      await after();
    });
  }

  /**
   * Waits until the metadata no longer lists a deleted topic. The controller answers DeleteTopics once the
   * deletion is decided; brokers' metadata follows a moment later, and until then Metadata requests (and so
   * `list` and `describe`) still show the topic.
   */
  private async gone(name: string): Promise<void> {
    for (let attempt = 0; attempt < 100 && (await this.topicNames()).includes(name); attempt++)
      await new Promise((r) => setTimeout(r, Math.min(20 * (attempt + 1), 200)));
  }

  async list(): Promise<string[]> {
    await this.host.connect();
    return (await this.shared(() => this.topicNames())).filter((t) => !t.startsWith("__")).sort();
  }

  async describe(name: string): Promise<TopicDescription | undefined> {
    await this.host.connect();
    return this.shared(() => this.describeUnlocked(name));
  }

  private async describeUnlocked(name: string): Promise<TopicDescription | undefined> {
    const partitions = await this.partitionCountUnlocked(name).catch((err: unknown) => {
      if (err instanceof LogError && err.code === "UNKNOWN_TOPIC") return undefined;
      throw err;
    });
    if (partitions === undefined) return undefined;
    try {
      const { resources } = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name, configNames: ["cleanup.policy", "retention.ms"] }],
      });
      const config: { cleanupPolicy?: "delete" | "compact"; retentionMs?: number } = {};
      for (const entry of resources[0]?.configEntries ?? []) {
        // Only what was set on the topic, as the embedded log reports what was given at creation.
        if (entry.configSource !== ConfigSource.TOPIC_CONFIG) continue;
        if (entry.configName === "cleanup.policy") {
          // "compact,delete" is legal in Kafka; the interface knows one policy: compaction wins.
          config.cleanupPolicy = entry.configValue.includes("compact") ? "compact" : "delete";
        } else if (entry.configName === "retention.ms" && entry.configValue !== "-1") {
          config.retentionMs = Number(entry.configValue);
        }
      }
      return { name, partitions, config: config as TopicConfig };
    } catch (err) {
      const e = toLogError(err, `cannot describe topic '${name}'`, name);
      if (e.code === "UNKNOWN_TOPIC") return undefined;
      throw e;
    }
  }

  private async topicNames(): Promise<string[]> {
    try {
      return await this.admin.listTopics();
    } catch (err) {
      throw toLogError(err, "cannot list topics");
    }
  }

  /** The topic's partition count (cached); rejects with `UNKNOWN_TOPIC`. */
  async partitionCount(topic: string): Promise<number> {
    this.host.checkOpen();
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    return this.shared(() => this.partitionCountUnlocked(topic));
  }

  private async partitionCountUnlocked(topic: string): Promise<number> {
    this.host.checkOpen();
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    // Listing first: asking metadata for a missing topic makes kafkajs retry for seconds.
    if (!(await this.topicNames()).includes(topic)) throw unknownTopic(topic);
    try {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const n = topics.find((t) => t.name === topic)?.partitions.length;
      if (!n) throw unknownTopic(topic);
      this.partitionCounts.set(topic, n);
      return n;
    } catch (err) {
      throw toLogError(err, `cannot describe topic '${topic}'`, topic);
    }
  }

  forget(topic: string): void {
    this.partitionCounts.delete(topic);
  }

  /**
   * Admin calls run together (`shared`) but never while a topic is being deleted (`exclusive`):
   * see `KafkaEventLog.deleteTopic`. Not reentrant: an admin section must not call another one.
   */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.deleting) await this.deleting;
    this.adminCalls++;
    try {
      return await fn();
    } finally {
      if (--this.adminCalls === 0) for (const wake of this.adminIdle.splice(0)) wake();
    }
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.deleting) await this.deleting;
    const run = (async () => {
      while (this.adminCalls > 0) await new Promise<void>((wake) => this.adminIdle.push(wake));
      return fn();
    })();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.deleting = settled;
    try {
      return await run;
    } finally {
      if (this.deleting === settled) this.deleting = undefined;
    }
  }
}

/**
 * One admin round trip: the cluster's brokers. For readiness probes (the broker script); rejects when
 * nothing answers within a few seconds.
 */
export async function describeKafkaCluster(
  config: KafkaConnectionConfig,
): Promise<{ clusterId: string; brokers: number; controller: number | null }> {
  const kafka = new Kafka({
    ...clientConfig({ ...config, clientLogLevel: "nothing" }),
    retry: { retries: 0 },
    connectionTimeout: config.connectionTimeoutMs ?? 2000,
    requestTimeout: config.requestTimeoutMs ?? 5000,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    return { clusterId: c.clusterId, brokers: c.brokers.length, controller: c.controller };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
