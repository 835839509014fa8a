/**
 * An immutable map whose `set` and `delete` return a new map that shares almost everything with the old one:
 * a hash array mapped trie (32 branches a level), so a change copies at most one node per level, O(log₃₂ n),
 * and a script of n statements builds its n catalogs in O(n log n) time and space. (The map it replaces, a
 * `Map` plus a chain of changes folded every √n, was O(n·√n) and kept a copy of the whole map per fold alive
 * in the catalogs of earlier statements: most of a megabyte script's compile time went to it and the
 * collector.) Iteration order is a `Map`'s: insertion order, a `set` of an existing key keeps its place; each
 * entry carries its insertion number, and iterating sorts by it once per map (iteration is rare: hints,
 * DROP, SHOW).
 */

/** A key and its value; `order` is when the key was first inserted (in this map's history). */
interface Leaf<V> {
  readonly key: string;
  readonly hash: number;
  readonly value: V;
  readonly order: number;
}
/** Keys whose hashes are equal in all 32 bits. */
interface Collision<V> {
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}
/** A level of the trie: `bitmap` says which of the 32 branches exist; `slots` holds them in branch order. */
interface Branch<V> {
  readonly bitmap: number;
  readonly slots: readonly Slot<V>[];
}
type Slot<V> = Leaf<V> | Collision<V> | Branch<V>;

const BITS = 5;
const MASK = (1 << BITS) - 1;
const EMPTY: Branch<never> = { bitmap: 0, slots: [] };

const isLeaf = <V>(s: Slot<V>): s is Leaf<V> => "key" in s;
const isCollision = <V>(s: Slot<V>): s is Collision<V> => "leaves" in s;

/** FNV-1a over the UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

function lookup<V>(node: Branch<V>, key: string, hash: number): Leaf<V> | undefined {
  for (let shift = 0; ; shift += BITS) {
    const bit = 1 << ((hash >>> shift) & MASK);
    if ((node.bitmap & bit) === 0) return undefined;
    const slot = node.slots[popcount(node.bitmap & (bit - 1))]!;
    if (isLeaf(slot)) return slot.key === key ? slot : undefined;
    if (isCollision(slot)) return slot.hash === hash ? slot.leaves.find((l) => l.key === key) : undefined;
    node = slot;
  }
}

/** A branch (at `shift`) holding two leaves or collisions of different hashes. */
function pair<V>(a: Leaf<V> | Collision<V>, b: Leaf<V> | Collision<V>, shift: number): Branch<V> {
  const ia = (a.hash >>> shift) & MASK;
  const ib = (b.hash >>> shift) & MASK;
  if (ia === ib) return { bitmap: 1 << ia, slots: [pair(a, b, shift + BITS)] };
  return { bitmap: (1 << ia) | (1 << ib), slots: ia < ib ? [a, b] : [b, a] };
}

function withSlot<V>(slots: readonly Slot<V>[], i: number, slot: Slot<V>): Slot<V>[] {
  const copy = slots.slice();
  copy[i] = slot;
  return copy;
}

/** `node` with `leaf` in place of the leaf of the same key, or added. */
function insert<V>(node: Branch<V>, leaf: Leaf<V>, shift: number): Branch<V> {
  const bit = 1 << ((leaf.hash >>> shift) & MASK);
  const i = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    const slots = node.slots.slice();
    slots.splice(i, 0, leaf);
    return { bitmap: node.bitmap | bit, slots };
  }
  const slot = node.slots[i]!;
  let next: Slot<V>;
  if (isLeaf(slot)) {
    if (slot.key === leaf.key) next = leaf;
    else if (slot.hash === leaf.hash) next = { hash: leaf.hash, leaves: [slot, leaf] };
    else next = pair(slot, leaf, shift + BITS);
  } else if (isCollision(slot)) {
    if (slot.hash === leaf.hash) {
      const at = slot.leaves.findIndex((l) => l.key === leaf.key);
      next = { hash: slot.hash, leaves: at < 0 ? [...slot.leaves, leaf] : slot.leaves.with(at, leaf) };
    } else next = pair(slot, leaf, shift + BITS);
  } else next = insert(slot, leaf, shift + BITS);
  return { bitmap: node.bitmap, slots: withSlot(node.slots, i, next) };
}

/** `node` without `key` (which it holds); a branch left with one leaf or collision collapses into it. */
function remove<V>(node: Branch<V>, key: string, hash: number, shift: number): Slot<V> | undefined {
  const bit = 1 << ((hash >>> shift) & MASK);
  const i = popcount(node.bitmap & (bit - 1));
  const slot = node.slots[i]!;
  let next: Slot<V> | undefined;
  if (isLeaf(slot)) next = undefined;
  else if (isCollision(slot)) {
    const rest = slot.leaves.filter((l) => l.key !== key);
    next = rest.length === 1 ? rest[0] : { hash, leaves: rest };
  } else next = remove(slot, key, hash, shift + BITS);
  if (next === undefined) {
    const bitmap = node.bitmap & ~bit;
    if (bitmap === 0) return undefined;
    const slots = node.slots.filter((_, j) => j !== i);
    // A lone leaf moves up (not at the root, which stays a branch).
    if (shift > 0 && slots.length === 1 && !isBranch(slots[0]!)) return slots[0];
    return { bitmap, slots };
  }
  if (shift > 0 && node.slots.length === 1 && !isBranch(next)) return next;
  return { bitmap: node.bitmap, slots: withSlot(node.slots, i, next) };
}

const isBranch = <V>(s: Slot<V>): s is Branch<V> => "bitmap" in s;

function collect<V>(slot: Slot<V>, into: Leaf<V>[]): void {
  if (isLeaf(slot)) into.push(slot);
  else if (isCollision(slot)) into.push(...slot.leaves);
  else for (const s of slot.slots) collect(s, into);
}

export class PersistentMap<K extends string, V> implements ReadonlyMap<K, V> {
  /** The entries in insertion order, computed on the first iteration. */
  private ordered: ReadonlyMap<K, V> | undefined;

  private constructor(
    private readonly root: Branch<V>,
    readonly size: number,
    /** The insertion number the next new key gets. */
    private readonly next: number,
  ) {}

  static of<K extends string, V>(entries: Iterable<readonly [K, V]> = []): PersistentMap<K, V> {
    let m = new PersistentMap<K, V>(EMPTY, 0, 0);
    for (const [k, v] of entries) m = m.set(k, v);
    return m;
  }

  get(key: K): V | undefined {
    return lookup(this.root, key, hashOf(key))?.value;
  }

  has(key: K): boolean {
    return lookup(this.root, key, hashOf(key)) !== undefined;
  }

  set(key: K, value: V): PersistentMap<K, V> {
    const hash = hashOf(key);
    const old = lookup(this.root, key, hash);
    const leaf: Leaf<V> = { key, hash, value, order: old?.order ?? this.next };
    const root = insert(this.root, leaf, 0);
    return old === undefined
      ? new PersistentMap(root, this.size + 1, this.next + 1)
      : new PersistentMap(root, this.size, this.next);
  }

  delete(key: K): PersistentMap<K, V> {
    const hash = hashOf(key);
    if (lookup(this.root, key, hash) === undefined) return this;
    const root = remove(this.root, key, hash, 0) as Branch<V> | undefined;
    return new PersistentMap(root ?? EMPTY, this.size - 1, this.next);
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.flat()) fn(v, k, this);
  }
  entries(): MapIterator<[K, V]> {
    return this.flat().entries();
  }
  keys(): MapIterator<K> {
    return this.flat().keys();
  }
  values(): MapIterator<V> {
    return this.flat().values();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.flat().entries();
  }

  /** The contents as a `Map` in insertion order, built on the first iteration. */
  private flat(): ReadonlyMap<K, V> {
    if (this.ordered === undefined) {
      const all: Leaf<V>[] = [];
      collect(this.root, all);
      all.sort((a, b) => a.order - b.order);
      this.ordered = new Map(all.map((l) => [l.key as K, l.value]));
    }
    return this.ordered;
  }
}
