import { describe, expect, inject, it } from "vitest";
import { KafkaConfigError, kafkaConfigFromEnv } from "../../runtime/log/config.ts";
import { createKafkaLogFromEnv } from "../../runtime/log/kafka.ts";

describe("Kafka settings from the environment", () => {
  it("reads brokers, client id, TLS and SASL", () => {
    expect(
      kafkaConfigFromEnv({
        KAFKA_BROKERS: " 127.0.0.1:9092, broker-2:9093 ",
        KAFKA_CLIENT_ID: "app",
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
      }),
    ).toEqual({
      brokers: ["127.0.0.1:9092", "broker-2:9093"],
      clientId: "app",
      ssl: true,
      sasl: { mechanism: "scram-sha-512", username: "u", password: "p" },
    });
    expect(kafkaConfigFromEnv({ KAFKA_BROKERS: "127.0.0.1:9092" })).toEqual({
      brokers: ["127.0.0.1:9092"],
      clientId: "esql",
    });
  });

  it("names the variable that is missing or malformed", () => {
    expect(() => kafkaConfigFromEnv({})).toThrow(/KAFKA_BROKERS is not set/);
    expect(() => kafkaConfigFromEnv({ KAFKA_BROKERS: "127.0.0.1" })).toThrow(/expected host:port, found '127.0.0.1'/);
    expect(() => kafkaConfigFromEnv({ KAFKA_BROKERS: "h:1", KAFKA_SSL: "maybe" })).toThrow(KafkaConfigError);
    expect(() => kafkaConfigFromEnv({ KAFKA_BROKERS: "h:1", KAFKA_SASL_MECHANISM: "plain" })).toThrow(
      /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
    expect(() =>
      kafkaConfigFromEnv({
        KAFKA_BROKERS: "h:1",
        KAFKA_SASL_MECHANISM: "gssapi",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
      }),
    ).toThrow(/expected plain, scram-sha-256 or scram-sha-512, found 'gssapi'/);
  });

  it("creates a log that reaches the broker", async () => {
    const log = createKafkaLogFromEnv({ KAFKA_BROKERS: inject("kafkaBrokers"), KAFKA_CLIENT_ID: "esql-env-test" });
    try {
      expect(Array.isArray(await log.listTopics())).toBe(true);
    } finally {
      await log.close();
    }
  });
});
