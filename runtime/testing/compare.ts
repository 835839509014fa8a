/** Value comparison for test expectations: JSON-like deep equality where numbers compare by value. */

export function sameValue(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  if (expected === null || actual === null || expected === undefined || actual === undefined) {
    return (expected ?? null) === (actual ?? null);
  }
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
    const ek = Object.keys(expected as object);
    const ak = Object.keys(actual as object);
    if (ek.length !== ak.length) return false;
    return ek.every(
      (k) =>
        k in (actual as object) &&
        sameValue((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]),
    );
  }
  return false;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

/** Compact one-line JSON for diffs (bigints as numbers). */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x)) ?? "undefined";
}
