/**
 * The catalog's persistent map behaves as a `Map` copied before each change: same entries, same insertion
 * order (a `set` of an existing key keeps its place), and old versions never change.
 */
import { describe, expect, it } from "vitest";
import { PersistentMap } from "../../src/semantic/persistentMap.ts";
import { rng } from "../../scripts/random.ts";

describe("PersistentMap", () => {
  it("agrees with a copied Map over random sets and deletes, old versions included", () => {
    const random = rng(7);
    // Few distinct keys so sets overwrite and deletes hit; some long ones, some that differ by one character.
    // The last six are three pairs whose 32-bit hashes are equal.
    const keys = [
      ...Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `k${i}` : `key_${"x".repeat(i % 40)}${i}`)),
      ...["c693596", "c1170850", "c693597", "c1170851", "c693594", "c1170852"],
    ];
    let p = PersistentMap.of<string, number>([["start", -1]]);
    let m = new Map<string, number>([["start", -1]]);
    const versions: [PersistentMap<string, number>, Map<string, number>][] = [];
    for (let step = 0; step < 5000; step++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      if (random() < 0.35) {
        p = p.delete(key);
        m = new Map(m);
        m.delete(key);
      } else {
        p = p.set(key, step);
        m = new Map(m).set(key, step);
      }
      if (step % 97 === 0) versions.push([p, m]);
      // One expect per step (vitest's are slow): size, the value and presence of the key changed.
      expect([p.size, p.get(key), p.has(key)]).toEqual([m.size, m.get(key), m.has(key)]);
    }
    for (const [pv, mv] of versions) {
      expect([...pv]).toEqual([...mv]);
      expect([...pv.keys()]).toEqual([...mv.keys()]);
      expect(keys.map((k) => pv.get(k))).toEqual(keys.map((k) => mv.get(k)));
    }
  });

  it("keeps every key of a large map reachable after deleting half (collapsing branches)", () => {
    let p = PersistentMap.of<string, number>();
    for (let i = 0; i < 20_000; i++) p = p.set(`s${i}`, i);
    for (let i = 0; i < 20_000; i += 2) p = p.delete(`s${i}`);
    expect(p.size).toBe(10_000);
    const all = Array.from({ length: 20_000 }, (_, i) => i);
    expect(all.map((i) => p.get(`s${i}`))).toEqual(all.map((i) => (i % 2 === 0 ? undefined : i)));
    expect([...p.values()]).toEqual(Array.from({ length: 10_000 }, (_, i) => 2 * i + 1));
  });
});
