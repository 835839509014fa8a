/**
 * The kafkajs client: the one module that loads kafkajs (the other Kafka log modules take its values from
 * here, so the preload below always runs first), the client's configuration, and the mapping of kafkajs
 * errors to `LogError`s.
 */
// First: replaces a kafkajs internal before kafkajs loads (see the module).
import "../kafkajs-preload.ts";
import kafkajs from "kafkajs";
import type { KafkaConfig, SASLOptions } from "kafkajs";
import type { KafkaConnectionConfig } from "../config.ts";
import { LogError } from "../types.ts";
import { stopDeadSocketListeners, stopIdleTimerLoop } from "./internals.ts";

export const { Kafka, logLevel, ConfigResourceTypes, ConfigSource, AssignerProtocol, Partitioners } = kafkajs;
stopIdleTimerLoop();
stopDeadSocketListeners();

export type KafkaClient = InstanceType<typeof Kafka>;

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

/** What the parts of the Kafka log share: the client, its configuration and the log's life cycle. */
export interface KafkaLogHost {
  readonly kafka: KafkaClient;
  readonly config: KafkaConnectionConfig & KafkaLogOptions;
  /** Connects the admin client and the fetch connections (once; every operation calls it). */
  connect(): Promise<void>;
  /** Throws `CLOSED` once the log is closed. */
  checkOpen(): void;
  /** Drops what every part knows about a topic that is gone, so metadata refreshes do not keep naming it. */
  forget(topic: string): void;
}

export function clientConfig(config: KafkaConnectionConfig & KafkaLogOptions): KafkaConfig {
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

export function checkPartition(topic: string, partitions: number, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new LogError(
      "INVALID_PARTITION",
      `topic '${topic}' has partitions 0 to ${partitions - 1}, found partition ${partition}`,
    );
  }
}

export function unknownTopic(topic: string): LogError {
  return new LogError("UNKNOWN_TOPIC", `topic '${topic}' does not exist`);
}

/** Maps a kafkajs error to a `LogError` (a `LogError` passes through). */
export function toLogError(err: unknown, what: string, topic?: string): LogError {
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
