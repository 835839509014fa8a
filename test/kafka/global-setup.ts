import type { TestProject } from "vitest/node";
import { startBroker } from "../../scripts/kafka/broker.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Bootstrap address of the broker the `kafka` project's tests use, `host:port[,host:port]`. */
    kafkaBrokers: string;
  }
}

/**
 * Global setup of the `kafka` vitest project: uses `KAFKA_BROKERS` when set, else starts a single-node
 * broker (scripts/kafka/broker.ts) for the run and stops it afterwards (also when tests fail; the broker
 * is tied to this process, so an interrupted run does not leave it behind). A broker that cannot start
 * fails the run loudly: these tests never pass by skipping.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.KAFKA_BROKERS?.trim();
  if (given) {
    project.provide("kafkaBrokers", given);
    return async () => {};
  }
  let broker;
  try {
    broker = await startBroker({ onProgress: (line) => console.log(`[kafka] ${line}`) });
  } catch (err) {
    const where = process.env.CI === "true" ? "in CI" : "locally";
    throw new Error(
      `The kafka test project needs a broker and none could be started ${where}. Set KAFKA_BROKERS=host:port ` +
        `to use a running one, or make Java 17+ and Maven (with access to Maven Central) available.\n` +
        `Cause: ${(err as Error).message}`,
      { cause: err },
    );
  }
  project.provide("kafkaBrokers", broker.brokers);
  return () => broker.stop();
}
