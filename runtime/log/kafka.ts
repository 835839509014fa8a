/**
 * The Kafka `EventLog` (the modules are in `kafka/`: `log.ts` joins topics (`admin.ts`), appends and
 * transactions (`produce.ts`), reads (`fetch.ts`) and group membership (`group.ts`) over the kafkajs client
 * (`client.ts`, `internals.ts`)). Import it from here.
 */
export { KafkaEventLog, createKafkaLogFromEnv } from "./kafka/log.ts";
export { describeKafkaCluster } from "./kafka/admin.ts";
export type { KafkaLogOptions } from "./kafka/client.ts";
