/** User functions the tests of test/functions/user.test.ts load (one of each kind, generics, variadic). */
import type { UserAggregate, UserScalar, UserTable } from "../../../src/index.ts";

export const MASK_TAIL = {
  kind: "scalar",
  name: "mask_tail",
  description: "Keeps the last n characters, stars the others.",
  params: ["STRING s", "INTEGER n"],
  returns: "STRING",
  fn: (s: string, n: number) => "*".repeat(Math.max(0, s.length - n)) + s.slice(Math.max(0, s.length - n)),
} satisfies UserScalar;

/** Generic and variadic: the first non-NULL argument, of their common type. */
export const FIRST_SET = {
  kind: "scalar",
  name: "FIRST_SET",
  params: ["T values..."],
  returns: "T",
  nulls: "call",
  fn: (...values: unknown[]) => values.find((v) => v !== null) ?? null,
} satisfies UserScalar;

/** Two overloads; the second builds a MAP. */
export const PAIR = {
  kind: "scalar",
  name: "PAIR",
  overloads: [
    { params: ["STRING k"], returns: "MAP<STRING, INTEGER>", fn: (k: string) => new Map([[k, 1]]) },
    {
      params: ["K k", "V v"],
      returns: "STRUCT<key K, value V>",
      fn: (k: unknown, v: unknown) => ({ KEY: k, VALUE: v }),
    },
  ],
} satisfies UserScalar;

/** Fails for negative numbers (the query must go on). */
export const CHECKED_SQRT = {
  kind: "scalar",
  name: "CHECKED_SQRT",
  params: ["DOUBLE x"],
  returns: "DOUBLE",
  fn: (x: number) => {
    if (x < 0) throw new Error(`negative input ${x}`);
    return Math.sqrt(x);
  },
} satisfies UserScalar;

/** Declares INTEGER, returns a string for 13. */
export const LIAR = {
  kind: "scalar",
  name: "LIAR",
  params: ["INTEGER x"],
  returns: "INTEGER",
  fn: (x: number) => (x === 13 ? "thirteen" : x),
} satisfies UserScalar;

let calls = 0;
/** Not deterministic: a counter. */
export const TICK = {
  kind: "scalar",
  name: "TICK",
  params: ["INTEGER x"],
  returns: "INTEGER",
  fn: (x: number) => x + calls++,
} satisfies UserScalar;

/** One row per word. */
export const WORDS = {
  kind: "table",
  name: "WORDS",
  params: ["STRING text"],
  returns: "STRING",
  fn: (text: string) => text.split(/\s+/).filter(Boolean),
} satisfies UserTable;

type Bag = Map<string, number>;
const put = (b: Bag, k: string | null, n: number): void => {
  if (k === null) return;
  const c = (b.get(k) ?? 0) + n;
  if (c > 0) b.set(k, c);
  else b.delete(k);
};

/** A multiset of strings: with undo (tables) and merge (sessions). */
export const BAG = {
  kind: "aggregate",
  name: "BAG",
  params: ["STRING item"],
  state: "MAP<STRING, BIGINT>",
  returns: "MAP<STRING, BIGINT>",
  initialize: (): Bag => new Map(),
  add: (b: Bag, item: string | null) => put(b, item, 1),
  undo: (b: Bag, item: string | null) => put(b, item, -1),
  merge: (a: Bag, b: Bag) => {
    for (const [k, n] of b) put(a, k, n);
    return a;
  },
} satisfies UserAggregate<Bag>;

/** STRUCT state, a result derived from it; throws on the item 'boom'. */
export const SPAN = {
  kind: "aggregate",
  name: "SPAN",
  params: ["STRING item", "INTEGER n"],
  state: "STRUCT<lo INTEGER, hi INTEGER, items ARRAY<STRING>>",
  returns: "STRING",
  initialize: () => ({ LO: null as number | null, HI: null as number | null, ITEMS: [] as string[] }),
  add: (s: { LO: number | null; HI: number | null; ITEMS: string[] }, item: string, n: number) => {
    if (item === "boom") throw new Error("boom is not an item");
    s.LO = s.LO === null ? n : Math.min(s.LO, n);
    s.HI = s.HI === null ? n : Math.max(s.HI, n);
    s.ITEMS.push(item);
  },
  result: (s: { LO: number | null; HI: number | null; ITEMS: string[] }) => `${s.LO}..${s.HI} ${s.ITEMS.join(",")}`,
} satisfies UserAggregate;
