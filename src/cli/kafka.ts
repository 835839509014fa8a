/**
 * How CLI commands reach Kafka: the brokers from `--brokers` (or `KAFKA_BROKERS`), TLS/SASL/client id from
 * the environment (`runtime/log/config.ts`; never from flags, where `ps` would show secrets), and the
 * cluster settings that make an instance one of several sharing a deployment:
 *
 * | flag | environment | meaning |
 * | --- | --- | --- |
 * | `--service-id <id>` | `ESQL_SERVICE_ID` | instances with the same id split the queries' partitions (consumer group `esql-<id>`) |
 * | `--standby-replicas <n>` | `ESQL_STANDBY_REPLICAS` | warm copies of each partition's state on other instances |
 * | `--advertised-url <url>` | `ESQL_ADVERTISED_URL` | where other instances reach this one's REST API (pull queries); `serve` defaults to its own URL |
 */
import type { ClusterOptions } from "../../runtime/cluster/member.ts";
import type { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { kafkaConfigFromEnv } from "../../runtime/log/config.ts";
import { UsageError } from "./files.ts";

export interface KafkaFlags {
  readonly brokers?: readonly string[];
  readonly serviceId?: string;
  readonly standbyReplicas?: number;
  readonly advertisedUrl?: string;
}

/** The commander options every Kafka-capable command takes beyond `--brokers`. */
export const CLUSTER_FLAG_HELP = {
  serviceId: "share the deployment with the other instances of this service id (Kafka; env ESQL_SERVICE_ID)",
  standbyReplicas:
    "keep warm copies of each partition's state on this many other instances (env ESQL_STANDBY_REPLICAS)",
  advertisedUrl: "the URL other instances use to reach this one's REST API (env ESQL_ADVERTISED_URL)",
  exactlyOnce:
    "Kafka: write each batch's outputs, state and input offsets in one transaction (processing.guarantee=exactly_once)",
} as const;

/** Reads the cluster flags with their environment fallbacks; rejects bad combinations as usage errors. */
export function clusterFlags(
  opts: {
    readonly brokers?: readonly string[] | undefined;
    readonly serviceId?: string | undefined;
    readonly standbyReplicas?: string | undefined;
    readonly advertisedUrl?: string | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): KafkaFlags {
  const serviceId = opts.serviceId ?? (env.ESQL_SERVICE_ID?.trim() || undefined);
  const standbyText = opts.standbyReplicas ?? (env.ESQL_STANDBY_REPLICAS?.trim() || undefined);
  const advertisedUrl = opts.advertisedUrl ?? (env.ESQL_ADVERTISED_URL?.trim() || undefined);
  if (serviceId !== undefined && !/^[A-Za-z0-9._-]+$/.test(serviceId)) {
    throw new UsageError(
      `--service-id may hold letters, digits, '.', '_' and '-' only (it names Kafka topics), found '${serviceId}'`,
    );
  }
  if (serviceId !== undefined && !opts.brokers)
    throw new UsageError("--service-id needs --brokers: instances share a deployment through Kafka");
  let standbyReplicas: number | undefined;
  if (standbyText !== undefined) {
    standbyReplicas = Number(standbyText);
    if (!Number.isInteger(standbyReplicas) || standbyReplicas < 0)
      throw new UsageError(`--standby-replicas must be 0 or more, found ${standbyText}`);
    if (serviceId === undefined)
      throw new UsageError("--standby-replicas needs --service-id (standbys live on other instances)");
  }
  if (advertisedUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(advertisedUrl))
    throw new UsageError(`--advertised-url must be an http(s) URL, found '${advertisedUrl}'`);
  return {
    ...(opts.brokers ? { brokers: opts.brokers } : {}),
    ...(serviceId !== undefined ? { serviceId } : {}),
    ...(standbyReplicas !== undefined ? { standbyReplicas } : {}),
    ...(advertisedUrl !== undefined ? { advertisedUrl } : {}),
  };
}

/**
 * The Kafka log for `flags.brokers` (connection settings from the environment), or undefined without
 * brokers. Loaded lazily: kafkajs is not needed on the embedded log.
 */
export async function openKafkaLog(
  flags: KafkaFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KafkaEventLog | undefined> {
  if (!flags.brokers) return undefined;
  const { KafkaEventLog } = await import("../../runtime/log/kafka.ts");
  const fromEnv = env.KAFKA_BROKERS ? kafkaConfigFromEnv(env) : undefined;
  return new KafkaEventLog({ ...(fromEnv ?? {}), ...kafkaSecurityFromEnv(env), brokers: [...flags.brokers] });
}

/** TLS, SASL and client id from the environment even when `KAFKA_BROKERS` is not set (brokers came by flag). */
function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv): object {
  try {
    const { brokers: _ignored, ...rest } = kafkaConfigFromEnv({ ...env, KAFKA_BROKERS: "127.0.0.1:9092" });
    return rest;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The engine's cluster options for `flags` (undefined: a single instance). */
export function clusterOptions(flags: KafkaFlags, ownUrl?: string): ClusterOptions | undefined {
  if (!flags.serviceId) return undefined;
  const url = flags.advertisedUrl ?? ownUrl;
  return {
    serviceId: flags.serviceId,
    ...(flags.standbyReplicas !== undefined ? { standbyReplicas: flags.standbyReplicas } : {}),
    ...(url ? { advertisedUrl: url } : {}),
  };
}
