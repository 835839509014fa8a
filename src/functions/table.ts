/** Table functions: each produces zero or more rows per input row. */
import { tableFunction } from "./define.ts";
import type { TableFunction } from "./types.ts";

const CAT = "TABLE";

/** All combinations of the values with NULLs in place of some (2^n rows), as ksqlDB's CUBE_EXPLODE. */
function cube(a: unknown[]): unknown[][] {
  const n = a.length;
  const out: unknown[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    // ksqlDB's order: the row with no NULLs first, then more NULLs.
    const row = a.map((x, i) => ((mask >> (n - 1 - i)) & 1 ? null : x));
    out.push(row);
  }
  return out;
}

export const tableFunctions: readonly TableFunction[] = [
  tableFunction({
    name: "EXPLODE",
    category: CAT,
    description: "One row per array element; none for a NULL or empty array.",
    overloads: [{ params: ["ARRAY<T> list"], returns: "T", impl: (a: unknown[] | null) => a ?? [] }],
  }),
  tableFunction({
    name: "CUBE_EXPLODE",
    category: CAT,
    description: "One row per combination of the values with some replaced by NULL (2^n rows).",
    overloads: [{ params: ["ARRAY<T> list"], returns: "ARRAY<T>", impl: (a: unknown[] | null) => (a === null ? [] : cube(a)) }],
  }),
];
