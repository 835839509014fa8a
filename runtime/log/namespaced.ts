import type {
  AppendResult,
  CreateTopicOptions,
  EventLog,
  LogRecord,
  PartitionPosition,
  ProduceRecord,
  SubscribeOptions,
  TopicDescription,
} from "./types.ts";
import { LogError } from "./types.ts";

export interface NamespacedLogOptions {
  /** Delete every topic of the namespace on `close()` (test runs on a shared broker). Default false. */
  readonly deleteTopicsOnClose?: boolean;
  /** Close the inner log on `close()`. Default false: the inner log is usually shared. */
  readonly closeInner?: boolean;
}

/**
 * An `EventLog` view of another log in which every topic name `t` is `prefix + t` underneath: several
 * engines (test cases, CLI test runs) share one broker without their topics (sources, sinks, internal
 * topics, the command topic) colliding. Callers see the names without the prefix, in records too.
 * The prefix must itself be a valid topic name part (Kafka: `[a-zA-Z0-9._-]`).
 */
export class NamespacedLog implements EventLog {
  private closed = false;

  constructor(
    readonly inner: EventLog,
    readonly prefix: string,
    private readonly options: NamespacedLogOptions = {},
  ) {}

  private name(topic: string): string {
    if (this.closed) throw new LogError("CLOSED", `the log namespace '${this.prefix}' is closed`);
    return this.prefix + topic;
  }

  private strip(records: LogRecord[]): LogRecord[] {
    const n = this.prefix.length;
    return records.map((r) => ({ ...r, topic: r.topic.slice(n) }));
  }

  createTopic(name: string, options: CreateTopicOptions): Promise<boolean> {
    return this.inner.createTopic(this.name(name), options);
  }

  deleteTopic(name: string): Promise<void> {
    return this.inner.deleteTopic(this.name(name));
  }

  async listTopics(): Promise<string[]> {
    this.name("");
    const all = await this.inner.listTopics();
    return all.filter((t) => t.startsWith(this.prefix)).map((t) => t.slice(this.prefix.length));
  }

  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    const d = await this.inner.describeTopic(this.name(name));
    return d && { ...d, name };
  }

  append(topic: string, records: readonly ProduceRecord[]): Promise<AppendResult[]> {
    return this.inner.append(this.name(topic), records);
  }

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return this.strip(await this.inner.read(this.name(topic), partition, fromOffset, maxRecords));
  }

  beginningOffset(topic: string, partition: number): Promise<number> {
    return this.inner.beginningOffset(this.name(topic), partition);
  }

  endOffset(topic: string, partition: number): Promise<number> {
    return this.inner.endOffset(this.name(topic), partition);
  }

  offsetForTime(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.inner.offsetForTime(this.name(topic), partition, timestamp);
  }

  waitForData(topic: string, positions: readonly PartitionPosition[], signal?: AbortSignal): Promise<boolean> {
    return this.inner.waitForData(this.name(topic), positions, signal);
  }

  async *subscribe(
    topic: string,
    positions: readonly PartitionPosition[],
    options?: SubscribeOptions,
  ): AsyncIterableIterator<LogRecord[]> {
    for await (const batch of this.inner.subscribe(this.name(topic), positions, options)) yield this.strip(batch);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.options.deleteTopicsOnClose) {
      for (const t of await this.listTopics()) await this.inner.deleteTopic(this.prefix + t).catch(() => undefined);
    }
    this.closed = true;
    if (this.options.closeInner) await this.inner.close();
  }
}
