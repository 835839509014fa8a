/** Value comparison for test expectations: JSON-like deep equality where numbers compare by value. */
import { JsonNumber } from "../serde/json.ts";

export function sameValue(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  if (expected === null || actual === null || expected === undefined || actual === undefined) {
    return (expected ?? null) === (actual ?? null);
  }
  // A number read with its digits (DECIMAL) matches text naming the same decimal at the same scale, as
  // ksqlDB's test harness compares text with a BigDecimal (`"3.40"` matches 3.40, not 3.4).
  if (typeof expected === "string" && actual instanceof JsonNumber) return sameDecimal(expected, actual.text);
  if (
    typeof expected === "number" ||
    typeof actual === "number" ||
    typeof expected === "bigint" ||
    typeof actual === "bigint"
  ) {
    const a = toNumber(expected);
    const b = toNumber(actual);
    return a !== undefined && b !== undefined && (a === b || (Number.isNaN(a) && Number.isNaN(b)));
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => sameValue(e, actual[i]))
    );
  }
  if (typeof expected === "object" && typeof actual === "object") {
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const ek = Object.keys(e);
    if (ek.length !== Object.keys(a).length) return false;
    // As ksqlDB's test harness compares (same number of fields, then field by field): an expected field
    // name not found as written (or null there) is looked up upper-cased, so `{"total": 1}` matches the
    // column TOTAL that the unquoted alias `total` names; a field found under neither name reads as null.
    const field = (k: string): unknown => (Object.hasOwn(a, k) ? a[k] : undefined);
    return ek.every((k) => sameValue(e[k], field(k) ?? field(k.toUpperCase()) ?? null));
  }
  return false;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof JsonNumber) return Number(v.text);
  return undefined;
}

/** Java's `new BigDecimal(a).equals(new BigDecimal(b))`: same unscaled value and scale; false for text that is no decimal. */
function sameDecimal(a: string, b: string): boolean {
  const x = decimalParts(a);
  const y = decimalParts(b);
  return x !== undefined && y !== undefined && x.unscaled === y.unscaled && x.scale === y.scale;
}

function decimalParts(text: string): { unscaled: bigint; scale: number } | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const fraction = m[3] ?? "";
  const unscaled = BigInt(`${m[1]}${m[2]}${fraction}` || "0");
  return { unscaled, scale: fraction.length - Number(m[4] ?? 0) };
}

/** Compact one-line JSON for diffs (bigints as numbers). */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x)) ?? "undefined";
}
