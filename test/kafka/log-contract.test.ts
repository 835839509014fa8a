import { inject } from "vitest";
import { KafkaEventLog } from "../../runtime/log/kafka.ts";
import { describeEventLogContract } from "../runtime/log/contract.ts";

const brokers = inject("kafkaBrokers").split(",");

describeEventLogContract("kafka", async () => new KafkaEventLog({ brokers, clientId: "esql-contract" }), {
  nullHeaderValues: false,
});
