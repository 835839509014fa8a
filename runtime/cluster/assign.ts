/**
 * Who runs what, when several instances share a deployment (same service id, one consumer group).
 *
 * The unit of assignment is a *slot*: partition `p` of every topic a query reads belongs to slot
 * `p % slots`. All tasks of one partition index therefore live together (both sides of a join, every
 * stage of a query), which is what co-partitioning needs, and a key's owner is found from its partition
 * alone. `slots` is the largest partition count among the deployed queries' inputs, so with 8-partition
 * topics there are 8 slots to spread.
 *
 * The leader computes the map from what every member reports (see {@link MemberState}) with
 * {@link assignSlots}: balanced (loads differ by at most one), sticky (a slot stays where it was while
 * that keeps the balance, so few stores move), and warm (a slot that must move goes first to a member
 * holding a standby copy). Standby slots go to members other than the owner, preferring those that
 * already hold a copy (including the previous owner).
 */

/** What a member tells the leader when it joins. */
export interface MemberState {
  /** Stable across restarts (kept in the data folder): stickiness follows instances, not group member ids. */
  readonly instance: string;
  /** Where this instance serves HTTP, for forwarding pull queries (absent: it does not serve). */
  readonly url?: string;
  /** Slots it ran as owner before this rebalance. */
  readonly active: readonly number[];
  /** Slots it keeps standby copies of. */
  readonly standby: readonly number[];
  /** The partition count its deployed queries need (largest input partition count; at least 1). */
  readonly slots: number;
  /** The last map generation it applied (0: none). */
  readonly generation: number;
}

/** The outcome of a rebalance, the same for every member. */
export interface ClusterMap {
  readonly generation: number;
  readonly slots: number;
  /** The owning instance of each slot. */
  readonly owners: readonly string[];
  /** The standby instances of each slot. */
  readonly standbys: readonly (readonly string[])[];
  /** Advertised URL of each instance that has one. */
  readonly endpoints: Readonly<Record<string, string>>;
}

export function slotOf(map: ClusterMap, partition: number): number {
  return partition % map.slots;
}

/** The role of `instance` for `partition` in `map`. */
export function roleOf(map: ClusterMap, instance: string, partition: number): "active" | "standby" | "none" {
  const s = slotOf(map, partition);
  if (map.owners[s] === instance) return "active";
  return map.standbys[s]?.includes(instance) ? "standby" : "none";
}

/**
 * Computes the map for `members` (deterministic: same input, same map). `standbyReplicas` copies per
 * slot, capped at the number of other members.
 */
export function assignSlots(members: readonly MemberState[], standbyReplicas: number): ClusterMap {
  const sorted = [...members].sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  const slots = Math.max(1, ...sorted.map((m) => m.slots));
  const generation = Math.max(0, ...sorted.map((m) => m.generation)) + 1;
  const endpoints: Record<string, string> = {};
  for (const m of sorted) if (m.url) endpoints[m.instance] = m.url;
  if (sorted.length === 0) return { generation, slots, owners: [], standbys: [], endpoints };

  const k = sorted.length;
  const floor = Math.floor(slots / k);
  const extra = slots - floor * k; // how many members may carry floor + 1
  const load = new Map(sorted.map((m) => [m.instance, 0]));
  let atCeil = 0;
  const canTake = (instance: string) => {
    const l = load.get(instance)!;
    return l < floor || (l === floor && atCeil < extra);
  };
  const take = (instance: string) => {
    const l = load.get(instance)!;
    if (l === floor) atCeil++;
    load.set(instance, l + 1);
  };
  const owners: (string | undefined)[] = new Array(slots).fill(undefined);
  const previousOwner = (s: number) => sorted.find((m) => m.active.includes(s))?.instance;
  const holdsStandby = (instance: string, s: number) =>
    sorted.find((m) => m.instance === instance)!.standby.includes(s);

  // 1. Sticky: slots stay with their previous owner while the balance allows.
  for (let s = 0; s < slots; s++) {
    const prev = previousOwner(s);
    if (prev !== undefined && canTake(prev)) {
      owners[s] = prev;
      take(prev);
    }
  }
  // 2. The rest: warm copies first, then the least loaded member.
  for (let s = 0; s < slots; s++) {
    if (owners[s] !== undefined) continue;
    const candidates = sorted.filter((m) => canTake(m.instance));
    candidates.sort((a, b) => {
      const wa = holdsStandby(a.instance, s) ? 0 : 1;
      const wb = holdsStandby(b.instance, s) ? 0 : 1;
      return wa - wb || load.get(a.instance)! - load.get(b.instance)!;
    });
    const chosen = candidates[0]!.instance;
    owners[s] = chosen;
    take(chosen);
  }

  // Standbys: other members, those with a warm copy (standby or previous owner) first, then the least burdened.
  const replicas = Math.min(Math.max(0, standbyReplicas), k - 1);
  const standbyLoad = new Map(sorted.map((m) => [m.instance, 0]));
  const standbys: string[][] = [];
  for (let s = 0; s < slots; s++) {
    const chosen: string[] = [];
    for (let r = 0; r < replicas; r++) {
      const candidates = sorted.filter((m) => m.instance !== owners[s] && !chosen.includes(m.instance));
      candidates.sort((a, b) => {
        const wa = a.standby.includes(s) || a.active.includes(s) ? 0 : 1;
        const wb = b.standby.includes(s) || b.active.includes(s) ? 0 : 1;
        return wa - wb || standbyLoad.get(a.instance)! - standbyLoad.get(b.instance)!;
      });
      const c = candidates[0]!.instance;
      chosen.push(c);
      standbyLoad.set(c, standbyLoad.get(c)! + 1);
    }
    standbys.push(chosen);
  }
  return { generation, slots, owners: owners as string[], standbys, endpoints };
}
