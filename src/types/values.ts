/**
 * Runtime value semantics shared by the expression compiler, the processors and the functions:
 * ordering, equality, CAST, implicit widening, DECIMAL helpers and arithmetic.
 *
 * Every function here follows the value representation table in `sqltype.ts`. Functions that take a
 * `SqlType` do the type work once and return a specialised closure for the hot path.
 *
 * Runtime failures (a CAST of `'abc'` to INTEGER, an integer division by zero, a DECIMAL overflow) throw a
 * {@link SqlRuntimeError}. ksqlDB turns such a failure into a NULL result for the failing call (and a
 * processing-log entry); the expression compiler is expected to do the same by catching it around the call.
 */
import {
  type SqlType,
  BIGINT,
  DOUBLE,
  INTEGER,
  NULL_TYPE,
  decimal,
  formatType,
  numericRank,
  typeEquals,
} from "./sqltype.ts";

/** A failure evaluating a value at runtime (bad input data, not a bug). The caller turns it into NULL + a log entry. */
export class SqlRuntimeError extends Error {
  override readonly name = "SqlRuntimeError";
}

// ---------------------------------------------------------------------------------------------------------------
// BIGINT values: a `number` while it is a safe integer, a `bigint` beyond (see the table in sqltype.ts)
// ---------------------------------------------------------------------------------------------------------------

/** A BIGINT value: a safe-integer `number`, or a `bigint` when |v| > 2^53 − 1 (never a `bigint` that fits). */
export type Long = number | bigint;

export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The canonical BIGINT value of an integer within the 64-bit range: a `number` when it is safe, else the `bigint`. */
export function normalizeLong(v: bigint): Long {
  return v >= SAFE_MIN && v <= SAFE_MAX ? Number(v) : v;
}

/** Java's `long` arithmetic result: the low 64 bits (two's complement), as a canonical BIGINT value. */
export function wrapLong(v: bigint): Long {
  return normalizeLong(BigInt.asIntN(64, v));
}

/** True when an integer `bigint` fits a BIGINT (−2^63 ≤ v ≤ 2^63 − 1). */
export function fitsLong(v: bigint): boolean {
  return v >= LONG_MIN && v <= LONG_MAX;
}

/** Order of two BIGINT values (either representation). */
export function compareLongs(a: Long, b: Long): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Java's `(long)` of a double as a BIGINT value: truncated toward zero, NaN is 0, saturating at the bounds.
 * Doubles beyond 2^53 are integers already and convert exactly.
 */
export function doubleToLong(d: number): Long {
  if (Number.isNaN(d)) return 0;
  const t = Math.trunc(d);
  if (Number.isSafeInteger(t)) return t === 0 ? 0 : t;
  if (t >= 2 ** 63) return LONG_MAX;
  if (t <= -(2 ** 63)) return LONG_MIN;
  return BigInt(t);
}

// ---------------------------------------------------------------------------------------------------------------
// Ordering and equality
// ---------------------------------------------------------------------------------------------------------------

export type Comparator = (a: unknown, b: unknown) => number;

/**
 * A total order over values of `type`, for sorting (ARRAY_SORT, TOPK, MIN/MAX, ORDER BY-like uses).
 * NULL sorts before every non-NULL value (callers that skip NULLs do so before comparing).
 * Numbers order numerically with NaN greater than every other number (as Java's `Double.compare`);
 * strings by UTF-16 code units (as Java's `String.compareTo`); BOOLEAN false < true; BYTES
 * lexicographically unsigned; ARRAYs element-wise then by length; STRUCTs field by field in declared order;
 * MAPs by size then entry by entry in insertion order (ksqlDB does not order maps; this is only total).
 */
export function compareValues(type: SqlType): Comparator {
  const cmp = compareNonNull(type);
  return (a, b) => {
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
    if (b === null || b === undefined) return 1;
    return cmp(a, b);
  };
}

function compareNonNull(type: SqlType): Comparator {
  switch (type.kind) {
    case "INTEGER":
    case "DATE":
    case "TIME":
    case "TIMESTAMP":
      return (a, b) => (a as number) - (b as number);
    case "BIGINT":
      return compareLongs as Comparator;
    case "DOUBLE":
      return (a, b) => compareDoubles(a as number, b as number);
    case "DECIMAL":
      return (a, b) => ((a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0);
    case "STRING":
      return (a, b) => ((a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0);
    case "BOOLEAN":
      return (a, b) => Number(a) - Number(b);
    case "BYTES":
      return (a, b) => compareBytes(a as Uint8Array, b as Uint8Array);
    case "ARRAY": {
      const el = compareValues(type.element);
      return (a, b) => {
        const x = a as unknown[];
        const y = b as unknown[];
        const n = Math.min(x.length, y.length);
        for (let i = 0; i < n; i++) {
          const c = el(x[i], y[i]);
          if (c !== 0) return c;
        }
        return x.length - y.length;
      };
    }
    case "MAP": {
      const k = compareValues(type.key);
      const v = compareValues(type.value);
      return (a, b) => {
        const x = a as Map<unknown, unknown>;
        const y = b as Map<unknown, unknown>;
        if (x.size !== y.size) return x.size - y.size;
        const ey = [...y.entries()];
        let i = 0;
        for (const [xk, xv] of x) {
          const [yk, yv] = ey[i++]!;
          const c = k(xk, yk) || v(xv, yv);
          if (c !== 0) return c;
        }
        return 0;
      };
    }
    case "STRUCT": {
      const fields = type.fields.map((f) => [f.name, compareValues(f.type)] as const);
      return (a, b) => {
        const x = a as Record<string, unknown>;
        const y = b as Record<string, unknown>;
        for (const [name, c] of fields) {
          const r = c(x[name] ?? null, y[name] ?? null);
          if (r !== 0) return r;
        }
        return 0;
      };
    }
    case "NULL":
      return () => 0;
  }
}

/** Java's `Double.compare`: -0 < 0, NaN above everything, NaN equals NaN. */
export function compareDoubles(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return a === 0 ? (Object.is(a, -0) ? (Object.is(b, -0) ? 0 : -1) : Object.is(b, -0) ? 1 : 0) : 0;
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  return an === bn ? 0 : an ? 1 : -1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Types whose JS values are equal exactly when `===` says so (numbers, strings, booleans, bigints). */
const SELF_IDENTICAL: ReadonlySet<SqlType["kind"]> = new Set([
  "INTEGER",
  "BIGINT",
  "DATE",
  "TIME",
  "TIMESTAMP",
  "STRING",
  "BOOLEAN",
  "DECIMAL",
]);

/**
 * Deep equality of two non-NULL-aware values of `type` (NULL equals NULL here: this is the equality of
 * collections and DISTINCT, not SQL's three-valued `=`). DOUBLE NaN equals NaN, as Java's `Double.equals`.
 */
export function valuesEqual(type: SqlType): (a: unknown, b: unknown) => boolean {
  if (SELF_IDENTICAL.has(type.kind)) return (a, b) => a === b;
  const cmp = compareValues(type);
  return (a, b) => cmp(a, b) === 0;
}

/**
 * A key that identifies a value for hashing (sets, COUNT_DISTINCT, ARRAY_DISTINCT): two values have the same
 * key exactly when {@link valuesEqual} holds. Primitive values are their own key.
 */
export function hashKey(type: SqlType): (v: unknown) => unknown {
  if (SELF_IDENTICAL.has(type.kind) || type.kind === "NULL") return (v) => v;
  switch (type.kind) {
    case "DOUBLE":
      // Distinguish -0 from 0 as Java's Double.equals does; NaN is one key in a JS Map already.
      return (v) => (Object.is(v, -0) ? "-0" : v);
    default: {
      const canon = canonicalText(type);
      return (v) => (v === null ? null : `\u0000${canon(v)}`);
    }
  }
}

/** Text that is equal for equal values: like {@link formatValue} but map entries sorted (maps are unordered). */
function canonicalText(type: SqlType): (v: unknown) => string {
  const nul = (f: (v: unknown) => string) => (v: unknown) => (v === null || v === undefined ? "null" : f(v));
  switch (type.kind) {
    case "ARRAY": {
      const el = nul(canonicalText(type.element));
      return (v) => `[${(v as unknown[]).map(el).join(",")}]`;
    }
    case "MAP": {
      const k = nul(canonicalText(type.key));
      const val = nul(canonicalText(type.value));
      return (v) =>
        `{${[...(v as Map<unknown, unknown>)]
          .map(([a, b]) => `${JSON.stringify(k(a))}=${val(b)}`)
          .sort()
          .join(",")}}`;
    }
    case "STRUCT": {
      const fs = type.fields.map((f) => [f.name, nul(canonicalText(f.type))] as const);
      return (v) => `{${fs.map(([n, f]) => f((v as Record<string, unknown>)[n])).join(",")}}`;
    }
    case "STRING":
      return (v) => JSON.stringify(v);
    default:
      return formatValue(type);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text forms (CAST to STRING, CONCAT of non-strings, ...), as ksqlDB (Java) prints values
// ---------------------------------------------------------------------------------------------------------------

/**
 * Java's `Double.toString`: `10.0`, `0.001`, `1.0E7`, `1.0E-4`, `NaN`, `Infinity`.
 * Digits are the shortest that round-trip (JavaScript's), which is what Java 19+ prints.
 */
export function javaDoubleToString(d: number): string {
  if (Number.isNaN(d)) return "NaN";
  if (d === Infinity) return "Infinity";
  if (d === -Infinity) return "-Infinity";
  if (d === 0) return Object.is(d, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(d);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    return s.includes(".") ? s : `${s}.0`;
  }
  let e = d.toExponential();
  // Java never prints a single significant digit: it takes the closest 2-digit decimal instead, which
  // differs from "X.0" only for subnormals (Double.MIN_VALUE is 4.9E-324, not 5.0E-324).
  if (!e.includes(".")) e = d.toExponential(1);
  const at = e.indexOf("e");
  return `${e.slice(0, at)}E${Number(e.slice(at + 1))}`;
}

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

/** `yyyy-MM-dd` of days since the epoch. */
export function formatDate(days: number): string {
  const d = new Date(days * 86_400_000);
  return `${formatYear(d.getUTCFullYear())}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function formatYear(y: number): string {
  return y < 0 ? `-${pad(-y, 4)}` : y > 9999 ? `+${y}` : pad(y, 4);
}

/** `HH:mm:ss`, plus `.SSS` when the milliseconds are not zero, of milliseconds since midnight. */
export function formatTime(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const frac = ms % 1000;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${frac ? `.${pad(frac, 3)}` : ""}`;
}

/** `yyyy-MM-ddTHH:mm:ss.SSS` in UTC, as ksqlDB prints a TIMESTAMP cast to STRING. */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${formatYear(d.getUTCFullYear())}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}`
  );
}

/**
 * The text ksqlDB gives a value of `type` when it is cast to STRING: Java's `toString` of the value
 * (`[1, 2]` for arrays, `{k=v}` for maps, `Struct{A=1,B=x}` for structs, fields that are NULL left out),
 * plain notation for DECIMAL, ISO forms for DATE/TIME/TIMESTAMP, base64 for BYTES.
 * NULL is `null` inside collections; at top level callers handle NULL before calling.
 */
export function formatValue(type: SqlType): (v: unknown) => string {
  switch (type.kind) {
    case "BOOLEAN":
    case "INTEGER":
    case "BIGINT":
      return (v) => String(v);
    case "DOUBLE":
      return (v) => javaDoubleToString(v as number);
    case "DECIMAL": {
      const s = type.scale;
      return (v) => decimalToString(v as bigint, s);
    }
    case "STRING":
      return (v) => v as string;
    case "BYTES":
      return (v) => Buffer.from(v as Uint8Array).toString("base64");
    case "DATE":
      return (v) => formatDate(v as number);
    case "TIME":
      return (v) => formatTime(v as number);
    case "TIMESTAMP":
      return (v) => formatTimestamp(v as number);
    case "ARRAY": {
      const el = nullable(formatValue(type.element));
      return (v) => `[${(v as unknown[]).map(el).join(", ")}]`;
    }
    case "MAP": {
      const k = nullable(formatValue(type.key));
      const val = nullable(formatValue(type.value));
      return (v) => `{${[...(v as Map<unknown, unknown>).entries()].map(([a, b]) => `${k(a)}=${val(b)}`).join(", ")}}`;
    }
    case "STRUCT": {
      const fields = type.fields.map((f) => [f.name, formatValue(f.type)] as const);
      return (v) => {
        const o = v as Record<string, unknown>;
        const parts: string[] = [];
        for (const [name, f] of fields) {
          const x = o[name];
          if (x !== null && x !== undefined) parts.push(`${name}=${f(x)}`);
        }
        return `Struct{${parts.join(",")}}`;
      };
    }
    case "NULL":
      return () => "null";
  }
}

function nullable(f: (v: unknown) => string): (v: unknown) => string {
  return (v) => (v === null || v === undefined ? "null" : f(v));
}

// ---------------------------------------------------------------------------------------------------------------
// DECIMAL helpers. A DECIMAL value is its unscaled bigint; the scale comes from the static type.
// ---------------------------------------------------------------------------------------------------------------

const POW10: bigint[] = [1n];
/** Powers cached: the cache holds every power up to the largest asked, so its size grows with n². */
const POW10_CACHED = 2048;
/** 10^n as a bigint (cached up to 10^2048). */
export function pow10(n: number): bigint {
  if (n > POW10_CACHED) return 10n ** BigInt(n);
  for (let i = POW10.length; i <= n; i++) POW10.push(POW10[i - 1]! * 10n);
  return POW10[n]!;
}

/** Plain text of a decimal: `decimalToString(12345n, 2)` is `123.45`; `decimalToString(5n, 3)` is `0.005`. */
export function decimalToString(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (scale === 0 ? unscaled : unscaled * pow10(-scale)).toString();
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const cut = digits.length - scale;
  return `${neg ? "-" : ""}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

/**
 * Parses decimal text (optional sign, digits, optional fraction, optional exponent `e±n`, surrounding
 * whitespace allowed) into its unscaled value and scale as written (`"1.50"` is 150n scale 2). Undefined when
 * the text is not a number.
 */
export function parseDecimal(text: string): { unscaled: bigint; scale: number } | undefined {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === "" && (m[3] === undefined || m[3] === ""))) return undefined;
  const frac = m[3] ?? "";
  let unscaled = BigInt(`${m[2]}${frac}` || "0");
  let scale = frac.length - (m[4] ? Number(m[4]) : 0);
  if (scale < 0) {
    unscaled *= pow10(-scale);
    scale = 0;
  }
  return { unscaled: m[1] === "-" ? -unscaled : unscaled, scale };
}

/** Moves `unscaled` from scale `from` to scale `to`, rounding HALF_UP (ties away from zero) when digits drop. */
export function rescale(unscaled: bigint, from: number, to: number): bigint {
  if (to === from) return unscaled;
  if (to > from) return unscaled * pow10(to - from);
  return divideHalfUp(unscaled, pow10(from - to));
}

/** `a / b` rounded HALF_UP (ties away from zero), as Java's `RoundingMode.HALF_UP`. `b` must not be 0. */
export function divideHalfUp(a: bigint, b: bigint): bigint {
  const q = a / b;
  const r = a % b;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  const babs = b < 0n ? -b : b;
  if (twice < babs) return q;
  return a < 0n !== b < 0n ? q - 1n : q + 1n;
}

/** Number of digits of the integer part allowed by DECIMAL(p, s), i.e. |value| < 10^(p-s). */
function checkFits(unscaled: bigint, precision: number, scale: number): bigint {
  const abs = unscaled < 0n ? -unscaled : unscaled;
  if (abs >= pow10(precision)) {
    throw new SqlRuntimeError(
      `Numeric field overflow: A field with precision ${precision} and scale ${scale} must round to an absolute value less than 10^${precision - scale}. Got ${decimalToString(unscaled, scale)}`,
    );
  }
  return unscaled;
}

/** The decimal `unscaled`/`scale` as the nearest double. */
export function decimalToNumber(unscaled: bigint, scale: number): number {
  return scale === 0 ? Number(unscaled) : Number(decimalToString(unscaled, scale));
}

/** A double as the unscaled value at `scale`, rounded HALF_UP from its exact decimal expansion. */
export function numberToDecimal(n: number, scale: number): bigint {
  if (!Number.isFinite(n)) throw new SqlRuntimeError(`Cannot convert ${javaDoubleToString(n)} to DECIMAL`);
  if (Number.isInteger(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER) return BigInt(n) * pow10(scale);
  // Java's `new BigDecimal(double, MathContext(precision))` rounds the binary value; the shortest decimal
  // text of the double is what users wrote, so round that instead (1.005 stays 1.005, not 1.00499...).
  const p = parseDecimal(String(n))!;
  return rescale(p.unscaled, p.scale, scale);
}

/** The DECIMAL type that holds every INTEGER (10,0) / BIGINT (19,0) exactly; a DECIMAL as is. */
export function toDecimalType(t: SqlType): Extract<SqlType, { kind: "DECIMAL" }> | undefined {
  switch (t.kind) {
    case "INTEGER":
      return { kind: "DECIMAL", precision: 10, scale: 0 };
    case "BIGINT":
      return { kind: "DECIMAL", precision: 19, scale: 0 };
    case "DECIMAL":
      return t;
    default:
      return undefined;
  }
}

export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";

/** ksqlDB's result type of DECIMAL(p1,s1) op DECIMAL(p2,s2) (no cap on the precision, as ksqlDB). */
export function decimalResultType(
  op: ArithmeticOp,
  l: { precision: number; scale: number },
  r: { precision: number; scale: number },
): Extract<SqlType, { kind: "DECIMAL" }> {
  let precision: number;
  let scale: number;
  switch (op) {
    case "+":
    case "-":
      scale = Math.max(l.scale, r.scale);
      precision = scale + Math.max(l.precision - l.scale, r.precision - r.scale) + 1;
      break;
    case "*":
      precision = l.precision + r.precision + 1;
      scale = l.scale + r.scale;
      break;
    case "/":
      scale = Math.max(6, l.scale + r.precision + 1);
      precision = l.precision - l.scale + r.scale + scale;
      break;
    case "%":
      scale = Math.max(l.scale, r.scale);
      precision = Math.min(l.precision - l.scale, r.precision - r.scale) + scale;
      break;
  }
  return { kind: "DECIMAL", precision, scale };
}

// ---------------------------------------------------------------------------------------------------------------
// Implicit widening
// ---------------------------------------------------------------------------------------------------------------

/**
 * Whether a value of `from` may be used where `to` is expected without an explicit CAST (function
 * arguments, arithmetic operands, comparisons, UNION of branches): NULL to anything; INTEGER < BIGINT <
 * DECIMAL < DOUBLE, where a DECIMAL target must hold every value (INTEGER is DECIMAL(10,0), BIGINT
 * DECIMAL(19,0)); equal types; ARRAY/MAP/STRUCT element-wise.
 */
export function canImplicitlyCast(from: SqlType, to: SqlType): boolean {
  if (from.kind === "NULL") return true;
  if (from.kind === to.kind) {
    switch (from.kind) {
      case "DECIMAL": {
        const t = to as typeof from;
        return from.scale <= t.scale && from.precision - from.scale <= t.precision - t.scale;
      }
      case "ARRAY":
        return canImplicitlyCast(from.element, (to as typeof from).element);
      case "MAP": {
        const t = to as typeof from;
        return canImplicitlyCast(from.key, t.key) && canImplicitlyCast(from.value, t.value);
      }
      case "STRUCT": {
        const t = to as typeof from;
        return (
          from.fields.length === t.fields.length &&
          from.fields.every((f, i) => f.name === t.fields[i]!.name && canImplicitlyCast(f.type, t.fields[i]!.type))
        );
      }
      default:
        return true;
    }
  }
  const fr = numericRank(from);
  const tr = numericRank(to);
  if (fr === undefined || tr === undefined || fr > tr) return false;
  if (to.kind === "DECIMAL") return canImplicitlyCast(toDecimalType(from)!, to);
  return true;
}

/**
 * The narrowest type every one of `types` implicitly casts to, or undefined when there is none
 * (e.g. STRING and INTEGER). NULLs are ignored; all NULL gives NULL. Numbers widen along
 * INTEGER < BIGINT < DECIMAL < DOUBLE; DECIMALs widen to hold both integer digits and scale.
 */
export function commonSuperType(types: readonly SqlType[]): SqlType | undefined {
  let acc: SqlType = NULL_TYPE;
  for (const t of types) {
    const w = widen(acc, t);
    if (!w) return undefined;
    acc = w;
  }
  return acc;
}

function widen(a: SqlType, b: SqlType): SqlType | undefined {
  if (a.kind === "NULL") return b;
  if (b.kind === "NULL") return a;
  const ar = numericRank(a);
  const br = numericRank(b);
  if (ar !== undefined && br !== undefined) {
    if (a.kind === "DOUBLE" || b.kind === "DOUBLE") return DOUBLE;
    if (a.kind === "DECIMAL" || b.kind === "DECIMAL") {
      const x = toDecimalType(a)!;
      const y = toDecimalType(b)!;
      const scale = Math.max(x.scale, y.scale);
      return decimal(Math.max(x.precision - x.scale, y.precision - y.scale) + scale, scale);
    }
    return ar >= br ? a : b;
  }
  if (a.kind !== b.kind) return undefined;
  switch (a.kind) {
    case "ARRAY": {
      const e = widen(a.element, (b as typeof a).element);
      return e && { kind: "ARRAY", element: e };
    }
    case "MAP": {
      const o = b as typeof a;
      const k = widen(a.key, o.key);
      const v = widen(a.value, o.value);
      return k && v && { kind: "MAP", key: k, value: v };
    }
    case "STRUCT": {
      const o = b as typeof a;
      if (a.fields.length !== o.fields.length) return undefined;
      const fields = [];
      for (let i = 0; i < a.fields.length; i++) {
        if (a.fields[i]!.name !== o.fields[i]!.name) return undefined;
        const t = widen(a.fields[i]!.type, o.fields[i]!.type);
        if (!t) return undefined;
        fields.push({ name: a.fields[i]!.name, type: t });
      }
      return { kind: "STRUCT", fields };
    }
    default:
      return typeEquals(a, b) ? a : undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CAST
// ---------------------------------------------------------------------------------------------------------------

type Cast = (v: unknown) => unknown;
const identity: Cast = (v) => v;

/** Java's `(int)` of a long: keep the low 32 bits. */
const toInt32 = (n: Long): number =>
  typeof n === "number" && n === (n | 0) ? n : Number(BigInt.asIntN(32, BigInt(n)));

/** Java's `(int)`/`(long)` of a double: truncate toward zero, NaN is 0, saturate at the type's bounds. */
function doubleToInteger(d: number, min: number, max: number): number {
  if (Number.isNaN(d)) return 0;
  const t = Math.trunc(d);
  return t < min ? min : t > max ? max : t === 0 ? 0 : t;
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

function parseIntegral(s: string, bits: 32 | 64): Long {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new SqlRuntimeError(`For input string: "${s}"`);
  const n = BigInt(t);
  const lim = bits === 32 ? 2n ** 31n : 2n ** 63n;
  if (n < -lim || n >= lim) throw new SqlRuntimeError(`For input string: "${s}"`);
  return normalizeLong(n);
}

function parseDouble(s: string): number {
  const t = s.trim();
  // Java's Double.parseDouble: decimal or exponent notation, NaN, Infinity, optional trailing d/f.
  if (/^[+-]?(NaN|Infinity)$/.test(t)) return Number(t);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?$/.test(t)) throw new SqlRuntimeError(`For input string: "${s}"`);
  return Number(t.replace(/[dDfF]$/, ""));
}

/** ksqlDB's lenient text to BOOLEAN: `true`, `t`, `yes`, `y` (any case) are true, anything else false. */
export function parseBooleanLenient(s: string): boolean {
  const t = s.trim().toLowerCase();
  return t === "true" || t === "t" || t === "yes" || t === "y";
}

/** Parses an ISO date `yyyy-MM-dd` into days since the epoch. */
export function parseIsoDate(s: string): number {
  const m = /^\s*([+-]?\d{4,})-(\d{2})-(\d{2})\s*$/.exec(s);
  if (!m) throw new SqlRuntimeError(`Text '${s}' could not be parsed as a DATE (expected yyyy-MM-dd)`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const back = new Date(ms);
  if (back.getUTCMonth() + 1 !== Number(m[2]) || back.getUTCDate() !== Number(m[3])) {
    throw new SqlRuntimeError(`Text '${s}' is not a valid date`);
  }
  return Math.round(ms / 86_400_000);
}

/** Parses an ISO time `HH:mm[:ss[.fraction]]` into milliseconds since midnight. */
export function parseIsoTime(s: string): number {
  const m = /^\s*(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$/.exec(s);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) {
    throw new SqlRuntimeError(`Text '${s}' could not be parsed as a TIME (expected HH:mm:ss)`);
  }
  return (
    Number(m[1]) * 3_600_000 +
    Number(m[2]) * 60_000 +
    Number(m[3] ?? 0) * 1000 +
    Number((m[4] ?? "0").padEnd(3, "0").slice(0, 3))
  );
}

/**
 * Parses an ISO timestamp `yyyy-MM-ddTHH:mm[:ss[.fraction]]` with an optional zone (`Z`, `±hh:mm`, `±hhmm`,
 * `±hh`); without a zone it is UTC. Also accepts a date alone (midnight). Result in epoch milliseconds.
 */
export function parseIsoTimestamp(s: string): number {
  const m =
    /^\s*([+-]?\d{4,}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/.exec(
      s,
    );
  if (!m)
    throw new SqlRuntimeError(`Text '${s}' could not be parsed as a TIMESTAMP (expected yyyy-MM-ddTHH:mm:ss.SSS)`);
  const days = parseIsoDate(m[1]!);
  const time = m[2] ? parseIsoTime(m[2]) : 0;
  let offset = 0;
  if (m[3] && m[3] !== "Z") {
    const z = m[3].replace(":", "");
    const sign = z[0] === "-" ? -1 : 1;
    offset = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5) || 0)) * 60_000;
  }
  return days * 86_400_000 + time - offset;
}

/**
 * The conversion `CAST(v AS to)` performs on a non-NULL value of `from`, or undefined when ksqlDB does not
 * allow that cast (the analyzer reports "Cast of X to Y is not supported"). The returned function passes NULL
 * through and throws {@link SqlRuntimeError} when a value cannot be converted (`'abc'` to INTEGER, a DECIMAL
 * overflow); ksqlDB makes such a result NULL.
 *
 * Rules: identity for equal types; numbers to numbers (to INTEGER/BIGINT truncates doubles and decimals
 * toward zero, BIGINT to INTEGER keeps the low 32 bits as Java does; to DECIMAL rounds HALF_UP and fails on
 * overflow); STRING to numbers/BOOLEAN/DATE/TIME/TIMESTAMP by parsing; anything primitive or complex to STRING
 * as {@link formatValue}; TIMESTAMP to DATE/TIME and DATE to TIMESTAMP; ARRAY/MAP/STRUCT element-wise
 * (STRUCT fields matched by name, missing ones NULL); BYTES only to BYTES.
 */
export function castFunction(from: SqlType, to: SqlType): Cast | undefined {
  const f = castNonNull(from, to);
  if (!f || f === identity) return f;
  return (v) => (v === null || v === undefined ? null : f(v));
}

function castNonNull(from: SqlType, to: SqlType): Cast | undefined {
  if (from.kind === "NULL") return () => null;
  if (typeEquals(from, to)) return identity;
  switch (to.kind) {
    case "STRING":
      return formatValue(from);
    case "BOOLEAN":
      return from.kind === "STRING" ? (v) => parseBooleanLenient(v as string) : undefined;
    case "INTEGER":
    case "BIGINT": {
      const bits = to.kind === "INTEGER" ? 32 : 64;
      switch (from.kind) {
        case "INTEGER":
          return identity;
        case "BIGINT":
          return bits === 32 ? (v) => toInt32(v as Long) : identity;
        case "DOUBLE":
          return bits === 32 ? (v) => doubleToInteger(v as number, INT_MIN, INT_MAX) : (v) => doubleToLong(v as number);
        case "DECIMAL": {
          const p = pow10(from.scale);
          return bits === 32 ? (v) => Number(BigInt.asIntN(32, (v as bigint) / p)) : (v) => wrapLong((v as bigint) / p);
        }
        case "STRING":
          return (v) => parseIntegral(v as string, bits);
        default:
          return undefined;
      }
    }
    case "DOUBLE":
      switch (from.kind) {
        case "INTEGER":
          return identity;
        case "BIGINT":
          return (v) => (typeof v === "bigint" ? Number(v) : v);
        case "DECIMAL": {
          const s = from.scale;
          return (v) => decimalToNumber(v as bigint, s);
        }
        case "STRING":
          return (v) => parseDouble(v as string);
        default:
          return undefined;
      }
    case "DECIMAL": {
      const { precision, scale } = to;
      const p = pow10(scale);
      switch (from.kind) {
        case "INTEGER":
        case "BIGINT":
          return (v) => checkFits(BigInt(v as Long) * p, precision, scale);
        case "DOUBLE":
          return (v) => checkFits(numberToDecimal(v as number, scale), precision, scale);
        case "DECIMAL": {
          const fs = from.scale;
          return (v) => checkFits(rescale(v as bigint, fs, scale), precision, scale);
        }
        case "STRING":
          return (v) => {
            const d = parseDecimal(v as string);
            if (!d) throw new SqlRuntimeError(`Cannot cast '${v as string}' to ${formatType(to)}`);
            return checkFits(rescale(d.unscaled, d.scale, scale), precision, scale);
          };
        default:
          return undefined;
      }
    }
    case "DATE":
      if (from.kind === "STRING") return (v) => parseIsoDate(v as string);
      if (from.kind === "TIMESTAMP") return (v) => Math.floor((v as number) / 86_400_000);
      return undefined;
    case "TIME":
      if (from.kind === "STRING") return (v) => parseIsoTime(v as string);
      if (from.kind === "TIMESTAMP") return (v) => (((v as number) % 86_400_000) + 86_400_000) % 86_400_000;
      return undefined;
    case "TIMESTAMP":
      if (from.kind === "STRING") return (v) => parseIsoTimestamp(v as string);
      if (from.kind === "DATE") return (v) => (v as number) * 86_400_000;
      return undefined;
    case "BYTES":
      return undefined;
    case "ARRAY": {
      if (from.kind !== "ARRAY") return undefined;
      const el = castFunction(from.element, to.element);
      if (!el) return undefined;
      return el === identity ? identity : (v) => (v as unknown[]).map(el);
    }
    case "MAP": {
      if (from.kind !== "MAP") return undefined;
      const k = castFunction(from.key, to.key);
      const val = castFunction(from.value, to.value);
      if (!k || !val) return undefined;
      return (v) => {
        const out = new Map<unknown, unknown>();
        for (const [a, b] of v as Map<unknown, unknown>) out.set(k(a), val(b));
        return out;
      };
    }
    case "STRUCT": {
      if (from.kind !== "STRUCT") return undefined;
      const plan: [string, string | undefined, Cast][] = [];
      for (const f of to.fields) {
        const src = from.fields.find((x) => x.name === f.name);
        if (!src) {
          plan.push([f.name, undefined, identity]);
          continue;
        }
        const c = castFunction(src.type, f.type);
        if (!c) return undefined;
        plan.push([f.name, src.name, c]);
      }
      return (v) => {
        const o = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [name, src, c] of plan) out[name] = src === undefined ? null : c(o[src] ?? null);
        return out;
      };
    }
    case "NULL":
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------------------------

export interface Arithmetic {
  readonly type: SqlType;
  /** The types the operands are converted to (with {@link castFunction}) before `fn` runs. */
  readonly leftType: SqlType;
  readonly rightType: SqlType;
  /** Applies the operator to two non-NULL converted operands. May throw {@link SqlRuntimeError}. */
  readonly fn: (a: unknown, b: unknown) => unknown;
}

/**
 * Types `left op right` for numbers, as ksqlDB does: both operands widen to their common type (INTEGER <
 * BIGINT < DECIMAL < DOUBLE); INTEGER and BIGINT arithmetic wraps like Java ints/longs, `/` truncates toward
 * zero and `/` or `%` by zero fails (NULL in ksqlDB); DOUBLE follows IEEE (x/0 is ±Infinity or NaN); DECIMAL
 * uses {@link decimalResultType} with HALF_UP rounding of quotients, and division by zero fails.
 * Undefined when an operand is not a number (the analyzer reports it). NULL operands are typed as the other
 * side (both NULL: INTEGER); the caller short-circuits NULL values.
 */
export function arithmetic(op: ArithmeticOp, left: SqlType, right: SqlType): Arithmetic | undefined {
  const l = left.kind === "NULL" ? (right.kind === "NULL" ? INTEGER : right) : left;
  const r = right.kind === "NULL" ? l : right;
  if (numericRank(l) === undefined || numericRank(r) === undefined) return undefined;
  if (l.kind === "DOUBLE" || r.kind === "DOUBLE")
    return {
      type: DOUBLE,
      leftType: DOUBLE,
      rightType: DOUBLE,
      fn: doubleOp(op),
    };
  if (l.kind === "DECIMAL" || r.kind === "DECIMAL") {
    const a = toDecimalType(l)!;
    const b = toDecimalType(r)!;
    const type = decimalResultType(op, a, b);
    return {
      type,
      leftType: a,
      rightType: b,
      fn: decimalOp(op, a.scale, b.scale, type.scale),
    };
  }
  if (l.kind === "BIGINT" || r.kind === "BIGINT")
    return {
      type: BIGINT,
      leftType: BIGINT,
      rightType: BIGINT,
      fn: longOp(op),
    };
  return {
    type: INTEGER,
    leftType: INTEGER,
    rightType: INTEGER,
    fn: intOp(op),
  };
}

function doubleOp(op: ArithmeticOp): (a: unknown, b: unknown) => number {
  switch (op) {
    case "+":
      return (a, b) => (a as number) + (b as number);
    case "-":
      return (a, b) => (a as number) - (b as number);
    case "*":
      return (a, b) => (a as number) * (b as number);
    case "/":
      return (a, b) => (a as number) / (b as number);
    case "%":
      return (a, b) => (a as number) % (b as number);
  }
}

const divByZero = (): never => {
  throw new SqlRuntimeError("/ by zero");
};

function intOp(op: ArithmeticOp): (a: unknown, b: unknown) => number {
  switch (op) {
    case "+":
      return (a, b) => ((a as number) + (b as number)) | 0;
    case "-":
      return (a, b) => ((a as number) - (b as number)) | 0;
    case "*":
      return (a, b) => Math.imul(a as number, b as number);
    case "/":
      return (a, b) => ((b as number) === 0 ? divByZero() : ((a as number) / (b as number)) | 0);
    case "%":
      return (a, b) => ((b as number) === 0 ? divByZero() : ((a as number) % (b as number)) | 0);
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// The fast paths below are small so that they inline; the bigint paths stay out of line. Operands are integers,
// so a result within ±(2^53 − 1) is exact (a sum or product beyond it rounds to at least 2^53 in magnitude).

/** BIGINT `a + b` as Java's `long` (wraps): on doubles while the result is a safe integer, else in `bigint`. */
export function addLongs(a: Long, b: Long): Long {
  if (typeof a === "number" && typeof b === "number") {
    const s = a + b;
    if (s <= MAX_SAFE && s >= -MAX_SAFE) return s;
  }
  return addBig(a, b);
}

/** BIGINT `a - b` as Java's `long` (wraps). */
export function subtractLongs(a: Long, b: Long): Long {
  if (typeof a === "number" && typeof b === "number") {
    const s = a - b;
    if (s <= MAX_SAFE && s >= -MAX_SAFE) return s;
  }
  return subtractBig(a, b);
}

/** BIGINT `a * b` as Java's `long` (wraps). */
export function multiplyLongs(a: Long, b: Long): Long {
  if (typeof a === "number" && typeof b === "number") {
    const s = a * b;
    if (s <= MAX_SAFE && s >= -MAX_SAFE) return s === 0 ? 0 : s;
  }
  return multiplyBig(a, b);
}

const addBig = (a: Long, b: Long): Long => wrapLong(BigInt(a) + BigInt(b));
const subtractBig = (a: Long, b: Long): Long => wrapLong(BigInt(a) - BigInt(b));
const multiplyBig = (a: Long, b: Long): Long => wrapLong(BigInt(a) * BigInt(b));

/**
 * BIGINT: the result is exact (doubles while both operands and the result are safe integers, `bigint`
 * otherwise) and wraps at 64 bits like Java's `long`; `/` truncates toward zero.
 */
function longOp(op: ArithmeticOp): (a: unknown, b: unknown) => Long {
  switch (op) {
    case "+":
      return addLongs as (a: unknown, b: unknown) => Long;
    case "-":
      return subtractLongs as (a: unknown, b: unknown) => Long;
    case "*":
      return multiplyLongs as (a: unknown, b: unknown) => Long;
    case "/":
      return (a, b) => {
        if (b === 0) return divByZero();
        if (typeof a === "number" && typeof b === "number") return Math.trunc(a / b) || 0;
        return wrapLong(BigInt(a as Long) / BigInt(b as Long));
      };
    case "%":
      return (a, b) => {
        if (b === 0) return divByZero();
        if (typeof a === "number" && typeof b === "number") return a % b || 0;
        return normalizeLong(BigInt(a as Long) % BigInt(b as Long));
      };
  }
}

function decimalOp(op: ArithmeticOp, ls: number, rs: number, outScale: number): (a: unknown, b: unknown) => bigint {
  switch (op) {
    case "+":
    case "-": {
      const lm = pow10(outScale - ls);
      const rm = pow10(outScale - rs);
      return op === "+"
        ? (a, b) => (a as bigint) * lm + (b as bigint) * rm
        : (a, b) => (a as bigint) * lm - (b as bigint) * rm;
    }
    case "*":
      return (a, b) => (a as bigint) * (b as bigint);
    case "/": {
      // a/10^ls ÷ b/10^rs at scale outScale = a * 10^(outScale - ls + rs) / b.
      const shift = outScale - ls + rs;
      return (a, b) => {
        if ((b as bigint) === 0n) throw new SqlRuntimeError("Division by zero");
        return shift >= 0
          ? divideHalfUp((a as bigint) * pow10(shift), b as bigint)
          : divideHalfUp(a as bigint, (b as bigint) * pow10(-shift));
      };
    }
    case "%": {
      const lm = pow10(outScale - ls);
      const rm = pow10(outScale - rs);
      return (a, b) => {
        if ((b as bigint) === 0n) throw new SqlRuntimeError("Division by zero");
        return ((a as bigint) * lm) % ((b as bigint) * rm);
      };
    }
  }
}

/** Unary minus of a number type: INTEGER/BIGINT wrap like Java, DECIMAL negates the unscaled value. */
export function negate(type: SqlType): ((v: unknown) => unknown) | undefined {
  switch (type.kind) {
    case "INTEGER":
      return (v) => -(v as number) | 0;
    case "BIGINT":
      // -(2^53 − 1) .. 2^53 − 1 is symmetric; beyond, -Long.MIN_VALUE wraps to itself as in Java.
      return (v) => (typeof v === "number" ? -v || 0 : wrapLong(-(v as bigint)));
    case "DOUBLE":
      return (v) => -(v as number);
    case "DECIMAL":
      return (v) => -(v as bigint);
    default:
      return undefined;
  }
}
