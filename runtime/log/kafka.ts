// First: replaces a kafkajs internal before kafkajs loads (see the module).
import "./kafkajs-preload.ts";
import kafkajs from "kafkajs";
import { createRequire } from "node:module";
import type { Admin, IHeaders, KafkaConfig, Message, Producer, SASLOptions } from "kafkajs";
import { kafkaConfigFromEnv, type KafkaConnectionConfig } from "./config.ts";
import { partitionForKey } from "./partition.ts";
import {
  LogError,
  type AppendResult,
  type CreateTopicOptions,
  type GroupCapableLog,
  type LogTransaction,
  type GroupMembership,
  type GroupOptions,
  type TransactionalLog,
  type LogHeader,
  type LogRecord,
  type PartitionPosition,
  type ProduceRecord,
  type SubscribeOptions,
  type TopicConfig,
  type TopicDescription,
} from "./types.ts";

const { Kafka, logLevel, ConfigResourceTypes, ConfigSource, AssignerProtocol } = kafkajs;
stopIdleTimerLoop();

/**
 * The Kafka `EventLog`, over kafkajs 2.2.x. This is the only module that imports the Kafka client.
 *
 * - Topics: the kafkajs admin client (create with `waitForLeaders`, describe, delete, list; topics whose
 *   name starts with `__` are Kafka's own and are hidden).
 * - Appends: one idempotent producer (`acks=-1`, one request in flight, so order is kept). Partitions are
 *   chosen here, with the same murmur2 partitioner as the embedded log (`partition.ts`), so every record's
 *   partition is known before the send; a record's offset is its partition's base offset (from the
 *   produce response) plus its index among that partition's records in the call. One `send` per append.
 * - Reads: kafkajs has no public "fetch from offset" call (its consumer needs a group, and offers no
 *   manual assignment), so this module issues Fetch requests itself through kafkajs' own cluster object
 *   (`clusterFor` below: the client's private cluster factory, same connection settings, SASL and TLS).
 *   `read` is ONE Fetch round trip with `maxWaitTime` 0 (about a millisecond on a local broker, plus the
 *   decoding of whole record batches: Kafka returns batches, so a read from the middle of a batch decodes
 *   it entirely and drops the records before `fromOffset`). Reads read ahead: records fetched beyond
 *   `maxRecords` are kept for the next read, and a read that returns records starts the next Fetch of its
 *   partition at once, so a reader catching up overlaps its processing with the round trip (an empty
 *   read-ahead answer is never trusted: the read then fetches again). `subscribe` and `waitForData` are long-poll
 *   Fetches (`maxWaitTime` {@link LONG_POLL_MS}) over all followed partitions at once: no consumer group,
 *   no committed offsets, no rebalances, and no polling loop while idle.
 * - Offsets: ListOffsets through the fetch cluster, for the one partition asked (two requests, earliest
 *   and latest, sent together). Read committed: the end offset is the last stable offset, which equals the
 *   high watermark while no transaction is open.
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
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly admin: Admin;
  private producer: Producer | undefined;
  private readonly cluster: InternalCluster;
  /** Partition counts known from metadata; dropped when a call finds the topic gone. */
  private readonly partitionCounts = new Map<string, number>();
  private readonly roundRobin = new Map<string, number>();
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
  private appendQueue: Promise<unknown> = Promise.resolve();
  private connecting: Promise<void> | undefined;
  /** Admin calls in flight, and who waits for none to be (see `sharedAdmin`). */
  private adminCalls = 0;
  private readonly adminIdle: (() => void)[] = [];
  /** Settles when the topic deletion in progress ends. */
  private deleting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly config: KafkaConnectionConfig & KafkaLogOptions) {
    this.kafka = new Kafka(clientConfig(config));
    this.admin = this.kafka.admin();
    this.cluster = clusterFor(this.kafka);
  }

  /** Connects the admin client and the fetch connections; called lazily by every operation. */
  connect(): Promise<void> {
    this.checkOpen();
    this.connecting ??= Promise.all([this.admin.connect(), this.cluster.connect()]).then(
      () => undefined,
      (err: unknown) => {
        this.connecting = undefined;
        throw toLogError(err, `cannot connect to Kafka at ${this.config.brokers.join(",")}`);
      },
    );
    return this.connecting;
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<boolean> {
    await this.connect();
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
      this.sharedAdmin(() =>
        this.admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: name,
              numPartitions: options.partitions,
              ...(this.config.replicationFactor !== undefined
                ? { replicationFactor: this.config.replicationFactor }
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
          await this.sharedAdmin(() => this.admin.fetchTopicMetadata({ topics: [name] }));
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

  async deleteTopic(name: string): Promise<void> {
    await this.connect();
    // Every kafkajs client (admin, producer, fetch cluster) refreshes metadata for all the topics it has
    // used, and a refresh naming a topic deleted meanwhile fails, whatever the call was for. So: the fetch
    // cluster forgets the topic first; the deletion waits for admin calls in flight and holds new ones
    // (`exclusiveAdmin`); and it runs in the append queue, replacing the producer before the next append.
    this.forget(name);
    await this.enqueueAppend(() =>
      this.exclusiveAdmin(async () => {
        // Checked first: kafkajs retries UNKNOWN_TOPIC_OR_PARTITION for seconds before giving up.
        if (!(await this.topicNames()).includes(name)) throw unknownTopic(name);
        try {
          await this.admin.deleteTopics({ topics: [name] });
        } catch (err) {
          throw toLogError(err, `cannot delete topic '${name}'`, name);
        } finally {
          this.forget(name);
        }
        const producer = this.producer;
        this.producer = undefined;
        if (producer) await producer.disconnect().catch(() => undefined);
      }),
    );
  }

  async listTopics(): Promise<string[]> {
    await this.connect();
    return (await this.sharedAdmin(() => this.topicNames())).filter((t) => !t.startsWith("__")).sort();
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    await this.connect();
    return this.sharedAdmin(() => this.describeUnlocked(name));
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

  async append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]> {
    return this.appendWith(topic, records, () => this.getProducer());
  }

  /**
   * Appends through `producer` (the shared idempotent one, or a transactional one): checks the records,
   * picks partitions as Kafka's default partitioner does, sends, and turns base offsets into one offset per
   * record. Appends go one at a time (`enqueueAppend`), so round-robin partitions follow the call order.
   */
  private async appendWith(
    topic: string,
    records: readonly ProduceRecord[],
    producerFor: () => Promise<Producer>,
  ): Promise<AppendResult[]> {
    await this.connect();
    const partitions = await this.partitionCount(topic);
    for (const r of records) {
      if (r.partition !== undefined) checkPartition(topic, partitions, r.partition);
      if (r.headers?.some((h) => h.value === null)) {
        throw new LogError(
          "INVALID_ARGUMENT",
          `a record for '${topic}' has a header with a null value: the Kafka client (kafkajs 2.2) cannot encode ` +
            `null header values; use an empty value instead`,
        );
      }
    }
    if (records.length === 0) return [];
    return this.enqueueAppend(async () => {
      this.checkOpen();
      const now = Date.now();
      let rr = this.roundRobin.get(topic) ?? 0;
      const results: AppendResult[] = new Array(records.length);
      const messages: Message[] = new Array(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const partition = r.partition ?? (r.key !== null ? partitionForKey(r.key, partitions) : rr++ % partitions);
        messages[i] = {
          key: r.key,
          value: r.value,
          partition,
          timestamp: String(r.timestamp ?? now),
          ...(r.headers && r.headers.length > 0 ? { headers: toKafkaHeaders(r.headers) } : {}),
        };
      }
      this.roundRobin.set(topic, rr);
      // One produce request per slice of at most MAX_REQUEST_BYTES: a broker refuses a record batch over its
      // max message size (1 MB by default), and a large append (a stage's merged outputs, a big file) would
      // make one. Slices go in order, so each partition's records keep their order.
      for (let from = 0; from < messages.length;) {
        let to = from;
        let bytes = 0;
        while (to < messages.length && (to === from || bytes + approximateSize(messages[to]!) <= MAX_REQUEST_BYTES)) {
          bytes += approximateSize(messages[to]!);
          to++;
        }
        const slice = messages.slice(from, to);
        let metadata;
        try {
          const producer = await producerFor();
          metadata = await producer.send({ topic, messages: slice, acks: -1 });
        } catch (err) {
          const e = toLogError(err, `cannot append ${records.length} records to '${topic}'`, topic);
          if (e.code === "UNKNOWN_TOPIC") this.forget(topic);
          throw e;
        }
        const next = new Map<number, number>();
        for (const m of metadata) next.set(m.partition, Number(m.baseOffset));
        for (let i = from; i < to; i++) {
          const partition = messages[i]!.partition!;
          const offset = next.get(partition);
          if (offset === undefined) throw new LogError("IO", `Kafka did not acknowledge ${topic}-${partition}`);
          results[i] = { partition, offset };
          next.set(partition, offset + 1);
        }
        from = to;
      }
      return results;
    });
  }

  /**
   * Starts a Kafka transaction of the producer `transactionalId` (one producer per id, kept for the next
   * transactions). Starting the producer aborts what a previous holder of the id left open and fences it:
   * its next send or commit fails with `FENCED`. Readers of this log read committed records only.
   */
  async beginTransaction(transactionalId: string): Promise<LogTransaction> {
    await this.connect();
    this.checkOpen();
    let producer = this.txProducers.get(transactionalId);
    if (!producer) {
      const created = this.kafka.producer({
        transactionalId,
        // What Kafka Streams uses under exactly-once: a transaction its writer abandoned (a crash it does not
        // come back from) is aborted by the broker after 10 s rather than blocking read-committed readers for
        // kafkajs' default minute. A writer that comes back aborts it at once (see the doc above).
        transactionTimeout: 10_000,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      });
      await created.connect();
      this.txProducers.set(transactionalId, created);
      producer = created;
    }
    const owner = producer;
    const drop = async () => {
      if (this.txProducers.get(transactionalId) === owner) this.txProducers.delete(transactionalId);
      await owner.disconnect().catch(() => undefined);
    };
    let tx;
    try {
      tx = await owner.transaction();
    } catch (err) {
      await drop();
      throw toLogError(err, `cannot begin a transaction as '${transactionalId}'`);
    }
    const txProducer = tx as unknown as Producer; // a kafkajs Transaction sends like a producer
    const settle = async (what: "commit" | "abort") => {
      try {
        await (what === "commit" ? tx.commit() : tx.abort());
      } catch (err) {
        await drop(); // a fenced or failed transactional producer cannot be used again
        throw toLogError(err, `cannot ${what} the transaction of '${transactionalId}'`);
      }
    };
    return {
      append: async (topic, records) => {
        try {
          return await this.appendWith(topic, records, async () => txProducer);
        } catch (err) {
          if (err instanceof LogError && err.code === "FENCED") await drop();
          throw err;
        }
      },
      commit: () => settle("commit"),
      abort: () => settle("abort"),
    };
  }

  private readonly txProducers = new Map<string, Producer>();

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    await this.connect();
    checkPartition(topic, await this.partitionCount(topic), partition);
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

  async waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean> {
    await this.connect();
    const partitions = await this.partitionCount(topic);
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
    await this.connect();
    const partitions = await this.partitionCount(topic);
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

  /**
   * Joins a consumer group used for membership only: kafkajs' group protocol with our own assigner. The
   * leader's `assign` result travels in each member's assignment `userData`; kafkajs keeps that to itself,
   * so a member reads its own back with DescribeGroups after every join. Members also get partitions of a
   * small, empty heartbeat topic (`<groupId>-heartbeat`, one partition per possible member): kafkajs
   * heartbeats only from its fetch loop, and a member with nothing to fetch would silently drop out of the
   * group (kafkajs issue 1361). Records are not consumed through the group: tasks read at the offsets their
   * stores hold.
   */
  async joinGroup(options: GroupOptions): Promise<GroupMembership> {
    this.checkOpen();
    const heartbeatTopic = `${options.groupId}-heartbeat`;
    await this.createTopic(heartbeatTopic, { partitions: HEARTBEAT_PARTITIONS });
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 10_000),
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 10)),
      maxWaitTimeInMs: Math.max(100, Math.floor(sessionTimeout / 20)),
      allowAutoTopicCreation: false,
      partitionAssigners: [
        () => ({
          name: "esql",
          version: 1,
          protocol: ({ topics }: { topics: string[] }) => ({
            name: "esql",
            metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: options.metadata() }),
          }),
          assign: async ({ members }: { members: { memberId: string; memberMetadata: Buffer }[] }) => {
            const decoded = members.map((m) => ({
              memberId: m.memberId,
              metadata: AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData ?? Buffer.alloc(0),
            }));
            const blobs = options.assign(decoded);
            const ids = members.map((m) => m.memberId).sort();
            return ids.map((memberId, i) => {
              const partitions: number[] = [];
              for (let p = i; p < HEARTBEAT_PARTITIONS; p += ids.length) partitions.push(p);
              return {
                memberId,
                memberAssignment: AssignerProtocol.MemberAssignment.encode({
                  version: 1,
                  assignment: { [heartbeatTopic]: partitions },
                  userData: blobs.get(memberId) ?? Buffer.alloc(0),
                }),
              };
            });
          },
        }),
      ],
    });
    const readAssignment = async (memberId: string) => {
      // The group is stable once our SyncGroup returned; a newer rebalance may already be under way, in
      // which case our member is missing or empty here and the next join reports again.
      const { groups } = await this.sharedAdmin(() => this.admin.describeGroups([options.groupId]));
      const me = groups[0]?.members.find((m) => m.memberId === memberId);
      if (!me || me.memberAssignment.length === 0) return;
      const decoded = AssignerProtocol.MemberAssignment.decode(me.memberAssignment);
      if (decoded) options.onAssignment(memberId, decoded.userData);
    };
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      readAssignment(e.payload.memberId).catch((err: unknown) => options.onError?.(err as Error));
    });
    consumer.on(consumer.events.CRASH, (e) => options.onError?.(e.payload.error));
    await consumer.connect();
    await consumer.subscribe({ topics: [heartbeatTopic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    this.groups.add(consumer);
    return {
      leave: async () => {
        if (!this.groups.delete(consumer)) return;
        await consumer.disconnect();
      },
    };
  }

  private readonly groups = new Set<ReturnType<InstanceType<typeof Kafka>["consumer"]>>();

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.followers) f.abort();
    await this.appendQueue.catch(() => undefined);
    await Promise.allSettled([...this.groups, ...this.txProducers.values()].map((c) => c.disconnect()));
    this.txProducers.clear();
    this.groups.clear();
    await Promise.allSettled([this.producer?.disconnect(), this.admin.disconnect(), this.cluster.disconnect()]);
  }

  // ---- internals ----

  private maxBytesPerPartition(): number {
    return this.config.fetchMaxBytesPerPartition ?? 1024 * 1024;
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
          this.forget(topic);
          throw e;
        }
        const type = (err as { type?: string }).type;
        if (attempt < 3 && type !== undefined && RETRY_AFTER_METADATA.has(type)) {
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

  /** Drops what we know about a topic that is gone, so metadata refreshes do not keep naming it. */
  private forget(topic: string): void {
    for (const id of this.readAhead.keys()) if (id.startsWith(`${topic}/`)) this.readAhead.delete(id);
    this.partitionCounts.delete(topic);
    this.roundRobin.delete(topic);
    this.cluster.targetTopics.delete(topic);
  }

  private async topicNames(): Promise<string[]> {
    try {
      return await this.admin.listTopics();
    } catch (err) {
      throw toLogError(err, "cannot list topics");
    }
  }

  /** The topic's partition count (cached); rejects with `UNKNOWN_TOPIC`. */
  private async partitionCount(topic: string): Promise<number> {
    this.checkOpen();
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    return this.sharedAdmin(() => this.partitionCountUnlocked(topic));
  }

  private async partitionCountUnlocked(topic: string): Promise<number> {
    this.checkOpen();
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

  private async offsets(topic: string, partition: number): Promise<{ low: number; high: number }> {
    await this.connect();
    checkPartition(topic, await this.partitionCount(topic), partition);
    // ListOffsets through the fetch cluster, for this one partition. Not `admin.fetchTopicOffsets`: with
    // several topics created and read at once, its metadata cache can lack a new topic's leader, and it
    // then fails with a TypeError (`high.pop()` undefined) instead of refreshing.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ensureClusterKnows(topic);
        if (Object.keys(this.cluster.findLeaderForPartitions(topic, [partition])).length === 0) {
          throw Object.assign(new Error(`no leader known for ${topic}-${partition}`), { type: "LEADER_NOT_AVAILABLE" });
        }
        const ask = (fromBeginning: boolean) =>
          this.cluster.fetchTopicsOffset([{ topic, fromBeginning, partitions: [{ partition }] }]);
        const [high, low] = await Promise.all([ask(false), ask(true)]);
        const offsetIn = (r: { topic: string; partitions: { partition: number; offset: string }[] }[]) =>
          r.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
        const h = offsetIn(high);
        const l = offsetIn(low);
        if (h === undefined || l === undefined)
          throw new LogError("IO", `Kafka returned no offsets for ${topic}-${partition}`);
        return { low: Number(l), high: Number(h) };
      } catch (err) {
        const e = toLogError(err, `cannot read the offsets of ${topic}-${partition}`, topic);
        if (e.code === "UNKNOWN_TOPIC") {
          this.forget(topic);
          throw e;
        }
        const type = (err as { type?: string }).type;
        if (attempt < 5 && type !== undefined && RETRY_AFTER_METADATA.has(type)) {
          await new Promise((r) => setTimeout(r, 20 * attempt));
          await this.cluster.refreshMetadata().catch(() => undefined);
          continue;
        }
        throw e;
      }
    }
  }

  private async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every message names its partition (chosen above); this only silences kafkajs' v2 warning.
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  /**
   * Admin calls run together (`sharedAdmin`) but never while a topic is being deleted (`exclusiveAdmin`):
   * see `deleteTopic`. Not reentrant: an admin section must not call another one.
   */
  private async sharedAdmin<T>(fn: () => Promise<T>): Promise<T> {
    while (this.deleting) await this.deleting;
    this.adminCalls++;
    try {
      return await fn();
    } finally {
      if (--this.adminCalls === 0) for (const wake of this.adminIdle.splice(0)) wake();
    }
  }

  private async exclusiveAdmin<T>(fn: () => Promise<T>): Promise<T> {
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

  /** Appends run one after another: offsets and round-robin state follow the call order. */
  private enqueueAppend<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.appendQueue.then(fn, fn);
    this.appendQueue = run.catch(() => undefined);
    return run;
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

  private checkOpen(): void {
    if (this.closed) throw new LogError("CLOSED", `the Kafka log (${this.config.brokers.join(",")}) is closed`);
  }
}

/** Partitions of a group's heartbeat topic: the most members a group can have that all heartbeat. */
const HEARTBEAT_PARTITIONS = 32;

/** Options of the Kafka log beyond the connection. */
export interface KafkaLogOptions {
  /** Replication factor of created topics; default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Upper bound on the bytes one Fetch returns per partition (Kafka still returns one whole batch). */
  readonly fetchMaxBytesPerPartition?: number;
  /**
   * kafkajs' own console logging; default `nothing`: every failure reaches the caller as a `LogError`,
   * and kafkajs logs expected conditions (a topic that exists, a read past the end) as ERROR.
   */
  readonly clientLogLevel?: "nothing" | "error" | "warn" | "info" | "debug";
}

/** A {@link KafkaEventLog} configured from `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, `KAFKA_SSL`, `KAFKA_SASL_*`. */
export function createKafkaLogFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: KafkaLogOptions = {},
): KafkaEventLog {
  return new KafkaEventLog({ ...kafkaConfigFromEnv(env), ...options });
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

// ---- kafkajs internals ----

/**
 * How long a follow Fetch waits at the broker for new records before answering empty. Short, because
 * `close()` lets in-flight requests finish (kafkajs drains a connection before closing it), so this
 * bounds how long `close()` takes; an idle follower costs one tiny request per interval.
 */
const LONG_POLL_MS = 1000;
const READ_COMMITTED = 1;
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

/** The parts of kafkajs' (private) Cluster and Broker classes this module uses. */
interface InternalCluster {
  readonly targetTopics: Set<string>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
}

interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: RawPartition[] }[] }>;
}

interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

interface RawPartition {
  partition: number;
  highWatermark: string;
  abortedTransactions: { producerId: string; firstOffset: string }[];
  messages: RawMessage[];
}

interface FetchedPartition {
  readonly partition: number;
  readonly records: LogRecord[];
  /** The offset to fetch next: past every record the broker returned, including skipped ones. */
  readonly nextOffset: number;
  readonly highWatermark: number;
}

/**
 * A kafkajs Cluster (connections, metadata, brokers) built by the client's own private factory, so it
 * shares the client's brokers, TLS, SASL, timeouts and retry settings. kafkajs 2.2.x keeps that factory
 * under the symbol `private:Kafka:createCluster`; if a kafkajs upgrade removes it, this fails loudly here
 * (and the Kafka test suite with it) rather than misbehaving later.
 */
function clusterFor(kafka: object): InternalCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster");
  const factory = symbol && (kafka as Record<symbol, unknown>)[symbol];
  if (typeof factory !== "function") {
    throw new LogError(
      "IO",
      "this kafkajs version has no private cluster factory; runtime/log/kafka.ts needs kafkajs 2.2.x",
    );
  }
  return (factory as (o: object) => InternalCluster)({
    metadataMaxAge: 300_000,
    allowAutoTopicCreation: false,
    maxInFlightRequests: null,
    isolationLevel: READ_COMMITTED,
  });
}

/**
 * kafkajs 2.2.4 bug (tulios/kafkajs#1556, #1704; fix proposed in PR #1667, never released): every
 * connection's request queue re-arms a `setTimeout` with a negative delay after each check even when
 * nothing is pending, so an idle client spins the event loop (measured here: ~45 ms of CPU per second
 * for one idle log). The timer is only needed while requests wait in the queue (client-side throttling);
 * `push` re-arms it when a request has to wait, and every response re-checks the queue. Applied once, to
 * the class kafkajs itself loads; a kafkajs without that method is left alone.
 */
function stopIdleTimerLoop(): void {
  const require = createRequire(import.meta.url);
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as {
    prototype: { scheduleCheckPendingRequests?: () => void; pending?: unknown[]; esqlIdlePatch?: boolean };
  };
  const proto = RequestQueue.prototype;
  const original = proto.scheduleCheckPendingRequests;
  if (typeof original !== "function" || proto.esqlIdlePatch) return;
  proto.scheduleCheckPendingRequests = function (this: { pending: unknown[] }) {
    if (this.pending.length > 0) original.call(this);
  };
  proto.esqlIdlePatch = true;
}

/** Bytes of records one produce request carries at most (below brokers' default max message size, 1 MB). */
const MAX_REQUEST_BYTES = 512 * 1024;

/** A record's size in a produce request, roughly: key, value, headers and per-record overhead. */
function approximateSize(m: Message): number {
  let n = 32 + (m.key ? (m.key as Buffer).length : 0) + (m.value ? (m.value as Buffer).length : 0);
  if (m.headers) {
    for (const [k, v] of Object.entries(m.headers)) {
      n += k.length + 8;
      if (Buffer.isBuffer(v)) n += v.length;
      else if (Array.isArray(v)) for (const x of v) n += Buffer.isBuffer(x) ? x.length : String(x).length;
      else if (v !== undefined) n += String(v).length;
    }
  }
  return n;
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

function toKafkaHeaders(headers: readonly LogHeader[]): IHeaders {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const h of headers) {
    const value = h.value as Buffer; // null values were rejected before
    const prev = out[h.key];
    if (prev === undefined) out[h.key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[h.key] = [prev, value];
  }
  return out;
}

function clientConfig(config: KafkaConnectionConfig & KafkaLogOptions): KafkaConfig {
  return {
    brokers: [...config.brokers],
    clientId: config.clientId ?? "esql",
    connectionTimeout: config.connectionTimeoutMs ?? 3000,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    logLevel: LOG_LEVELS[config.clientLogLevel ?? "nothing"],
    ...(config.ssl ? { ssl: true } : {}),
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
  };
}

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

function checkPartition(topic: string, partitions: number, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new LogError(
      "INVALID_PARTITION",
      `topic '${topic}' has partitions 0 to ${partitions - 1}, found partition ${partition}`,
    );
  }
}

function unknownTopic(topic: string): LogError {
  return new LogError("UNKNOWN_TOPIC", `topic '${topic}' does not exist`);
}

/** Maps a kafkajs error to a `LogError` (a `LogError` passes through). */
function toLogError(err: unknown, what: string, topic?: string): LogError {
  if (err instanceof LogError) return err;
  const e = err as {
    type?: string;
    message?: string;
    originalError?: { type?: string };
    errors?: { type?: string }[]; // KafkaJSAggregateError, e.g. "Topic creation errors"
  };
  const type = e.type ?? e.originalError?.type ?? e.errors?.find((x) => x.type)?.type;
  const detail = `${what}: ${e.message ?? String(err)}`;
  switch (type) {
    case "UNKNOWN_TOPIC_OR_PARTITION":
      return topic !== undefined
        ? new LogError("UNKNOWN_TOPIC", `topic '${topic}' does not exist`, { cause: err })
        : new LogError("IO", detail, { cause: err });
    case "INVALID_TOPIC_EXCEPTION":
    case "INVALID_PARTITIONS":
    case "INVALID_REPLICATION_FACTOR":
    case "INVALID_CONFIG":
    case "INVALID_REQUEST":
      return new LogError("INVALID_ARGUMENT", detail, { cause: err });
    case "OFFSET_OUT_OF_RANGE":
      return new LogError("OFFSET_OUT_OF_RANGE", detail, { cause: err });
    case "INVALID_PRODUCER_EPOCH":
    case "PRODUCER_FENCED":
    case "INVALID_PRODUCER_ID_MAPPING":
      return new LogError("FENCED", `${detail} (another instance now writes as this transactional id)`, { cause: err });
    default:
      return new LogError("IO", detail, { cause: err });
  }
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

/**
 * A plain kafkajs consumer (group `groupId`, from the beginning, `eachBatch`) over `topic` that hands every
 * record's value to `onValue` until `count` records were seen; resolves the milliseconds from the first
 * batch to the last (the group join before it is not counted). A yardstick for benchmarks (what a bare
 * client reaches on the same broker and topic), not part of the runtime.
 */
export async function consumeValues(
  config: KafkaConnectionConfig,
  topic: string,
  groupId: string,
  count: number,
  onValue: (value: Buffer | null) => void,
): Promise<number> {
  const kafka = new Kafka(clientConfig(config));
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    let first = 0;
    const done = new Promise<number>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (first === 0) first = performance.now();
            for (const m of batch.messages) onValue(m.value);
            seen += batch.messages.length;
            if (seen >= count) resolve(performance.now() - first);
          },
        })
        .catch(reject);
    });
    return await done;
  } finally {
    await consumer.disconnect();
  }
}
