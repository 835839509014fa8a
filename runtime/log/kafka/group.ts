/**
 * Group membership: a consumer group used for membership only (see `join`), with our own assigner.
 */
import type { Consumer } from "kafkajs";
import type { GroupMembership, GroupOptions } from "../types.ts";
import type { KafkaTopics } from "./admin.ts";
import { AssignerProtocol, type KafkaLogHost } from "./client.ts";

/** Partitions of a group's heartbeat topic: the most members a group can have that all heartbeat. */
const HEARTBEAT_PARTITIONS = 32;

export class KafkaGroups {
  private readonly consumers = new Set<Consumer>();

  constructor(
    private readonly host: KafkaLogHost,
    private readonly topics: KafkaTopics,
  ) {}

  /**
   * Joins a consumer group used for membership only: kafkajs' group protocol with our own assigner. The
   * leader's `assign` result travels in each member's assignment `userData`; kafkajs keeps that to itself,
   * so a member reads its own back with DescribeGroups after every join. Members also get partitions of a
   * small, empty heartbeat topic (`<groupId>-heartbeat`, one partition per possible member): kafkajs
   * heartbeats only from its fetch loop, and a member with nothing to fetch would silently drop out of the
   * group (kafkajs issue 1361). Records are not consumed through the group: tasks read at the offsets their
   * stores hold.
   */
  async join(options: GroupOptions): Promise<GroupMembership> {
    this.host.checkOpen();
    const heartbeatTopic = `${options.groupId}-heartbeat`;
    await this.topics.create(heartbeatTopic, { partitions: HEARTBEAT_PARTITIONS });
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const consumer = this.host.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 10_000),
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 10)),
      maxWaitTimeInMs: Math.max(100, Math.floor(sessionTimeout / 20)),
      allowAutoTopicCreation: false,
      partitionAssigners: [
        () => ({
          name: "esql",
          version: 1,
          protocol: ({ topics }: { topics: string[] }) => ({
            name: "esql",
            metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: options.metadata() }),
          }),
          assign: async ({ members }: { members: { memberId: string; memberMetadata: Buffer }[] }) => {
            const decoded = members.map((m) => ({
              memberId: m.memberId,
              metadata: AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData ?? Buffer.alloc(0),
            }));
            const blobs = options.assign(decoded);
            const ids = members.map((m) => m.memberId).sort();
            return ids.map((memberId, i) => {
              const partitions: number[] = [];
              for (let p = i; p < HEARTBEAT_PARTITIONS; p += ids.length) partitions.push(p);
              return {
                memberId,
                memberAssignment: AssignerProtocol.MemberAssignment.encode({
                  version: 1,
                  assignment: { [heartbeatTopic]: partitions },
                  userData: blobs.get(memberId) ?? Buffer.alloc(0),
                }),
              };
            });
          },
        }),
      ],
    });
    const readAssignment = async (memberId: string) => {
      // The group is stable once our SyncGroup returned; a newer rebalance may already be under way, in
      // which case our member is missing or empty here and the next join reports again.
      const { groups } = await this.topics.shared(() => this.topics.admin.describeGroups([options.groupId]));
      const me = groups[0]?.members.find((m) => m.memberId === memberId);
      if (!me || me.memberAssignment.length === 0) return;
      const decoded = AssignerProtocol.MemberAssignment.decode(me.memberAssignment);
      if (decoded) options.onAssignment(memberId, decoded.userData);
    };
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      readAssignment(e.payload.memberId).catch((err: unknown) => options.onError?.(err as Error));
    });
    consumer.on(consumer.events.CRASH, (e) => options.onError?.(e.payload.error));
    await consumer.connect();
    await consumer.subscribe({ topics: [heartbeatTopic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    this.consumers.add(consumer);
    return {
      leave: async () => {
        if (!this.consumers.delete(consumer)) return;
        await consumer.disconnect();
      },
    };
  }

  /** Leaves every group joined. */
  async leaveAll(): Promise<void> {
    const consumers = [...this.consumers];
    this.consumers.clear();
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
  }
}
