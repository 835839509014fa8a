/** ARRAY, MAP and STRUCT functions, including the lambda functions TRANSFORM, FILTER and REDUCE. */
import type { SqlType } from "../types/sqltype.ts";
import { compareValues, formatValue, hashKey } from "../types/values.ts";
import { type Resolved, scalar } from "./define.ts";
import type { LambdaValue, ScalarFunction } from "./types.ts";

const CAT = "ARRAY";
const MCAT = "MAP";

const elemType = (r: Resolved, i = 0): SqlType => {
  const t = r.argTypes[i]!;
  return t.kind === "ARRAY" ? t.element : t;
};

/** Distinct elements in first-seen order by value equality. */
function distinct(t: SqlType): (xs: unknown[]) => unknown[] {
  const key = hashKey(t);
  return (xs) => {
    const seen = new Set<unknown>();
    const out: unknown[] = [];
    for (const x of xs) {
      const k = key(x);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(x);
      }
    }
    return out;
  };
}

const arr = (name: string, description: string, o: Parameters<typeof scalar>[0]["overloads"]): ScalarFunction =>
  scalar({ name, category: CAT, description, overloads: o });

export const collectionFunctions: readonly ScalarFunction[] = [
  arr("ARRAY_LENGTH", "The number of elements.", [
    {
      params: ["ARRAY<T> list"],
      returns: "INTEGER",
      impl: (a: unknown[]) => a.length,
    },
  ]),
  arr("ARRAY_CONTAINS", "Whether the array contains the value (NULL matches NULL).", [
    {
      params: ["ARRAY<T> list", "T val"],
      returns: "BOOLEAN",
      nulls: "call",
      make: (r) => {
        const key = hashKey(r.argTypes[1]!);
        return (a: unknown[] | null, v: unknown) => (a === null ? false : a.some((x) => key(x) === key(v)));
      },
    },
  ]),
  arr("ARRAY_JOIN", "Joins the elements' text with a delimiter (default `,`).", [
    {
      params: ["ARRAY<T> list"],
      returns: "STRING",
      make: (r) => join(elemType(r), ","),
    },
    {
      params: ["ARRAY<T> list", "STRING delimiter"],
      returns: "STRING",
      nulls: "call",
      make: (r) => {
        const f = formatValue(elemType(r));
        return (a: unknown[] | null, d: string | null) =>
          a === null ? null : a.map((x) => (x === null ? "null" : f(x))).join(d ?? "");
      },
    },
  ]),
  arr("ARRAY_SORT", "Sorts the elements ASC (default) or DESC; NULLs go last.", [
    {
      params: ["ARRAY<T> list"],
      returns: "ARRAY<T>",
      make: (r) => sorter(elemType(r), 1),
    },
    {
      params: ["ARRAY<T> list", "STRING direction"],
      returns: "ARRAY<T>",
      make: (r) => {
        const asc = sorter(elemType(r), 1);
        const desc = sorter(elemType(r), -1);
        return (a: unknown[], d: string) =>
          d.toUpperCase() === "DESC" ? desc(a) : d.toUpperCase() === "ASC" ? asc(a) : null;
      },
    },
  ]),
  arr("ARRAY_DISTINCT", "The distinct elements in first-seen order.", [
    {
      params: ["ARRAY<T> list"],
      returns: "ARRAY<T>",
      make: (r) => distinct(elemType(r)),
    },
  ]),
  arr("ARRAY_MAX", "The largest non-NULL element.", [
    {
      params: ["ARRAY<T> list"],
      returns: "T",
      make: (r) => extreme(elemType(r), 1),
    },
  ]),
  arr("ARRAY_MIN", "The smallest non-NULL element.", [
    {
      params: ["ARRAY<T> list"],
      returns: "T",
      make: (r) => extreme(elemType(r), -1),
    },
  ]),
  arr("ARRAY_CONCAT", "The elements of both arrays; NULL only when both are NULL.", [
    {
      params: ["ARRAY<T> a", "ARRAY<T> b"],
      returns: "ARRAY<T>",
      nulls: "call",
      impl: (a: unknown[] | null, b: unknown[] | null) => (a === null ? b : b === null ? a : a.concat(b)),
    },
  ]),
  arr("ARRAY_UNION", "The distinct elements of both arrays.", [
    {
      params: ["ARRAY<T> a", "ARRAY<T> b"],
      returns: "ARRAY<T>",
      make: (r) => {
        const d = distinct(elemType(r));
        return (a: unknown[], b: unknown[]) => d(a.concat(b));
      },
    },
  ]),
  arr("ARRAY_INTERSECT", "The distinct elements present in both arrays.", [
    {
      params: ["ARRAY<T> a", "ARRAY<T> b"],
      returns: "ARRAY<T>",
      make: (r) => {
        const d = distinct(elemType(r));
        const key = hashKey(elemType(r));
        return (a: unknown[], b: unknown[]) => {
          const kb = new Set(b.map(key));
          return d(a.filter((x) => kb.has(key(x))));
        };
      },
    },
  ]),
  arr("ARRAY_EXCEPT", "The distinct elements of the first array absent from the second.", [
    {
      params: ["ARRAY<T> a", "ARRAY<T> b"],
      returns: "ARRAY<T>",
      make: (r) => {
        const d = distinct(elemType(r));
        const key = hashKey(elemType(r));
        return (a: unknown[], b: unknown[]) => {
          const kb = new Set(b.map(key));
          return d(a.filter((x) => !kb.has(key(x))));
        };
      },
    },
  ]),
  arr("ARRAY_REMOVE", "The array without the elements equal to the value.", [
    {
      params: ["ARRAY<T> list", "T val"],
      returns: "ARRAY<T>",
      nulls: "call",
      make: (r) => {
        const key = hashKey(elemType(r));
        return (a: unknown[] | null, v: unknown) => (a === null ? null : a.filter((x) => key(x) !== key(v)));
      },
    },
  ]),
  arr("SLICE", "The elements from `from` to `to` (1-based, inclusive).", [
    {
      params: ["ARRAY<T> list", "INTEGER from", "INTEGER to"],
      returns: "ARRAY<T>",
      impl: (a: unknown[], f: number, t: number) => (f < 1 || t < f ? null : a.slice(f - 1, t)),
    },
  ]),
  arr("GENERATE_SERIES", "The integers from `start` to `end` inclusive, by `step` (default 1).", [
    {
      params: ["INTEGER start", "INTEGER end"],
      returns: "ARRAY<INTEGER>",
      impl: (s: number, e: number) => series(s, e, s <= e ? 1 : -1),
    },
    {
      params: ["INTEGER start", "INTEGER end", "INTEGER step"],
      returns: "ARRAY<INTEGER>",
      impl: series,
    },
    {
      params: ["BIGINT start", "BIGINT end"],
      returns: "ARRAY<BIGINT>",
      impl: (s: number, e: number) => series(s, e, s <= e ? 1 : -1),
    },
    {
      params: ["BIGINT start", "BIGINT end", "INTEGER step"],
      returns: "ARRAY<BIGINT>",
      impl: series,
    },
  ]),
  arr("ENTRIES", "The map's entries as STRUCT<K, V>, sorted by key when `sorted` is true.", [
    {
      params: ["MAP<STRING, T> map", "BOOLEAN sorted"],
      returns: (r) => ({
        kind: "ARRAY",
        element: {
          kind: "STRUCT",
          fields: [
            { name: "K", type: { kind: "STRING" } },
            { name: "V", type: r.bindings.get("T")! },
          ],
        },
      }),
      impl: (m: Map<string, unknown>, sorted: boolean) => {
        const es = [...m.entries()].map(([K, V]) => ({ K, V }));
        return sorted ? es.sort((a, b) => (a.K < b.K ? -1 : a.K > b.K ? 1 : 0)) : es;
      },
    },
  ]),
  arr("TRANSFORM", "Applies a lambda to each element (or to each map entry's key and value).", [
    {
      params: ["ARRAY<T> list", "FN(T) -> U fn"],
      returns: "ARRAY<U>",
      impl: (a: unknown[], f: LambdaValue) => a.map((x) => f(x)),
    },
    {
      params: ["MAP<K, V> map", "FN(K, V) -> A keyFn", "FN(K, V) -> B valueFn"],
      returns: "MAP<A, B>",
      impl: (m: Map<unknown, unknown>, kf: LambdaValue, vf: LambdaValue) => {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of m) out.set(kf(k, v), vf(k, v));
        return out;
      },
    },
  ]),
  arr("FILTER", "The elements (or map entries) for which the lambda is true.", [
    {
      params: ["ARRAY<T> list", "FN(T) -> BOOLEAN fn"],
      returns: "ARRAY<T>",
      impl: (a: unknown[], f: LambdaValue) => a.filter((x) => f(x) === true),
    },
    {
      params: ["MAP<K, V> map", "FN(K, V) -> BOOLEAN fn"],
      returns: "MAP<K, V>",
      impl: (m: Map<unknown, unknown>, f: LambdaValue) => new Map([...m].filter(([k, v]) => f(k, v) === true)),
    },
  ]),
  arr("REDUCE", "Folds the elements (or map entries) into a state with a lambda, from an initial state.", [
    {
      params: ["ARRAY<T> list", "S initial", "FN(S, T) -> S fn"],
      returns: "S",
      nulls: "call",
      impl: (a: unknown[] | null, s: unknown, f: LambdaValue) =>
        a === null || s === null ? s : a.reduce((acc: unknown, x) => f(acc, x), s),
    },
    {
      params: ["MAP<K, V> map", "S initial", "FN(S, K, V) -> S fn"],
      returns: "S",
      nulls: "call",
      impl: (m: Map<unknown, unknown> | null, s: unknown, f: LambdaValue) => {
        if (m === null || s === null) return s;
        let acc: unknown = s;
        for (const [k, v] of m) acc = f(acc, k, v);
        return acc;
      },
    },
  ]),
  scalar({
    name: "MAP_KEYS",
    category: MCAT,
    description: "The map's keys.",
    overloads: [
      {
        params: ["MAP<K, V> map"],
        returns: "ARRAY<K>",
        impl: (m: Map<unknown, unknown>) => [...m.keys()],
      },
    ],
  }),
  scalar({
    name: "MAP_VALUES",
    category: MCAT,
    description: "The map's values.",
    overloads: [
      {
        params: ["MAP<K, V> map"],
        returns: "ARRAY<V>",
        impl: (m: Map<unknown, unknown>) => [...m.values()],
      },
    ],
  }),
  scalar({
    name: "MAP_UNION",
    category: MCAT,
    description: "The entries of both maps; the second wins on equal keys. NULL only when both are NULL.",
    overloads: [
      {
        params: ["MAP<K, V> a", "MAP<K, V> b"],
        returns: "MAP<K, V>",
        nulls: "call",
        impl: (a: Map<unknown, unknown> | null, b: Map<unknown, unknown> | null) =>
          a === null ? b : b === null ? a : new Map([...a, ...b]),
      },
    ],
  }),
  scalar({
    name: "AS_MAP",
    category: MCAT,
    description: "A map from an array of keys and an array of values (extra keys or values are ignored).",
    overloads: [
      {
        params: ["ARRAY<STRING> keys", "ARRAY<T> values"],
        returns: "MAP<STRING, T>",
        impl: (ks: unknown[], vs: unknown[]) => {
          const m = new Map<unknown, unknown>();
          const n = Math.min(ks.length, vs.length);
          for (let i = 0; i < n; i++) m.set(ks[i], vs[i]);
          return m;
        },
      },
    ],
  }),
  scalar({
    name: "ELT",
    category: "STRING",
    description: "The n-th (1-based) of the strings; NULL when out of range.",
    overloads: [
      {
        params: ["INTEGER n", "STRING args..."],
        returns: "STRING",
        nulls: "call",
        impl: (n: number | null, ...xs: unknown[]) => (n === null || n < 1 || n > xs.length ? null : xs[n - 1]),
      },
    ],
  }),
  scalar({
    name: "FIELD",
    category: "STRING",
    description: "The 1-based position of the string among the others; 0 when absent or NULL.",
    overloads: [
      {
        params: ["STRING str", "STRING args..."],
        returns: "INTEGER",
        nulls: "call",
        impl: (s: string | null, ...xs: unknown[]) => (s === null ? 0 : xs.indexOf(s) + 1),
      },
    ],
  }),
];

function join(t: SqlType, d: string): (a: unknown[]) => string {
  const f = formatValue(t);
  return (a) => a.map((x) => (x === null ? "null" : f(x))).join(d);
}

function sorter(t: SqlType, dir: 1 | -1): (a: unknown[]) => unknown[] {
  const cmp = compareValues(t);
  return (a) => {
    const vals: unknown[] = a.filter((x) => x !== null);
    vals.sort((x, y) => dir * cmp(x, y));
    for (let i = vals.length; i < a.length; i++) vals.push(null);
    return vals;
  };
}

function extreme(t: SqlType, sign: 1 | -1): (a: unknown[]) => unknown {
  const cmp = compareValues(t);
  return (a) => {
    let best: unknown = null;
    for (const x of a) if (x !== null && (best === null || sign * cmp(x, best) > 0)) best = x;
    return best;
  };
}

function series(start: number, end: number, step: number): number[] {
  if (step === 0) throw new Error("GENERATE_SERIES step cannot be zero");
  if ((end - start) * step < 0) throw new Error("GENERATE_SERIES step has the wrong sign");
  const out: number[] = [];
  for (let i = start; step > 0 ? i <= end : i >= end; i += step) out.push(i);
  return out;
}
