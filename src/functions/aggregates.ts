/**
 * Aggregate functions. States hold only values `v8.serialize` keeps. `retract` is given where ksqlDB
 * supports table aggregation (an updated/deleted row is undone), `merge` where session windows need it.
 * Aggregates skip NULL inputs unless stated.
 */
import type { SqlType } from "../types/sqltype.ts";
import { type Long, addLongs, compareValues, hashKey, subtractLongs } from "../types/values.ts";
import { aggregate } from "./define.ts";
import type { Accumulator, AggregateFunction } from "./types.ts";

const CAT = "AGGREGATE";

const numOverloads = <S>(returns: (t: string) => string, mk: (t: SqlType, ret: SqlType) => Accumulator<S>) =>
  ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"].map((t) => ({
    params: [`${t} val`],
    returns: returns(t),
    make: (r: { argTypes: readonly SqlType[]; returnType: SqlType }) => mk(r.argTypes[0]!, r.returnType),
  }));

function sumAcc(t: SqlType): Accumulator<number | bigint> {
  if (t.kind === "DECIMAL") {
    return {
      init: () => 0n,
      add: (s, [v]) => (v === null ? s : (s as bigint) + (v as bigint)),
      retract: (s, [v]) => (v === null ? s : (s as bigint) - (v as bigint)),
      merge: (a, b) => (a as bigint) + (b as bigint),
      result: (s) => s,
    };
  }
  if (t.kind === "BIGINT") {
    // Java's long arithmetic, as ksqlDB's SUM: exact over the 64-bit range, wrapping beyond it.
    return {
      init: () => 0,
      add: (s, [v]) => (v === null ? s : addLongs(s, v as Long)),
      retract: (s, [v]) => (v === null ? s : subtractLongs(s, v as Long)),
      merge: addLongs,
      result: (s) => s,
    };
  }
  const wrap = t.kind === "INTEGER" ? (x: number) => x | 0 : (x: number) => x;
  return {
    init: () => 0,
    add: (s, [v]) => (v === null ? s : wrap((s as number) + (v as number))),
    retract: (s, [v]) => (v === null ? s : wrap((s as number) - (v as number))),
    merge: (a, b) => wrap((a as number) + (b as number)),
    result: (s) => s,
  };
}

const COUNT = aggregate({
  name: "COUNT",
  category: CAT,
  description: "Counts rows (COUNT(*)) or the non-NULL values of an expression.",
  overloads: [
    {
      params: [],
      returns: "BIGINT",
      impl: {
        init: () => 0,
        add: (s: number) => s + 1,
        retract: (s: number) => s - 1,
        merge: (a: number, b: number) => a + b,
        result: (s: number) => s,
      },
    },
    {
      params: ["ANY val"],
      returns: "BIGINT",
      impl: {
        init: () => 0,
        add: (s: number, [v]: readonly unknown[]) => (v === null ? s : s + 1),
        retract: (s: number, [v]: readonly unknown[]) => (v === null ? s : s - 1),
        merge: (a: number, b: number) => a + b,
        result: (s: number) => s,
      },
    },
  ],
});

const SUM = aggregate({
  name: "SUM",
  category: CAT,
  description: "Sums the non-NULL values; 0 when there are none.",
  overloads: numOverloads(
    (t) => (t === "DECIMAL" ? "DECIMAL" : t),
    (t) => sumAcc(t),
  ).map((o) =>
    o.params[0] === "DECIMAL val"
      ? {
          ...o,
          // ksqlDB widens the precision of a DECIMAL sum to the maximum it allows for the scale.
          returns: (r: { argTypes: readonly SqlType[] }) => {
            const t = r.argTypes[0] as Extract<SqlType, { kind: "DECIMAL" }>;
            return {
              kind: "DECIMAL" as const,
              precision: Math.max(t.precision, 38),
              scale: t.scale,
            };
          },
        }
      : o,
  ),
});

interface AvgState {
  sum: number | bigint;
  count: number;
}

const AVG = aggregate({
  name: "AVG",
  category: CAT,
  description: "The mean of the non-NULL values, as a DOUBLE; 0 when there are none.",
  overloads: numOverloads(
    () => "DOUBLE",
    (t): Accumulator<AvgState> => {
      const sum = sumAcc(t);
      const scale = t.kind === "DECIMAL" ? t.scale : 0;
      return {
        init: () => ({ sum: sum.init(), count: 0 }),
        add: (s, a) => (a[0] === null ? s : { sum: sum.add(s.sum, a), count: s.count + 1 }),
        retract: (s, a) => (a[0] === null ? s : { sum: sum.retract!(s.sum, a), count: s.count - 1 }),
        merge: (a, b) => ({
          sum: sum.merge!(a.sum, b.sum),
          count: a.count + b.count,
        }),
        result: (s) => (s.count === 0 ? 0 : Number(s.sum) / (scale ? 10 ** scale : 1) / s.count),
      };
    },
  ),
});

function minMax(name: "MIN" | "MAX"): AggregateFunction {
  const sign = name === "MIN" ? -1 : 1;
  return aggregate({
    name,
    category: CAT,
    description: `The ${name === "MIN" ? "smallest" : "largest"} non-NULL value; NULL when there is none.`,
    overloads: ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "DATE", "TIME", "TIMESTAMP", "BYTES"].map((t) => ({
      params: [`${t} val`],
      returns: t === "DECIMAL" ? "DECIMAL" : t,
      make: (r) => {
        const cmp = compareValues(r.argTypes[0]!);
        const pick = (a: unknown, b: unknown): unknown =>
          a === null ? b : b === null ? a : sign * cmp(b, a) > 0 ? b : a;
        return {
          init: () => null,
          add: (s: unknown, [v]: readonly unknown[]) => pick(s, v),
          merge: pick,
          result: (s: unknown) => s,
        };
      },
    })),
  });
}

const COUNT_DISTINCT = aggregate({
  name: "COUNT_DISTINCT",
  category: CAT,
  description: "Counts the distinct non-NULL values (exactly; ksqlDB estimates with HyperLogLog).",
  overloads: [
    {
      params: ["ANY val"],
      returns: "BIGINT",
      make: (r) => {
        const key = hashKey(r.argTypes[0]!);
        return {
          init: () => new Set<unknown>(),
          add: (s: Set<unknown>, [v]: readonly unknown[]) => (v === null ? s : s.add(key(v))),
          merge: (a: Set<unknown>, b: Set<unknown>) => {
            for (const x of b) a.add(x);
            return a;
          },
          result: (s: Set<unknown>) => s.size,
        };
      },
    },
  ],
});

/** ksqlDB's default limit on COLLECT_LIST / COLLECT_SET sizes (`ksql.functions.collect_list.limit`). */
const COLLECT_LIMIT = 1000;

const COLLECT_LIST = aggregate({
  name: "COLLECT_LIST",
  category: CAT,
  description: "All values (NULLs included) in arrival order, at most 1000.",
  overloads: [
    {
      params: ["T val"],
      returns: "ARRAY<T>",
      make: (r) => {
        const key = hashKey(r.argTypes[0]!);
        return {
          init: () => [] as unknown[],
          add: (s: unknown[], [v]: readonly unknown[]) => {
            if (s.length < COLLECT_LIMIT) s.push(v);
            return s;
          },
          retract: (s: unknown[], [v]: readonly unknown[]) => {
            const k = key(v);
            const i = s.findIndex((x) => key(x) === k);
            if (i >= 0) s.splice(i, 1);
            return s;
          },
          merge: (a: unknown[], b: unknown[]) => a.concat(b).slice(0, COLLECT_LIMIT),
          result: (s: unknown[]) => s.slice(),
        };
      },
    },
  ],
});

/** State of distinct values with their row counts (key → [value, count]), insertion ordered. */
type Counted = Map<unknown, [unknown, number]>;

/** An accumulator over distinct values counted per row: add, retract and session merge; at most `limit` values. */
function countedValues(
  key: (v: unknown) => unknown,
  limit: number,
  result: (s: Counted) => unknown,
): Accumulator<Counted> {
  return {
    init: () => new Map(),
    add: (s, [v]) => {
      const k = key(v);
      const e = s.get(k);
      if (e) e[1]++;
      else if (s.size < limit) s.set(k, [v, 1]);
      return s;
    },
    retract: (s, [v]) => {
      const k = key(v);
      const e = s.get(k);
      if (e && --e[1] <= 0) s.delete(k);
      return s;
    },
    merge: (a, b) => {
      for (const [k, e] of b) {
        const x = a.get(k);
        if (x) x[1] += e[1];
        else if (a.size < limit) a.set(k, [e[0], e[1]]);
      }
      return a;
    },
    result,
  };
}

const COLLECT_SET = aggregate({
  name: "COLLECT_SET",
  category: CAT,
  description: "The distinct values in first-arrival order, at most 1000.",
  overloads: [
    {
      params: ["T val"],
      returns: "ARRAY<T>",
      make: (r) => {
        // Distinct values in first-arrival order, counted so a retraction removes a value only with its last row.
        return countedValues(hashKey(r.argTypes[0]!), COLLECT_LIMIT, (s) => [...s.values()].map((e) => e[0]));
      },
    },
  ],
});

const TOPK_TYPES = ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "DATE", "TIME", "TIMESTAMP"];

function topk(name: "TOPK" | "TOPKDISTINCT"): AggregateFunction {
  const distinct = name === "TOPKDISTINCT";
  const base = aggregate({
    name,
    category: CAT,
    description: distinct
      ? "The k largest distinct non-NULL values, largest first."
      : "The k largest non-NULL values, largest first; with other columns, `TOPK(sort_col, col0, ..., k)` gives STRUCT<sort_col, col0, ...> rows ordered by sort_col.",
    overloads: [
      ...TOPK_TYPES.map((t) => ({
        params: [`${t} val`, "INTEGER k"],
        returns: (r: { argTypes: readonly SqlType[] }) => ({
          kind: "ARRAY" as const,
          element: r.argTypes[0]!,
        }),
        rowArgs: 1,
        make: (r: { argTypes: readonly SqlType[]; literal(i: number): unknown }) => {
          const k = Number(r.literal(1));
          const cmp = compareValues(r.argTypes[0]!);
          const key = hashKey(r.argTypes[0]!);
          const desc = (a: unknown, b: unknown) => cmp(b, a);
          const insert = (s: unknown[], v: unknown): unknown[] => {
            if (v === null) return s;
            if (distinct) {
              const kv = key(v);
              if (s.some((x) => key(x) === kv)) return s;
            }
            let i = s.length;
            while (i > 0 && cmp(s[i - 1], v) < 0) i--;
            if (i >= k) return s;
            s.splice(i, 0, v);
            if (s.length > k) s.length = k;
            return s;
          };
          return {
            init: () => [] as unknown[],
            add: (s: unknown[], [v]: readonly unknown[]) => insert(s, v),
            merge: (a: unknown[], b: unknown[]) => b.reduce(insert, a),
            result: (s: unknown[]) => s.slice().sort(desc),
          };
        },
      })),
      // ksqlDB's variadic TOPK (0.28): the other columns' values ride along with each sort value.
      ...(distinct
        ? []
        : TOPK_TYPES.map((t) => ({
            params: [`${t} sort_col`, "ANY cols...", "INTEGER k"],
            returns: (r: { argTypes: readonly SqlType[] }): SqlType => ({
              kind: "ARRAY",
              element: {
                kind: "STRUCT",
                fields: [
                  { name: "sort_col", type: r.argTypes[0]! },
                  ...r.argTypes.slice(1, -1).map((type, i) => ({ name: `col${i}`, type })),
                ],
              },
            }),
            make: (r: {
              argTypes: readonly SqlType[];
              literal(i: number): unknown;
            }): Accumulator<Record<string, unknown>[]> => {
              const n = r.argTypes.length;
              const k = Number(r.literal(n - 1));
              const cmp = compareValues(r.argTypes[0]!);
              const insert = (s: Record<string, unknown>[], row: Record<string, unknown>) => {
                const v = row.sort_col;
                if (v === null) return s;
                // Equal sort values keep their arrival order.
                let i = s.length;
                while (i > 0 && cmp(s[i - 1]!.sort_col, v) < 0) i--;
                if (i >= k) return s;
                s.splice(i, 0, row);
                if (s.length > k) s.length = k;
                return s;
              };
              return {
                init: () => [],
                add: (s, args) => {
                  const row: Record<string, unknown> = {
                    sort_col: args[0] ?? null,
                  };
                  for (let i = 1; i < n - 1; i++) row[`col${i - 1}`] = args[i] ?? null;
                  return insert(s, row);
                },
                merge: (a, b) => b.reduce(insert, a),
                result: (s) => s.slice(),
              };
            },
          }))),
    ],
  });
  if (distinct) return base;
  return {
    ...base,
    // The variadic overload's row arguments are all but the last (k, which must be a literal).
    resolve(args) {
      const r = base.resolve(args);
      if (!r.ok || args.length <= 2) return r;
      const last = args[args.length - 1]!;
      if (last.kind !== "value" || !last.literal)
        return {
          ok: false,
          message: `${name}: argument ${args.length} (k) must be a literal`,
        };
      return { ok: true, value: { ...r.value, rowArgCount: args.length - 1 } };
    },
  };
}

/** LATEST_BY_OFFSET / EARLIEST_BY_OFFSET: `(val [, n] [, ignoreNulls])`; with `n` the result is an array. */
function byOffset(name: "LATEST_BY_OFFSET" | "EARLIEST_BY_OFFSET"): AggregateFunction {
  const latest = name === "LATEST_BY_OFFSET";
  const single = (ignoreNulls: boolean): Accumulator<unknown[]> => ({
    // State: [] (nothing yet) or [value].
    init: () => [],
    add: (s, [v]) => (v === null && ignoreNulls ? s : latest || s.length === 0 ? [v] : s),
    // Session merge: `b` is the later session.
    merge: (a, b) => (latest ? (b.length ? b : a) : a.length ? a : b),
    result: (s) => (s.length ? s[0] : null),
  });
  const many = (n: number, ignoreNulls: boolean): Accumulator<unknown[]> => ({
    init: () => [],
    add: (s, [v]) => {
      if (v === null && ignoreNulls) return s;
      if (latest) {
        s.push(v);
        if (s.length > n) s.shift();
      } else if (s.length < n) s.push(v);
      return s;
    },
    merge: (a, b) => (latest ? a.concat(b).slice(-n) : a.concat(b).slice(0, n)),
    result: (s) => s.slice(),
  });
  return aggregate({
    name,
    category: CAT,
    description: `The ${latest ? "latest" : "earliest"} value by offset (NULLs ignored unless ignoreNulls is false); with n, the ${latest ? "latest" : "earliest"} n as an array.`,
    overloads: [
      { params: ["T val"], returns: "T", impl: single(true) },
      {
        params: ["T val", "BOOLEAN ignoreNulls"],
        returns: "T",
        rowArgs: 1,
        make: (r) => single(r.literal(1) !== false),
      },
      {
        params: ["T val", "INTEGER n"],
        returns: "ARRAY<T>",
        rowArgs: 1,
        make: (r) => many(Number(r.literal(1)), true),
      },
      {
        params: ["T val", "INTEGER n", "BOOLEAN ignoreNulls"],
        returns: "ARRAY<T>",
        rowArgs: 1,
        make: (r) => many(Number(r.literal(1)), r.literal(2) !== false),
      },
    ],
  });
}

interface Moments {
  n: number;
  /** The sum of the values (state written before 2026-12 kept `mean` instead; see {@link sumOf}). */
  sum: number;
  m2: number;
}

/** The sum of a state, also of one written by the earlier (Welford) accumulator, which kept the mean. */
function sumOf(s: Moments & { mean?: number }): number {
  return s.sum ?? (s.mean ?? 0) * s.n;
}

/**
 * Youngs and Cramer's online variance over the count, the sum and M2 (the sum of squared deviations), as
 * ksqlDB's STDDEV_SAMPLE computes it operation for operation (so the doubles come out the same), with
 * removal and merge.
 */
const moments: Omit<Accumulator<Moments>, "result"> = {
  init: () => ({ n: 0, sum: 0, m2: 0 }),
  add: (s, [v]) => {
    if (v === null) return s;
    const x = Number(v);
    const sum = sumOf(s);
    const n = s.n + 1;
    let m2 = 0;
    if (s.n > 0) {
      const delta = x * n - (sum + x);
      m2 = (delta * delta) / (n * s.n);
    }
    return { n, sum: x + sum, m2: m2 + s.m2 };
  },
  retract: (s, [v]) => {
    if (v === null || s.n === 0) return s;
    const x = Number(v);
    const sum = sumOf(s);
    const n = s.n - 1;
    let m2 = 0;
    if (n > 0) {
      const delta = x * (s.n + 1) - (sum + x);
      m2 = (delta * delta) / (n * s.n);
    }
    return { n, sum: sum - x, m2: s.m2 - m2 };
  },
  merge: (a, b) => {
    const n = a.n + b.n;
    const sa = sumOf(a);
    const sb = sumOf(b);
    if (a.n === 0 || b.n === 0) return { n, sum: sa + sb, m2: a.m2 + b.m2 };
    const inner = sa / a.n - sb / b.n;
    return { n, sum: sa + sb, m2: a.m2 + b.m2 + (a.n * b.n * inner * inner) / n };
  },
};

function stddev(name: string, sample: boolean): AggregateFunction {
  return aggregate({
    name,
    category: CAT,
    description: `The ${sample ? "sample" : "population"} standard deviation of the non-NULL values.`,
    overloads: ["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"].map((t) => ({
      params: [`${t} val`],
      returns: "DOUBLE",
      make: (r) => {
        const scale = r.argTypes[0]!.kind === "DECIMAL" ? (r.argTypes[0] as { scale: number }).scale : 0;
        const conv = scale ? (v: unknown) => (v === null ? null : Number(v) / 10 ** scale) : (v: unknown) => v;
        return {
          init: moments.init,
          add: (s: Moments, [v]: readonly unknown[]) => moments.add(s, [conv(v)]),
          retract: (s: Moments, [v]: readonly unknown[]) => moments.retract!(s, [conv(v)]),
          merge: moments.merge,
          result: (s: Moments) =>
            sample ? (s.n < 2 ? 0 : Math.sqrt(s.m2 / (s.n - 1))) : s.n === 0 ? 0 : Math.sqrt(s.m2 / s.n),
        };
      },
    })),
  });
}

interface CorrState {
  n: number;
  sx: number;
  sy: number;
  sxx: number;
  syy: number;
  sxy: number;
}

const CORRELATION = aggregate({
  name: "CORRELATION",
  category: CAT,
  description: "The Pearson correlation coefficient of the pairs where both values are non-NULL.",
  overloads: [
    {
      params: ["DOUBLE x", "DOUBLE y"],
      returns: "DOUBLE",
      impl: {
        init: (): CorrState => ({ n: 0, sx: 0, sy: 0, sxx: 0, syy: 0, sxy: 0 }),
        add: (s: CorrState, [x, y]: readonly unknown[]) => {
          if (x === null || y === null) return s;
          const a = x as number;
          const b = y as number;
          return {
            n: s.n + 1,
            sx: s.sx + a,
            sy: s.sy + b,
            sxx: s.sxx + a * a,
            syy: s.syy + b * b,
            sxy: s.sxy + a * b,
          };
        },
        retract: (s: CorrState, [x, y]: readonly unknown[]) => {
          if (x === null || y === null) return s;
          const a = x as number;
          const b = y as number;
          return {
            n: s.n - 1,
            sx: s.sx - a,
            sy: s.sy - b,
            sxx: s.sxx - a * a,
            syy: s.syy - b * b,
            sxy: s.sxy - a * b,
          };
        },
        merge: (a: CorrState, b: CorrState) => ({
          n: a.n + b.n,
          sx: a.sx + b.sx,
          sy: a.sy + b.sy,
          sxx: a.sxx + b.sxx,
          syy: a.syy + b.syy,
          sxy: a.sxy + b.sxy,
        }),
        // ksqlDB's single-pass formula, operation for operation (so the doubles come out the same).
        result: (s: CorrState) =>
          (s.n * s.sxy - s.sx * s.sy) / Math.sqrt((s.n * s.sxx - s.sx * s.sx) * (s.n * s.syy - s.sy * s.sy)),
      },
    },
  ],
});

const HISTOGRAM = aggregate({
  name: "HISTOGRAM",
  category: CAT,
  description: "A map from each distinct value to the number of times it occurred (at most 1000 entries).",
  overloads: [
    {
      params: ["STRING val"],
      returns: "MAP<STRING, BIGINT>",
      impl: {
        init: () => new Map<string, number>(),
        add: (s: Map<string, number>, [v]: readonly unknown[]) => {
          if (v === null) return s;
          const c = s.get(v as string);
          if (c !== undefined) s.set(v as string, c + 1);
          else if (s.size < COLLECT_LIMIT) s.set(v as string, 1);
          return s;
        },
        retract: (s: Map<string, number>, [v]: readonly unknown[]) => {
          const c = s.get(v as string);
          if (c !== undefined) {
            if (c <= 1) s.delete(v as string);
            else s.set(v as string, c - 1);
          }
          return s;
        },
        merge: (a: Map<string, number>, b: Map<string, number>) => {
          for (const [k, c] of b) a.set(k, (a.get(k) ?? 0) + c);
          return a;
        },
        result: (s: Map<string, number>) => new Map(s),
      },
    },
  ],
});

const ATTR = aggregate({
  name: "ATTR",
  category: CAT,
  description: "The value when every row of the group has the same value, else NULL.",
  overloads: [
    {
      params: ["T val"],
      returns: "T",
      make: (r) => {
        // The value when exactly one distinct value remains.
        return countedValues(hashKey(r.argTypes[0]!), Infinity, (s) => (s.size === 1 ? [...s.values()][0]![0] : null));
      },
    },
  ],
});

export const aggregateFunctions: readonly AggregateFunction[] = [
  COUNT,
  SUM,
  AVG,
  minMax("MIN"),
  minMax("MAX"),
  COUNT_DISTINCT,
  COLLECT_LIST,
  COLLECT_SET,
  topk("TOPK"),
  topk("TOPKDISTINCT"),
  byOffset("LATEST_BY_OFFSET"),
  byOffset("EARLIEST_BY_OFFSET"),
  stddev("STDDEV_SAMP", true),
  stddev("STDDEV_SAMPLE", true),
  stddev("STDDEV_POP", false),
  CORRELATION,
  HISTOGRAM,
  ATTR,
];
