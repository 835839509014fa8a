/**
 * The end of an exhaustive switch over a discriminated union: `default: return assertNever(x)`. The call
 * does not compile while a kind is left unhandled (then `x` is not `never`), so adding a kind to a union
 * points at every switch that must learn it. At run time it throws: a value the types rule out arrived
 * anyway, which is an internal bug.
 */
export function assertNever(x: never, what = "kind"): never {
  const kind = typeof x === "object" && x !== null && "kind" in x ? (x as { kind: unknown }).kind : x;
  throw new Error(`internal error: unexpected ${what} ${JSON.stringify(kind)}`);
}
