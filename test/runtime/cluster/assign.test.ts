import { describe, expect, it } from "vitest";
import { assignSlots, roleOf, type ClusterMap, type MemberState } from "../../../runtime/cluster/assign.ts";

const member = (instance: string, over: Partial<MemberState> = {}): MemberState => ({
  instance,
  active: [],
  standby: [],
  slots: 8,
  generation: 0,
  ...over,
});
const loads = (m: ClusterMap) => {
  const counts: Record<string, number> = {};
  for (const o of m.owners) counts[o] = (counts[o] ?? 0) + 1;
  return Object.values(counts).sort();
};
/** The members' states after applying `m` (what they report at the next join). */
const after = (m: ClusterMap, instances: string[]): MemberState[] =>
  instances.map((i) =>
    member(i, {
      active: m.owners.flatMap((o, s) => (o === i ? [s] : [])),
      standby: m.standbys.flatMap((list, s) => (list.includes(i) ? [s] : [])),
      generation: m.generation,
    }),
  );

describe("slot assignment", () => {
  it("balances 8 slots over 3 instances and gives each slot a standby elsewhere", () => {
    const m = assignSlots([member("c"), member("a"), member("b")], 1);
    expect(m.slots).toBe(8);
    expect(loads(m)).toEqual([2, 3, 3]);
    for (let s = 0; s < 8; s++) {
      expect(m.standbys[s]).toHaveLength(1);
      expect(m.standbys[s]![0]).not.toBe(m.owners[s]);
    }
    expect(m.generation).toBe(1);
    // Deterministic: the order members are listed in does not matter.
    expect(assignSlots([member("a"), member("b"), member("c")], 1)).toEqual(m);
  });

  it("is sticky: when an instance leaves, only its slots move, to their standby holders", () => {
    const first = assignSlots([member("a"), member("b"), member("c")], 1);
    const states = after(first, ["a", "b", "c"]).filter((s) => s.instance !== "c");
    const second = assignSlots(states, 1);
    expect(loads(second)).toEqual([4, 4]);
    for (let s = 0; s < 8; s++) {
      if (first.owners[s] !== "c") expect(second.owners[s]).toBe(first.owners[s]);
      else expect(second.owners[s]).toBe(first.standbys[s]![0]);
    }
    expect(second.generation).toBe(first.generation + 1);
    // A third instance joining takes slots without moving more than it needs.
    const third = assignSlots([...after(second, ["a", "b"]), member("d")], 1);
    expect(loads(third)).toEqual([2, 3, 3]);
    expect(third.owners.filter((o, s) => o !== second.owners[s] && o !== "d")).toEqual([]);
  });

  it("maps partitions beyond the slots onto them, and roles follow", () => {
    const m = assignSlots([member("a", { slots: 2 }), member("b", { slots: 4 })], 0);
    expect(m.slots).toBe(4);
    for (let p = 0; p < 12; p++) {
      const owner = m.owners[p % 4]!;
      expect(roleOf(m, owner, p)).toBe("active");
      expect(roleOf(m, owner === "a" ? "b" : "a", p)).toBe("none");
    }
  });
});
