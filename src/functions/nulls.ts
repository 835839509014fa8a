/** NULL handling and generic conversion functions. */
import { scalar } from "./define.ts";
import { valuesEqual } from "../types/values.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "NULLS";

const COALESCE = scalar({
  name: "COALESCE",
  category: CAT,
  description: "The first non-NULL argument; NULL when all are NULL.",
  overloads: [
    {
      params: ["T first", "T others..."],
      returns: "T",
      nulls: "call",
      impl: (...xs: unknown[]) => {
        for (const x of xs) if (x !== null) return x;
        return null;
      },
    },
  ],
});

const IFNULL = scalar({
  name: "IFNULL",
  category: CAT,
  description: "`expression` unless it is NULL, then `altValue`.",
  overloads: [
    {
      params: ["T expression", "T altValue"],
      returns: "T",
      nulls: "call",
      impl: (a: unknown, b: unknown) => (a === null ? b : a),
    },
  ],
});

const NULLIF = scalar({
  name: "NULLIF",
  category: CAT,
  description: "NULL when the two values are equal, else the first.",
  overloads: [
    {
      params: ["T expr1", "T expr2"],
      returns: "T",
      nulls: "call",
      make: (r) => {
        const eq = valuesEqual(r.returnType);
        return (a: unknown, b: unknown) => (a === null ? null : b !== null && eq(a, b) ? null : a);
      },
    },
  ],
});

export const nullFunctions: readonly ScalarFunction[] = [COALESCE, IFNULL, NULLIF];
