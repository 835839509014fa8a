/**
 * An engine that runs as one of several instances of a service (`runtime/cluster`): what it reports to the group,
 * how it aligns its queries' tasks with the membership map between batches, and whom it asks for the partitions
 * of a pull query it does not own.
 */
import type { ClusterMember } from "../cluster/member.ts";
import type { PersistentQuery } from "../query/query.ts";

/** What this instance reports to its group: the slots it runs and copies, and how many slots its queries need. */
export function heldSlots(
  queries: ReadonlyMap<string, PersistentQuery>,
  member: ClusterMember | undefined,
): { active: number[]; standby: number[]; slots: number } {
  const map = member?.map;
  const slots = Math.max(1, ...[...queries.values()].map((q) => q.partitions));
  if (!map) return { active: [], standby: [], slots };
  const active = new Set<number>();
  const standby = new Set<number>();
  for (const q of queries.values()) {
    for (const t of q.tasks) active.add(t.partition % map.slots);
    for (const s of q.standbys) standby.add(s.partition % map.slots);
  }
  return { active: [...active], standby: [...standby], slots };
}

/**
 * Aligns the queries' tasks with the latest membership map (takeovers restore and claim; lost partitions stop),
 * and asks the leader for a new map when a query has more partitions than the map has slots. Between batches,
 * after the statements other instances deployed were applied.
 */
export class ClusterSync {
  private rejoining: Promise<void> | undefined;

  constructor(
    private readonly member: ClusterMember,
    private readonly queries: ReadonlyMap<string, PersistentQuery>,
    private readonly onEvent: ((message: string) => void) | undefined,
  ) {}

  async align(): Promise<void> {
    // Every time, not only after a new map: a takeover another instance beat us to is retried.
    for (const q of this.queries.values()) await q.reassign();
    const needed = heldSlots(this.queries, this.member).slots;
    const map = this.member.map;
    if (map && needed > map.slots && !this.rejoining) {
      this.rejoining = this.member.rejoin().finally(() => (this.rejoining = undefined));
      this.rejoining.catch((e: unknown) => this.onEvent?.(`rejoining the group failed: ${(e as Error).message}`));
    }
  }

  /** The URLs of the other instances that own partitions of query `queryId` (all, or `only` these), for pull queries. */
  peersOf(queryId: string, only?: readonly number[]): string[] {
    const member = this.member;
    const map = member.map;
    const q = this.queries.get(queryId);
    if (!map || !q) return [];
    const urls = new Set<string>();
    for (const p of only ?? Array.from({ length: q.partitions }, (_, i) => i)) {
      const owner = member.owner(p);
      if (!owner || owner.instance === member.instance) continue;
      if (!owner.url)
        throw new Error(
          `partition ${p} of ${queryId} is on instance ${owner.instance}, which advertises no URL to ask`,
        );
      urls.add(owner.url);
    }
    return [...urls];
  }
}
