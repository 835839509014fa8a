/**
 * Appends and transactions. Appends go through one idempotent producer (`acks=-1`, one request in flight, so
 * order is kept), one at a time. Partitions are chosen here, with the same murmur2 partitioner as the
 * embedded log (`../partition.ts`), so every record's partition is known before the send; a record's offset
 * is its partition's base offset (from the produce response) plus its index among that partition's records
 * in the request. Transactions use one transactional producer per transactional id.
 */
import type { IHeaders, Message, Producer } from "kafkajs";
import { partitionForKey } from "../partition.ts";
import { LogError, type AppendResult, type LogHeader, type LogTransaction, type ProduceRecord } from "../types.ts";
import type { KafkaTopics } from "./admin.ts";
import { Partitioners, checkPartition, toLogError, type KafkaLogHost } from "./client.ts";

export class KafkaAppender {
  private producer: Producer | undefined;
  private readonly txProducers = new Map<string, Producer>();
  private readonly roundRobin = new Map<string, number>();
  private appendQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: KafkaLogHost,
    private readonly topics: KafkaTopics,
  ) {}

  append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]> {
    return this.appendWith(topic, records, () => this.getProducer());
  }

  /**
   * Appends through `producer` (the shared idempotent one, or a transactional one): checks the records,
   * picks partitions as Kafka's default partitioner does, sends, and turns base offsets into one offset per
   * record. Appends go one at a time (`enqueue`), so round-robin partitions follow the call order.
   */
  private async appendWith(
    topic: string,
    records: readonly ProduceRecord[],
    producerFor: () => Promise<Producer>,
  ): Promise<AppendResult[]> {
    await this.host.connect();
    const partitions = await this.topics.partitionCount(topic);
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
    return this.enqueue(async () => {
      this.host.checkOpen();
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
          if (e.code === "UNKNOWN_TOPIC") this.host.forget(topic);
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
    await this.host.connect();
    this.host.checkOpen();
    let producer = this.txProducers.get(transactionalId);
    if (!producer) {
      const created = this.host.kafka.producer({
        transactionalId,
        // What Kafka Streams uses under exactly-once: a transaction its writer abandoned (a crash it does not
        // come back from) is aborted by the broker after 10 s rather than blocking read-committed readers for
        // kafkajs' default minute. A writer that comes back aborts it at once (see the doc above).
        transactionTimeout: 10_000,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
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

  private async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.host.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every message names its partition (chosen above); this only silences kafkajs' v2 warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  /** Disconnects the shared producer; the next append connects a new one (after a topic deletion). */
  async replaceProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.disconnect().catch(() => undefined);
  }

  /** Appends run one after another: offsets and round-robin state follow the call order. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.appendQueue.then(fn, fn);
    this.appendQueue = run.catch(() => undefined);
    return run;
  }

  forget(topic: string): void {
    this.roundRobin.delete(topic);
  }

  /** Settles when the appends queued so far have. */
  async drained(): Promise<void> {
    await this.appendQueue.catch(() => undefined);
  }

  /** Disconnects the transactional producers. */
  async closeTransactional(): Promise<void> {
    const producers = [...this.txProducers.values()];
    this.txProducers.clear();
    await Promise.allSettled(producers.map((p) => p.disconnect()));
  }

  async closeProducer(): Promise<void> {
    await this.producer?.disconnect();
  }
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
