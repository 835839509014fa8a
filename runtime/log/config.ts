/**
 * Kafka client settings, independent of the client library (only `kafka/client.ts` imports kafkajs). Nothing
 * is hard-coded: the settings come from the caller or from the environment ({@link kafkaConfigFromEnv}).
 */

export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

export interface KafkaConnectionConfig {
  /** Bootstrap addresses `host:port`; use `127.0.0.1`, not `localhost` (Node may pick ::1). */
  readonly brokers: readonly string[];
  /** Default `esql`. */
  readonly clientId?: string;
  /** TLS to the brokers (the platform's CA store). */
  readonly ssl?: boolean;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  /** Socket connect timeout; default 3000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Per-request timeout; default 30000 ms. */
  readonly requestTimeoutMs?: number;
}

/** A setting that cannot be used, with the variable that holds it. */
export class KafkaConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KafkaConfigError";
  }
}

/**
 * Reads the settings from the environment:
 * - `KAFKA_BROKERS`: comma-separated `host:port` list (required);
 * - `KAFKA_CLIENT_ID` (default `esql`);
 * - `KAFKA_SSL`: `true`/`1` for TLS;
 * - `KAFKA_SASL_MECHANISM` (`plain`, `scram-sha-256`, `scram-sha-512`), `KAFKA_SASL_USERNAME`,
 *   `KAFKA_SASL_PASSWORD`: all three or none.
 * Throws {@link KafkaConfigError} naming the variable when a value is missing or malformed.
 */
export function kafkaConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaConnectionConfig {
  const raw = env.KAFKA_BROKERS?.trim();
  if (!raw) throw new KafkaConfigError("KAFKA_BROKERS is not set: expected a comma-separated list like 127.0.0.1:9092");
  const brokers = raw
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new KafkaConfigError(`KAFKA_BROKERS: expected host:port, found '${b}'`);
  }
  const ssl = parseBool("KAFKA_SSL", env.KAFKA_SSL);
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
  const username = env.KAFKA_SASL_USERNAME;
  const password = env.KAFKA_SASL_PASSWORD;
  let sasl: KafkaConnectionConfig["sasl"];
  if (mechanism || username || password) {
    if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
      throw new KafkaConfigError(
        `KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512, found '${mechanism ?? ""}'`,
      );
    }
    if (!username || !password) {
      throw new KafkaConfigError(
        "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD must both be set with KAFKA_SASL_MECHANISM",
      );
    }
    sasl = { mechanism, username, password };
  }
  return {
    brokers,
    clientId: env.KAFKA_CLIENT_ID?.trim() || "esql",
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
  };
}

function parseBool(name: string, value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new KafkaConfigError(`${name}: expected true or false, found '${value}'`);
}
