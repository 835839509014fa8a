/** Table functions: each produces zero or more rows per input row. */
import { tableFunction } from "./define.ts";
import type { TableFunction } from "./types.ts";

const CAT = "TABLE";

/**
 * Every combination of the values with some replaced by NULL (2^n rows, fewer when values are already NULL,
 * since those combinations would repeat), in ksqlDB's order: binary counting where a 1 bit (first value =
 * most significant) keeps the value, so the all-NULL row comes first.
 */
function cube(a: readonly unknown[]): unknown[][] {
  const n = a.length;
  const out: unknown[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    let dup = false;
    const row = a.map((x, i) => {
      const keep = (mask >> (n - 1 - i)) & 1;
      if (keep && x === null) dup = true;
      return keep ? x : null;
    });
    if (!dup) out.push(row);
  }
  return out;
}

export const tableFunctions: readonly TableFunction[] = [
  tableFunction({
    name: "EXPLODE",
    category: CAT,
    description: "One row per array element; none for a NULL or empty array.",
    overloads: [
      {
        params: ["ARRAY<T> list"],
        returns: "T",
        impl: (a: unknown[] | null) => a ?? [],
      },
    ],
  }),
  tableFunction({
    name: "CUBE_EXPLODE",
    category: CAT,
    description: "One row per combination of the values with some replaced by NULL (2^n rows).",
    overloads: [
      {
        params: ["ARRAY<T> list"],
        returns: "ARRAY<T>",
        impl: (a: unknown[] | null) => (a === null ? [] : cube(a)),
      },
    ],
  }),
];
