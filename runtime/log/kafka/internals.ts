/**
 * kafkajs internals the Kafka log relies on (kafkajs 2.2.x): its private Cluster and Broker classes, which
 * issue Fetch and ListOffsets requests without a consumer group, and fixes of an idle timer loop and of a
 * listener leak while a broker is away. Nothing
 * here loads kafkajs itself (`client.ts` does).
 */
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { LogError } from "../types.ts";

/** Fetch isolation level: records of open or aborted transactions are not returned. */
export const READ_COMMITTED = 1;

/** The parts of kafkajs' (private) Cluster and Broker classes the Kafka log uses. */
export interface InternalCluster {
  readonly targetTopics: Set<string>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; fromTimestamp?: number; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
}

export interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: RawPartition[] }[] }>;
}

export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

export interface RawPartition {
  partition: number;
  highWatermark: string;
  abortedTransactions: { producerId: string; firstOffset: string }[];
  messages: RawMessage[];
}

/**
 * A kafkajs Cluster (connections, metadata, brokers) built by the client's own private factory, so it
 * shares the client's brokers, TLS, SASL, timeouts and retry settings. kafkajs 2.2.x keeps that factory
 * under the symbol `private:Kafka:createCluster`; if a kafkajs upgrade removes it, this fails loudly here
 * (and the Kafka test suite with it) rather than misbehaving later.
 */
export function clusterFor(kafka: object): InternalCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster");
  const factory = symbol && (kafka as Record<symbol, unknown>)[symbol];
  if (typeof factory !== "function") {
    throw new LogError(
      "IO",
      "this kafkajs version has no private cluster factory; runtime/log/kafka/ needs kafkajs 2.2.x",
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
export function stopIdleTimerLoop(): void {
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

/**
 * kafkajs 2.2.4 leaks listeners while a broker is away: each `Connection.disconnect` calls `socket.unref()`,
 * and on a socket that never connected (or is destroyed: no handle) Node defers that with
 * `socket.once("connect", unref)`, which never fires. A connection is disconnected on every failed attempt
 * (error, end, timeout, then by its broker), so an outage of a few seconds passes ten listeners on one dead
 * socket and Node prints a `MaxListenersExceededWarning`. After each disconnect, a destroyed socket's
 * deferred unref is removed (it can never run). Applied once, like the fix above.
 */
export function stopDeadSocketListeners(): void {
  const require = createRequire(import.meta.url);
  const Connection = require("kafkajs/src/network/connection.js") as {
    prototype: { disconnect?: () => Promise<unknown>; esqlSocketPatch?: boolean };
  };
  const proto = Connection.prototype;
  const original = proto.disconnect;
  if (typeof original !== "function" || proto.esqlSocketPatch) return;
  proto.disconnect = async function (this: { socket?: Socket | null }) {
    try {
      return await original.call(this);
    } finally {
      const socket = this.socket;
      // eslint-disable-next-line @typescript-eslint/unbound-method -- the very function Node registered
      if (socket?.destroyed) socket.removeListener("connect", socket.unref);
    }
  };
  proto.esqlSocketPatch = true;
}
