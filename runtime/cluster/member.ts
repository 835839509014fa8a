/**
 * One instance's membership in its deployment's group (`esql-<serviceId>`): reports what it holds, and
 * keeps the latest {@link ClusterMap} computed by the group's leader. The engine applies a new map between
 * batches (`Engine.drain`), never in the middle of one.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GroupCapableLog, GroupMembership } from "../log/types.ts";
import { assignSlots, roleOf, slotOf, type ClusterMap, type MemberState } from "./assign.ts";

export interface ClusterOptions {
  /** Instances with the same service id share the deployment (ksqlDB's `ksql.service.id`). */
  readonly serviceId: string;
  /** Stable id of this instance; default: one generated once and kept in `<dataDir>/instance-id`. */
  readonly instanceId?: string;
  /** The URL other instances forward pull queries to (ksqlDB's `ksql.advertised.listener`). */
  readonly advertisedUrl?: string;
  /** Warm copies kept of each slot's stores on other instances (Kafka Streams' `num.standby.replicas`); default 0. */
  readonly standbyReplicas?: number;
  /** Milliseconds without a heartbeat before an instance's slots move (default 10000). */
  readonly sessionTimeoutMs?: number;
}

/** What the member reports about itself at each join. */
export interface HeldState {
  readonly active: readonly number[];
  readonly standby: readonly number[];
  readonly slots: number;
}

export class ClusterMember {
  private current: ClusterMap | undefined;
  private membership: GroupMembership | undefined;
  private readonly waiters: (() => void)[] = [];
  lastError: Error | undefined;
  readonly instance: string;

  constructor(
    private readonly log: GroupCapableLog,
    readonly options: ClusterOptions,
    dataDir: string,
    private readonly held: () => HeldState,
  ) {
    this.instance = options.instanceId ?? stableInstanceId(dataDir);
  }

  get groupId(): string {
    return `esql-${this.options.serviceId}`;
  }

  get map(): ClusterMap | undefined {
    return this.current;
  }

  /** Joins the group; resolves once the first map arrived (or rejects after `timeoutMs`). */
  async join(timeoutMs = 60_000): Promise<void> {
    const first = this.nextMap(timeoutMs);
    // A join that fails (a broker away) leaves `first` to time out later: nobody waits for it then, and an
    // unhandled rejection would end the process.
    first.catch(() => undefined);
    this.membership = await this.log.joinGroup({
      groupId: this.groupId,
      ...(this.options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: this.options.sessionTimeoutMs } : {}),
      metadata: () => {
        const h = this.held();
        const state: MemberState = {
          instance: this.instance,
          ...(this.options.advertisedUrl ? { url: this.options.advertisedUrl } : {}),
          active: h.active,
          standby: h.standby,
          slots: h.slots,
          generation: this.current?.generation ?? 0,
        };
        return Buffer.from(JSON.stringify(state));
      },
      assign: (members) => {
        const states = members.map((m) => JSON.parse(m.metadata.toString("utf8")) as MemberState);
        const map = Buffer.from(JSON.stringify(assignSlots(states, this.options.standbyReplicas ?? 0)));
        return new Map(members.map((m) => [m.memberId, map]));
      },
      onAssignment: (_memberId, blob) => {
        const map = JSON.parse(blob.toString("utf8")) as ClusterMap;
        if (this.current && map.generation <= this.current.generation) return;
        this.current = map;
        for (const w of this.waiters.splice(0)) w();
      },
      onError: (e) => (this.lastError = e),
    });
    await first;
  }

  /** Resolves at the next map (rejects after `timeoutMs`). */
  nextMap(timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no assignment from group ${this.groupId} within ${timeoutMs} ms${this.lastError ? `: ${this.lastError.message}` : ""}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Joins again so that the leader recomputes the map (the slots needed grew: a query with more partitions
   * was deployed). Resolves at the new map.
   */
  async rejoin(timeoutMs = 60_000): Promise<void> {
    await this.membership?.leave();
    await this.join(timeoutMs);
  }

  role(partition: number): "active" | "standby" | "none" {
    return this.current ? roleOf(this.current, this.instance, partition) : "none";
  }

  /** The instance owning `partition` and its URL (when it advertises one). */
  owner(partition: number): { instance: string; url: string | undefined } | undefined {
    const m = this.current;
    if (!m) return undefined;
    const instance = m.owners[slotOf(m, partition)];
    return instance === undefined ? undefined : { instance, url: m.endpoints[instance] };
  }

  async leave(): Promise<void> {
    const m = this.membership;
    this.membership = undefined;
    await m?.leave();
  }
}

/** An id for this data folder, created once: a restarted instance is recognised and gets its slots back. */
function stableInstanceId(dataDir: string): string {
  const file = join(dataDir, "instance-id");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const id = randomUUID();
  writeFileSync(file, id + "\n");
  return id;
}
