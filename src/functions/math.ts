/** Mathematical functions. NULL in, NULL out unless stated. */
import type { SqlType } from "../types/sqltype.ts";
import { type Long, compareValues, divideHalfUp, doubleToLong, pow10, wrapLong } from "../types/values.ts";
import { type Resolved, scalar } from "./define.ts";
import { describeArgs } from "./signature.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "MATHEMATICAL";

type Dec = Extract<SqlType, { kind: "DECIMAL" }>;
const decOf = (r: Resolved, i = 0): Dec => r.argTypes[i] as Dec;

/** A DOUBLE → DOUBLE function: INTEGER/BIGINT/DECIMAL arguments widen to DOUBLE. */
function unaryDouble(name: string, description: string, f: (x: number) => number): ScalarFunction {
  return scalar({
    name,
    category: CAT,
    description,
    overloads: [{ params: ["DOUBLE x"], returns: "DOUBLE", impl: f }],
  });
}

/** Rounds `x` to `places` decimals, ties toward +∞ (Java's Math.round behaviour, which ksqlDB keeps). */
function roundDouble(x: number, places: number): number {
  if (!Number.isFinite(x)) return x;
  // Work on the decimal text so 1.005 rounds as written, not as its binary approximation.
  const d = decimalOfDouble(x);
  const shift = d.scale - places;
  if (shift <= 0) return x;
  const q = floorDiv(d.unscaled * 2n + pow10(shift), 2n * pow10(shift));
  return Number(`${q}e${-places}`);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function decimalOfDouble(x: number): { unscaled: bigint; scale: number } {
  const [m, e] = x.toExponential().split("e") as [string, string];
  const [i, f = ""] = m.split(".") as [string, string?];
  const scale = f.length - Number(e);
  const digits = BigInt(`${i}${f}`);
  return scale >= 0 ? { unscaled: digits, scale } : { unscaled: digits * pow10(-scale), scale: 0 };
}

function truncDouble(x: number, places: number): number {
  if (!Number.isFinite(x)) return x;
  const d = decimalOfDouble(x);
  const shift = d.scale - places;
  if (shift <= 0) return x;
  return Number(`${d.unscaled / pow10(shift)}e${-places}`) || 0;
}

/** Rounds a DECIMAL `v` at `fromScale` to `places` decimals HALF_UP, keeping scale `toScale`. */
function roundDecimal(v: bigint, fromScale: number, places: number, toScale: number, half: boolean): bigint {
  const drop = fromScale - places;
  let r = v;
  if (drop > 0) {
    const p = pow10(drop);
    r = (half ? divideHalfUp(v, p) : v / p) * p;
  }
  // r is at fromScale; move to toScale (dropping only zero digits when toScale < fromScale).
  return toScale >= fromScale ? r * pow10(toScale - fromScale) : r / pow10(fromScale - toScale);
}

function roundLike(name: "ROUND" | "TRUNC", half: boolean): ScalarFunction {
  const dbl = half ? roundDouble : truncDouble;
  return scalar({
    name,
    category: CAT,
    description: half
      ? "Rounds to the nearest integer, or to `places` decimals (negative: tens, hundreds...), half up."
      : "Truncates toward zero to an integer, or to `places` decimals.",
    overloads: [
      { params: ["INTEGER x"], returns: "INTEGER", impl: (x: number) => x },
      { params: ["BIGINT x"], returns: "BIGINT", impl: (x: number) => x },
      {
        params: ["DOUBLE x"],
        returns: "BIGINT",
        impl: (x: number) => doubleToLong(half ? Math.round(x) : x),
      },
      { params: ["DOUBLE x", "INTEGER places"], returns: "DOUBLE", impl: dbl },
      {
        params: ["DECIMAL x"],
        returns: (r) => {
          const t = decOf(r);
          return {
            kind: "DECIMAL",
            precision: t.precision - t.scale || 1,
            scale: 0,
          };
        },
        make: (r) => {
          const s = decOf(r).scale;
          return (v: bigint) => roundDecimal(v, s, 0, 0, half);
        },
      },
      {
        params: ["DECIMAL x", "INTEGER places"],
        returns: (r) => {
          const t = decOf(r);
          return {
            kind: "DECIMAL",
            precision: t.precision,
            scale: t.scale,
          };
        },
        make: (r) => {
          const s = decOf(r).scale;
          return (v: bigint, places: number) => roundDecimal(v, s, places, s, half);
        },
      },
    ],
  });
}

function floorCeil(name: "FLOOR" | "CEIL"): ScalarFunction {
  const f = name === "FLOOR" ? Math.floor : Math.ceil;
  return scalar({
    name,
    category: CAT,
    description: `The ${name === "FLOOR" ? "largest integer not above" : "smallest integer not below"} the value.`,
    overloads: [
      { params: ["INTEGER x"], returns: "INTEGER", impl: (x: number) => x },
      { params: ["BIGINT x"], returns: "BIGINT", impl: (x: number) => x },
      { params: ["DOUBLE x"], returns: "DOUBLE", impl: (x: number) => f(x) },
      {
        params: ["DECIMAL x"],
        returns: (r) => ({
          kind: "DECIMAL",
          precision: decOf(r).precision - decOf(r).scale + 1,
          scale: 0,
        }),
        make: (r) => {
          const p = pow10(decOf(r).scale);
          return (v: bigint) => {
            const q = v / p;
            if (v % p === 0n) return q;
            return name === "FLOOR" ? (v < 0n ? q - 1n : q) : v > 0n ? q + 1n : q;
          };
        },
      },
    ],
  });
}

/** GREATEST / LEAST: NULLs are skipped; all arguments must share one type (DOUBLE absorbs other numbers). */
function extreme(name: "GREATEST" | "LEAST"): ScalarFunction {
  const sign = name === "GREATEST" ? 1 : -1;
  return scalar({
    name,
    category: CAT,
    description: `The ${name === "GREATEST" ? "largest" : "smallest"} non-NULL argument; NULL when all are NULL.`,
    overloads: [
      {
        params: ["T val", "T vals..."],
        nulls: "call",
        returns: (r) => {
          const t = r.bindings.get("T");
          const temporal = t?.kind === "DATE" || t?.kind === "TIME" || t?.kind === "TIMESTAMP";
          // String literals convert to a temporal T, so they do not count as a second type then.
          const kinds = new Set(
            r.args
              .filter((a) => !(temporal && a.kind === "value" && a.type.kind === "STRING" && a.literal))
              .map((a) => (a.kind === "value" ? a.type.kind : "LAMBDA"))
              .filter((k) => k !== "NULL"),
          );
          if (!t || t.kind === "NULL" || (kinds.size > 1 && !kinds.has("DOUBLE"))) {
            return {
              error: `Function '${name.toLowerCase()}' cannot be resolved due to ambiguous method parameters ${describeArgs(r.args)}.`,
            };
          }
          return t;
        },
        make: (r) => {
          const cmp = compareValues(r.returnType);
          return (...xs: unknown[]) => {
            let best: unknown = null;
            for (const x of xs) if (x !== null && (best === null || sign * cmp(x, best) > 0)) best = x;
            return best;
          };
        },
      },
    ],
  });
}

const ABS = scalar({
  name: "ABS",
  category: CAT,
  description: "The absolute value.",
  overloads: [
    {
      params: ["INTEGER x"],
      returns: "INTEGER",
      impl: (x: number) => Math.abs(x) | 0,
    },
    {
      params: ["BIGINT x"],
      returns: "BIGINT",
      // Java's Math.abs(Long.MIN_VALUE) is Long.MIN_VALUE.
      impl: (x: Long) => (typeof x === "number" ? Math.abs(x) : wrapLong(x < 0n ? -x : x)),
    },
    {
      params: ["DOUBLE x"],
      returns: "DOUBLE",
      impl: (x: number) => Math.abs(x),
    },
    {
      params: ["DECIMAL x"],
      returns: "DECIMAL",
      impl: (x: bigint) => (x < 0n ? -x : x),
    },
  ],
});

const SIGN = scalar({
  name: "SIGN",
  category: CAT,
  description: "-1, 0 or 1 according to the sign of the value.",
  overloads: [
    {
      params: ["INTEGER x"],
      returns: "INTEGER",
      impl: (x: number) => Math.sign(x),
    },
    {
      params: ["BIGINT x"],
      returns: "INTEGER",
      impl: (x: Long) => (x > 0 ? 1 : x < 0 ? -1 : 0),
    },
    {
      params: ["DOUBLE x"],
      returns: "INTEGER",
      impl: (x: number) => (Number.isNaN(x) ? 0 : Math.sign(x)) || 0,
    },
    {
      params: ["DECIMAL x"],
      returns: "INTEGER",
      impl: (x: bigint) => (x > 0n ? 1 : x < 0n ? -1 : 0),
    },
  ],
});

const POWER = scalar({
  name: "POWER",
  category: CAT,
  description: "`base` raised to `exponent`.",
  overloads: [
    {
      params: ["DOUBLE base", "DOUBLE exponent"],
      returns: "DOUBLE",
      impl: Math.pow,
    },
  ],
});

const LOG = scalar({
  name: "LOG",
  category: CAT,
  description: "The natural logarithm, or the logarithm in `base`.",
  overloads: [
    { params: ["DOUBLE x"], returns: "DOUBLE", impl: Math.log },
    {
      params: ["DOUBLE base", "DOUBLE x"],
      returns: "DOUBLE",
      // Java: log(x)/log(base); base 1 or base <= 0 or x < 0 give NaN per ksqlDB's rules.
      impl: (b: number, x: number) =>
        b <= 0 || b === 1 || x < 0 ? NaN : x === 0 ? -Infinity : Math.log(x) / Math.log(b),
    },
  ],
});

const ATAN2 = scalar({
  name: "ATAN2",
  category: CAT,
  description: "The angle of the point (x, y), from atan2(y, x).",
  overloads: [{ params: ["DOUBLE y", "DOUBLE x"], returns: "DOUBLE", impl: Math.atan2 }],
});

const RANDOM = scalar({
  name: "RANDOM",
  category: CAT,
  description: "A random DOUBLE in [0, 1).",
  overloads: [{ params: [], returns: "DOUBLE", impl: Math.random }],
});

const PI = scalar({
  name: "PI",
  category: CAT,
  description: "The constant π.",
  overloads: [{ params: [], returns: "DOUBLE", impl: () => Math.PI }],
});

const GEO_DISTANCE = scalar({
  name: "GEO_DISTANCE",
  category: CAT,
  description: "The great-circle distance between two lat/lon points, in KM (default) or MI.",
  overloads: [
    {
      params: ["DOUBLE lat1", "DOUBLE lon1", "DOUBLE lat2", "DOUBLE lon2"],
      returns: "DOUBLE",
      impl: (a: number, b: number, c: number, d: number) => geo(a, b, c, d, "KM"),
    },
    {
      params: ["DOUBLE lat1", "DOUBLE lon1", "DOUBLE lat2", "DOUBLE lon2", "STRING unit"],
      returns: "DOUBLE",
      nulls: "call",
      // A NULL unit means kilometres; any other NULL gives NULL.
      impl: (a: number | null, b: number | null, c: number | null, d: number | null, u: string | null) =>
        a === null || b === null || c === null || d === null ? null : geo(a, b, c, d, u ?? "KM"),
    },
  ],
});

const RADIUS_MILES = ["mi", "mile", "miles"];
const RADIUS_KM = ["km", "kilometer", "kilometers", "kilometre", "kilometres"];

/** Java's `Math.toRadians`. */
const toRadians = (deg: number): number => deg * 0.017453292519943295;

/** sin²(x/2). */
function haversin(x: number): number {
  const s = Math.sin(x / 2);
  return s * s;
}

/** The haversine great-circle distance, with ksqlDB's operation order (so the doubles come out the same). */
function geo(lat1: number, lon1: number, lat2: number, lon2: number, unit: string): number {
  const u = unit.trim().toLowerCase();
  const radius = u === "" || RADIUS_KM.includes(u) ? 6371 : RADIUS_MILES.includes(u) ? 3959 : NaN;
  if (Number.isNaN(radius))
    throw new Error(`GEO_DISTANCE: unknown unit ${unit}; use one of ${[...RADIUS_MILES, ...RADIUS_KM].join(", ")}`);
  if (Math.abs(lat1) > 90 || Math.abs(lat2) > 90 || Math.abs(lon1) > 180 || Math.abs(lon2) > 180) {
    throw new Error("GEO_DISTANCE: latitude must be within ±90 and longitude within ±180");
  }
  const a =
    haversin(toRadians(lat2 - lat1)) +
    haversin(toRadians(lon2 - lon1)) * Math.cos(toRadians(lat1)) * Math.cos(toRadians(lat2));
  return 2 * Math.asin(Math.sqrt(a)) * radius;
}

export const mathFunctions: readonly ScalarFunction[] = [
  ABS,
  SIGN,
  roundLike("ROUND", true),
  roundLike("TRUNC", false),
  floorCeil("FLOOR"),
  floorCeil("CEIL"),
  extreme("GREATEST"),
  extreme("LEAST"),
  POWER,
  LOG,
  ATAN2,
  RANDOM,
  PI,
  GEO_DISTANCE,
  unaryDouble("EXP", "e raised to the value.", Math.exp),
  unaryDouble("LN", "The natural logarithm.", Math.log),
  unaryDouble("SQRT", "The square root.", Math.sqrt),
  unaryDouble("CBRT", "The cube root.", Math.cbrt),
  unaryDouble("SIN", "The sine (radians).", Math.sin),
  unaryDouble("COS", "The cosine (radians).", Math.cos),
  unaryDouble("TAN", "The tangent (radians).", Math.tan),
  unaryDouble("COT", "The cotangent (radians).", (x) => 1 / Math.tan(x)),
  unaryDouble("ASIN", "The arc sine, in radians.", Math.asin),
  unaryDouble("ACOS", "The arc cosine, in radians.", Math.acos),
  unaryDouble("ATAN", "The arc tangent, in radians.", Math.atan),
  unaryDouble("SINH", "The hyperbolic sine.", Math.sinh),
  unaryDouble("COSH", "The hyperbolic cosine.", Math.cosh),
  unaryDouble("TANH", "The hyperbolic tangent.", Math.tanh),
  unaryDouble("DEGREES", "Radians to degrees.", (x) => (x * 180) / Math.PI),
  unaryDouble("RADIANS", "Degrees to radians.", (x) => (x * Math.PI) / 180),
];
