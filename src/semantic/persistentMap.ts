/**
 * An immutable map whose `set` and `delete` return a new map that shares almost everything with the old one,
 * so a script of n statements builds its n catalogs in about O(n·√n) instead of copying a Map per statement
 * (O(n²): 8,000 CREATE statements took a minute). Iteration order is a `Map`'s: insertion order, a `set` of
 * an existing key keeps its place.
 *
 * Representation: a `Map` nobody mutates (`base`) plus a chain of changes, newest first. A lookup walks the
 * chain, then the base; when the chain grows longer than about √size, the map folds it into a new base.
 * Folding (and iteration, which folds first) only replaces a node's representation, never its contents.
 */
const DELETED: unique symbol = Symbol("deleted");
const UNCHANGED: unique symbol = Symbol("unchanged");

interface Change<K, V> {
  readonly key: K;
  readonly value: V | typeof DELETED;
  readonly next: Change<K, V> | undefined;
}

export class PersistentMap<K, V> implements ReadonlyMap<K, V> {
  private constructor(
    private base: ReadonlyMap<K, V>,
    private changes: Change<K, V> | undefined,
    private chain: number,
    readonly size: number,
  ) {}

  static of<K, V>(entries: Iterable<readonly [K, V]> = []): PersistentMap<K, V> {
    const base = new Map<K, V>(entries);
    return new PersistentMap(base, undefined, 0, base.size);
  }

  get(key: K): V | undefined {
    const v = this.changed(key);
    return v === UNCHANGED ? this.base.get(key) : v === DELETED ? undefined : v;
  }

  has(key: K): boolean {
    const v = this.changed(key);
    return v === UNCHANGED ? this.base.has(key) : v !== DELETED;
  }

  set(key: K, value: V): PersistentMap<K, V> {
    const size = this.has(key) ? this.size : this.size + 1;
    return new PersistentMap(this.base, { key, value, next: this.changes }, this.chain + 1, size).compacted();
  }

  delete(key: K): PersistentMap<K, V> {
    if (!this.has(key)) return this;
    return new PersistentMap(
      this.base,
      { key, value: DELETED, next: this.changes },
      this.chain + 1,
      this.size - 1,
    ).compacted();
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

  /** The newest change of `key` in the chain: its value, DELETED, or UNCHANGED (the base has the answer). */
  private changed(key: K): V | typeof DELETED | typeof UNCHANGED {
    for (let c = this.changes; c !== undefined; c = c.next) if (c.key === key) return c.value;
    return UNCHANGED;
  }

  private compacted(): this {
    if (this.chain * this.chain > Math.max(256, this.size)) this.flat();
    return this;
  }

  /** The contents as one Map; afterwards this node is that Map with no chain. */
  private flat(): ReadonlyMap<K, V> {
    if (this.changes === undefined) return this.base;
    const pending: Change<K, V>[] = [];
    for (let c: Change<K, V> | undefined = this.changes; c !== undefined; c = c.next) pending.push(c);
    const m = new Map(this.base);
    for (let i = pending.length - 1; i >= 0; i--) {
      const c = pending[i]!;
      if (c.value === DELETED) m.delete(c.key);
      else m.set(c.key, c.value);
    }
    this.base = m;
    this.changes = undefined;
    this.chain = 0;
    return m;
  }
}
