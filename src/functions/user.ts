/**
 * User functions: scalar functions, aggregates and table functions written in TypeScript or JavaScript
 * modules, with a declared SQL signature, turned into the registry's {@link FunctionDef}s. This module is
 * pure (a module's exports in, definitions or errors out); `runtime/engine/functions.ts` reads the files.
 *
 * A module exports definitions (named exports, or a default export that is one definition or an array of
 * them); each is a plain object tagged with `kind`:
 *
 * ```ts
 * export const MASK = {
 *   kind: "scalar", name: "MASK", description: "Keeps the last n characters.",
 *   params: ["STRING s", "INTEGER n"], returns: "STRING",
 *   fn: (s: string, n: number) => "*".repeat(Math.max(0, s.length - n)) + s.slice(-n),
 * } satisfies UserScalar;
 * ```
 *
 * Types are written in the signature DSL of `signature.ts`: SQL type names (`STRING`, `ARRAY<INTEGER>`,
 * `MAP<STRING, INTEGER>`, `STRUCT<items MAP<STRING, INTEGER>, total DOUBLE>`), one-letter generic variables
 * (`ARRAY<T>`, bound by the arguments), a trailing `...` for a variadic parameter. Values are the runtime's
 * (`src/types/sqltype.ts`): a MAP is a JS `Map`, a STRUCT an object keyed by its UPPER-CASE field names,
 * BIGINT a number (a bigint beyond 2^53). DECIMAL is not supported in user signatures yet.
 *
 * Contract (documented for users in docs/user-functions.md): functions must be deterministic (the same
 * arguments give the same result; replays and restores rely on it), must not keep state outside their
 * arguments, and return a value of the declared type (`undefined` counts as NULL). An exception or a value
 * of the wrong type makes the call fail as a built-in's failure does: the call is NULL (scalar), the row is
 * dropped (table function) or not folded by that aggregate, and the processing log gets the record's topic,
 * partition and offset, the function, its arguments and the message.
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import type { SqlType } from "../types/sqltype.ts";
import { formatType } from "../types/sqltype.ts";
import { aggregate, scalar, tableFunction, type OverloadSpec } from "./define.ts";
import { type Pattern, parseParam, parsePattern } from "./signature.ts";
import type { Accumulator, FunctionDef, FunctionOrigin } from "./types.ts";

type Fn = (...args: any[]) => unknown;

/** One overload of a user function: parameters and return type in the signature DSL. */
export interface UserOverload {
  /** `"STRING sku"`, `"T value"`, `"INTEGER n..."` (variadic: the last arguments, passed flat). */
  readonly params: readonly string[];
  readonly returns: string;
}

interface UserCommon {
  /** The SQL name (letters, digits, `_`; case-insensitive, shown upper case). */
  readonly name: string;
  readonly description?: string;
  /** Shown by SHOW FUNCTIONS (default `USER`). */
  readonly category?: string;
}

export interface UserScalarOverload extends UserOverload {
  readonly fn: Fn;
  /** `"null"` (default): any NULL argument makes the result NULL without a call; `"call"`: NULLs are passed. */
  readonly nulls?: "null" | "call";
}

export interface UserScalar extends UserCommon, Partial<UserScalarOverload> {
  readonly kind: "scalar";
  /** Several signatures; or give `params`, `returns` and `fn` directly for one. */
  readonly overloads?: readonly UserScalarOverload[];
}

export interface UserAggregateOverload<S = any> extends UserOverload {
  /** The state's SQL type (any type: MAP, ARRAY, STRUCT...); it is stored in the state stores and changelogs. */
  readonly state: string;
  readonly initialize: () => S;
  /** Folds one row's arguments (NULLs included) in; may change `state` in place and return nothing. */
  readonly add: (state: S, ...args: any[]) => S | void;
  /** Undoes an earlier `add` of the same arguments (aggregations over a table: updated or deleted rows). */
  readonly undo?: (state: S, ...args: any[]) => S | void;
  /** Combines two states (session windows that merge); `b` is the later one. */
  readonly merge?: (a: S, b: S) => S;
  /** The result of a state (default: the state itself, when `returns` equals `state`). */
  readonly result?: (state: S) => unknown;
}

export interface UserAggregate<S = any> extends UserCommon, Partial<UserAggregateOverload<S>> {
  readonly kind: "aggregate";
  readonly overloads?: readonly UserAggregateOverload<S>[];
}

export interface UserTableOverload extends UserOverload {
  /** Zero or more values (each one output row) for one input row; `returns` is the type of each. */
  readonly fn: (...args: any[]) => Iterable<unknown> | null | undefined;
}

export interface UserTable extends UserCommon, Partial<UserTableOverload> {
  readonly kind: "table";
  readonly overloads?: readonly UserTableOverload[];
}

export type UserFunction = UserScalar | UserAggregate | UserTable;

/** Failure of a user function at run time; the message names the function and its arguments. */
export class UserFunctionError extends Error {
  override readonly name = "UserFunctionError";
}

export interface UserModuleOptions {
  /** Names already taken (the built-ins and functions of modules loaded before). */
  readonly taken?: (name: string) => boolean;
  /**
   * Call every scalar and table function twice and compare the results (`esql test` does, to catch
   * functions that are not deterministic); off in production.
   */
  readonly checkDeterminism?: boolean;
  readonly origin?: FunctionOrigin;
}

const fn = z.custom<Fn>((v) => typeof v === "function", { message: "must be a function" });
const common = {
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a SQL identifier (letters, digits, _)"),
  description: z.string().optional(),
  category: z.string().optional(),
};
const sig = { params: z.array(z.string()), returns: z.string() };
const scalarOverload = z.strictObject({ ...sig, fn, nulls: z.enum(["null", "call"]).optional() });
const aggregateOverload = z.strictObject({
  ...sig,
  state: z.string(),
  initialize: fn,
  add: fn,
  undo: fn.optional(),
  merge: fn.optional(),
  result: fn.optional(),
});
const tableOverload = z.strictObject({ ...sig, fn });

/** A definition with its overloads either inline or in `overloads` (not both). */
function withOverloads<T extends z.ZodObject>(kind: string, overload: T) {
  const inline = overload.partial().shape;
  return z
    .strictObject({ kind: z.literal(kind), ...common, ...inline, overloads: z.array(overload).min(1).optional() })
    .superRefine((v, ctx) => {
      const keys = Object.keys(overload.shape).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      if (v.overloads && keys.length > 0)
        ctx.addIssue({ code: "custom", message: `give either overloads or ${keys.join(", ")}, not both` });
      if (!v.overloads) {
        const r = overload.safeParse(Object.fromEntries(keys.map((k) => [k, (v as Record<string, unknown>)[k]])));
        if (!r.success) for (const i of r.error.issues) ctx.addIssue({ ...i, code: "custom", message: i.message });
      }
    });
}

const definition = z.discriminatedUnion("kind", [
  withOverloads("scalar", scalarOverload),
  withOverloads("aggregate", aggregateOverload),
  withOverloads("table", tableOverload),
]);

/** True for an export that is meant as a definition (an object with a `kind`). */
function looksLikeDefinition(v: unknown): boolean {
  return typeof v === "object" && v !== null && "kind" in v;
}

/**
 * The definitions a module exports (see the module comment), validated and turned into registry entries.
 * `file` names the module in errors: `file: function NAME: what is wrong`.
 */
export function userFunctionsOf(
  exports: Readonly<Record<string, unknown>>,
  file: string,
  options: UserModuleOptions = {},
): { readonly defs: FunctionDef[]; readonly errors: string[] } {
  const candidates: [string, unknown][] = [];
  for (const [exportName, v] of Object.entries(exports)) {
    if (exportName === "default" && Array.isArray(v)) v.forEach((d, i) => candidates.push([`default[${i}]`, d]));
    else if (looksLikeDefinition(v)) candidates.push([exportName, v]);
  }
  const defs: FunctionDef[] = [];
  const errors: string[] = [];
  if (candidates.length === 0) {
    errors.push(`${file}: exports no function definition (an object with kind "scalar", "aggregate" or "table")`);
  }
  const seen = new Set<string>();
  for (const [exportName, v] of candidates) {
    const label = `${file}: ${describeExport(exportName, v)}`;
    const parsed = definition.safeParse(v);
    if (!parsed.success) {
      for (const i of parsed.error.issues)
        errors.push(`${label}: ${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`);
      continue;
    }
    const d = parsed.data as UserFunction;
    const name = d.name.toUpperCase();
    if (seen.has(name) || options.taken?.(name)) {
      errors.push(`${label}: the name ${name} is already taken (a built-in or another user function)`);
      continue;
    }
    seen.add(name);
    const r = toDef(name, d, options);
    if (typeof r === "string") errors.push(`${label}: ${r}`);
    else defs.push(r);
  }
  return { defs, errors };
}

function describeExport(exportName: string, v: unknown): string {
  const name = typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string";
  return name ? `function ${(v as { name: string }).name.toUpperCase()}` : `export ${exportName}`;
}

/** Checks an overload's types; a message when they are not usable. */
function checkSignature(o: UserOverload, extra: readonly [string, string][] = []): string | undefined {
  const vars = new Set<string>();
  for (const [i, p] of o.params.entries()) {
    try {
      const param = parseParam(p);
      const bad = unsupported(param.pattern);
      if (bad) return `parameter ${i + 1} '${p}': ${bad}`;
      collectVars(param.pattern, vars);
    } catch (e) {
      return `parameter ${i + 1} '${p}': ${patternMessage(e)}`;
    }
  }
  for (const [what, text] of [["returns", o.returns], ...extra] as const) {
    let pattern: Pattern;
    try {
      pattern = parsePattern(text);
    } catch (e) {
      return `${what} '${text}': ${patternMessage(e)}`;
    }
    const bad = unsupported(pattern) ?? open(pattern);
    if (bad) return `${what} '${text}': ${bad}`;
    const used = new Set<string>();
    collectVars(pattern, used);
    for (const v of used) if (!vars.has(v)) return `${what} '${text}': type variable ${v} is not bound by a parameter`;
  }
  return undefined;
}

function patternMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^bad pattern .*?(: |$)/, "") || "not a type";
}

function unsupported(p: Pattern): string | undefined {
  switch (p.k) {
    case "decimal":
      return "DECIMAL is not supported in user function signatures yet (use DOUBLE or STRING)";
    case "lambda":
      return "lambda parameters are not supported in user function signatures";
    case "array":
      return unsupported(p.el);
    case "map":
      return unsupported(p.key) ?? unsupported(p.value);
    case "structOf":
      return p.fields.map((f) => unsupported(f.p)).find((m) => m !== undefined);
    default:
      return undefined;
  }
}

/** Result and state types must be concrete (or generic over the parameters): no ANY or open STRUCT. */
function open(p: Pattern): string | undefined {
  switch (p.k) {
    case "any":
    case "struct":
      return `${p.k === "any" ? "ANY" : "STRUCT without fields"} is only allowed for parameters`;
    case "array":
      return open(p.el);
    case "map":
      return open(p.key) ?? open(p.value);
    case "structOf":
      return p.fields.map((f) => open(f.p)).find((m) => m !== undefined);
    default:
      return undefined;
  }
}

function collectVars(p: Pattern, out: Set<string>): void {
  if (p.k === "var") out.add(p.name);
  else if (p.k === "array") collectVars(p.el, out);
  else if (p.k === "map") {
    collectVars(p.key, out);
    collectVars(p.value, out);
  } else if (p.k === "structOf") for (const f of p.fields) collectVars(f.p, out);
}

function overloadsOf<O>(d: { readonly overloads?: readonly O[] }): readonly O[] {
  return d.overloads ?? [d as unknown as O];
}

function toDef(name: string, d: UserFunction, options: UserModuleOptions): FunctionDef | string {
  const base = {
    name,
    category: d.category ?? "USER",
    description: d.description ?? "",
    ...(options.origin ? { origin: options.origin } : {}),
  };
  switch (d.kind) {
    case "scalar": {
      const overloads = overloadsOf<UserScalarOverload>(d);
      for (const [i, o] of overloads.entries()) {
        const bad = checkSignature(o);
        if (bad) return overloads.length > 1 ? `overload ${i + 1}: ${bad}` : bad;
      }
      return {
        ...scalar({
          ...base,
          overloads: overloads.map((o): OverloadSpec<Fn> => ({
            params: o.params,
            returns: o.returns,
            nulls: o.nulls ?? "null",
            make: (r) => scalarImpl(name, o.fn, r.returnType, r.args.length, options.checkDeterminism === true),
          })),
        }),
        ...base,
      };
    }
    case "aggregate": {
      const overloads = overloadsOf<UserAggregateOverload>(d);
      for (const [i, o] of overloads.entries()) {
        const bad = checkSignature(o, [["state", o.state]]);
        if (bad) return overloads.length > 1 ? `overload ${i + 1}: ${bad}` : bad;
        if (!o.result && o.state.replace(/\s+/g, "") !== o.returns.replace(/\s+/g, ""))
          return `${overloads.length > 1 ? `overload ${i + 1}: ` : ""}result is missing: it may be left out only when returns equals state`;
      }
      return {
        ...aggregate({
          ...base,
          overloads: overloads.map((o) => ({
            params: o.params,
            returns: o.returns,
            make: (r) => userAccumulator(name, o, r.returnType),
          })),
        }),
        supports: { undo: overloads.every((o) => o.undo), merge: overloads.every((o) => o.merge) },
        ...base,
      };
    }
    case "table": {
      const overloads = overloadsOf<UserTableOverload>(d);
      for (const [i, o] of overloads.entries()) {
        const bad = checkSignature(o);
        if (bad) return overloads.length > 1 ? `overload ${i + 1}: ${bad}` : bad;
      }
      return {
        ...tableFunction({
          ...base,
          overloads: overloads.map((o) => ({
            params: o.params,
            returns: o.returns,
            make: (r) => tableImpl(name, o.fn, r.returnType, options.checkDeterminism === true),
          })),
        }),
        ...base,
      };
    }
  }
}

/**
 * Why a user aggregate cannot serve a query: over a table it must undo, in session windows merge (as ksqlDB
 * requires of its UDAFs); undefined when it can (and for built-ins).
 */
export function lifecycleProblem(
  def: FunctionDef | undefined,
  overTable: boolean,
  sessions: boolean,
): string | undefined {
  if (def?.kind !== "aggregate" || !def.supports) return undefined;
  if (overTable && !def.supports.undo)
    return `The user aggregate ${def.name} has no undo: it cannot aggregate a table (updated and deleted rows must be undone).`;
  if (sessions && !def.supports.merge)
    return `The user aggregate ${def.name} has no merge: it cannot aggregate session windows (sessions that merge combine their states).`;
  return undefined;
}

/** `NAME(a, b)` with the arguments shown as JSON-like text, for error messages. */
function callText(name: string, args: readonly unknown[]): string {
  return `${name}(${args.map(showValue).join(", ")})`;
}

function showValue(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x: unknown) =>
      typeof x === "bigint" ? x.toString() : x instanceof Map ? Object.fromEntries(x) : x,
    );
    if (s === undefined) return String(v);
    return s.length > 200 ? `${s.slice(0, 197)}...` : s;
  } catch {
    return String(v);
  }
}

function failure(what: string, e: unknown): UserFunctionError {
  return new UserFunctionError(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
}

function scalarImpl(name: string, f: Fn, returnType: SqlType, arity: number, twice: boolean): Fn {
  const check = valueCheck(returnType);
  /** The checks after a call that did not throw: the declared type, and determinism in test runs. */
  const checked = (v: unknown, args: readonly unknown[]): unknown => {
    if (v === undefined) v = null;
    const bad = check(v);
    if (bad !== undefined) throw wrongType(callText(name, args), returnType, v, bad);
    if (twice) {
      let again: unknown;
      try {
        again = f(...args);
      } catch (e) {
        throw failure(callText(name, args), e);
      }
      if (!isDeepStrictEqual(again ?? null, v)) throw notDeterministic(callText(name, args), v, again);
    }
    return v;
  };
  const fail = (e: unknown, args: readonly unknown[]): never => {
    throw failure(callText(name, args), e);
  };
  // Specialised by arity: no rest arguments or spread calls on the hot path for the common cases.
  switch (twice ? -1 : arity) {
    case 1:
      return (a: unknown) => {
        let v: unknown;
        try {
          v = f(a);
        } catch (e) {
          fail(e, [a]);
        }
        if (v === undefined) return null;
        return check(v) === undefined ? v : checked(v, [a]);
      };
    case 2:
      return (a: unknown, b: unknown) => {
        let v: unknown;
        try {
          v = f(a, b);
        } catch (e) {
          fail(e, [a, b]);
        }
        if (v === undefined) return null;
        return check(v) === undefined ? v : checked(v, [a, b]);
      };
    default:
      return (...args: unknown[]) => {
        let v: unknown;
        try {
          v = f(...args);
        } catch (e) {
          fail(e, args);
        }
        return checked(v, args);
      };
  }
}

function tableImpl(name: string, f: Fn, elementType: SqlType, twice: boolean): (...a: unknown[]) => unknown[] {
  const check = valueCheck(elementType);
  const call = (args: unknown[]): unknown[] => {
    let out: unknown[];
    try {
      const r = f(...args) as Iterable<unknown> | null | undefined;
      out = r === null || r === undefined ? [] : Array.from(r);
    } catch (e) {
      throw failure(callText(name, args), e);
    }
    for (let i = 0; i < out.length; i++) {
      if (out[i] === undefined) out[i] = null;
      const bad = check(out[i]);
      if (bad !== undefined) throw wrongType(`${callText(name, args)} row ${i + 1}`, elementType, out[i], bad);
    }
    return out;
  };
  return (...args: unknown[]) => {
    const out = call(args);
    if (twice) {
      const again = call(args);
      if (!isDeepStrictEqual(again, out)) throw notDeterministic(callText(name, args), out, again);
    }
    return out;
  };
}

function userAccumulator(name: string, o: UserAggregateOverload, returnType: SqlType): Accumulator {
  const check = valueCheck(returnType);
  // States are folded in place: a result that is (part of) the state must not change with later rows.
  const copy = ["ARRAY", "MAP", "STRUCT"].includes(returnType.kind) ? structuredClone : (v: unknown) => v;
  const { initialize, add, undo, merge, result } = o;
  return {
    init: () => {
      try {
        return initialize();
      } catch (e) {
        throw failure(`${name}: initialize()`, e);
      }
    },
    add: (s, args) => {
      try {
        const r = add(s, ...args);
        return r === undefined ? s : r;
      } catch (e) {
        throw failure(`${name}: add ${callText("", args)}`, e);
      }
    },
    ...(undo
      ? {
          retract: (s: unknown, args: readonly unknown[]) => {
            try {
              const r = undo(s, ...args);
              return r === undefined ? s : r;
            } catch (e) {
              throw failure(`${name}: undo ${callText("", args)}`, e);
            }
          },
        }
      : {}),
    ...(merge
      ? {
          merge: (a: unknown, b: unknown) => {
            try {
              return merge(a, b);
            } catch (e) {
              throw failure(`${name}: merge`, e);
            }
          },
        }
      : {}),
    result: (s) => {
      let v: unknown;
      try {
        v = result ? result(s) : s;
      } catch (e) {
        throw failure(`${name}: result(${showValue(s)})`, e);
      }
      if (v === undefined) v = null;
      const bad = check(v);
      if (bad !== undefined) throw wrongType(`${name}: result(${showValue(s)})`, returnType, v, bad);
      return copy(v);
    },
  };
}

function wrongType(what: string, t: SqlType, v: unknown, bad: string): UserFunctionError {
  return new UserFunctionError(`${what} returned ${showValue(v)}, not a ${formatType(t)}: ${bad}`);
}

function notDeterministic(what: string, first: unknown, second: unknown): UserFunctionError {
  return new UserFunctionError(
    `${what} is not deterministic: it returned ${showValue(first)}, then ${showValue(second)} for the same arguments`,
  );
}

/** A check that a value (NULL allowed) has the runtime representation of `t`; a reason when it does not. */
export function valueCheck(t: SqlType): (v: unknown) => string | undefined {
  const inner = checkOf(t);
  return (v) => (v === null ? undefined : inner(v));
}

function checkOf(t: SqlType): (v: unknown) => string | undefined {
  const nullable = (c: (v: unknown) => string | undefined) => (v: unknown) => (v === null ? undefined : c(v));
  switch (t.kind) {
    case "BOOLEAN":
      return (v) => (typeof v === "boolean" ? undefined : "expected a boolean");
    case "STRING":
      return (v) => (typeof v === "string" ? undefined : "expected a string");
    case "INTEGER":
      return (v) => (typeof v === "number" && (v | 0) === v ? undefined : "expected a 32-bit integer");
    case "BIGINT":
      return (v) =>
        typeof v === "number"
          ? Number.isSafeInteger(v)
            ? undefined
            : "expected an integer"
          : typeof v === "bigint"
            ? undefined
            : "expected an integer";
    case "DOUBLE":
      return (v) => (typeof v === "number" ? undefined : "expected a number");
    case "DATE":
    case "TIME":
    case "TIMESTAMP":
      return (v) => (typeof v === "number" && Number.isInteger(v) ? undefined : "expected an integer number");
    case "BYTES":
      return (v) => (v instanceof Uint8Array ? undefined : "expected a Uint8Array or Buffer");
    case "DECIMAL":
      return (v) => (typeof v === "bigint" ? undefined : "expected a bigint (the unscaled decimal)");
    case "ARRAY": {
      const el = nullable(checkOf(t.element));
      return (v) => {
        if (!Array.isArray(v)) return "expected an array";
        for (let i = 0; i < v.length; i++) {
          if (v[i] === undefined) v[i] = null;
          const bad = el(v[i]);
          if (bad) return `element ${i + 1}: ${bad}`;
        }
        return undefined;
      };
    }
    case "MAP": {
      const k = checkOf(t.key);
      const val = nullable(checkOf(t.value));
      return (v) => {
        if (!(v instanceof Map)) return "expected a Map";
        for (const [key, x] of v) {
          const bad = key === null || key === undefined ? "a NULL key" : k(key);
          if (bad) return `key ${showValue(key)}: ${bad}`;
          if (x === undefined) v.set(key, null);
          const badV = val(x ?? null);
          if (badV) return `value of ${showValue(key)}: ${badV}`;
        }
        return undefined;
      };
    }
    case "STRUCT": {
      const fields = t.fields.map((f) => ({ name: f.name, check: nullable(checkOf(f.type)) }));
      return (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Map)
          return "expected an object (a STRUCT)";
        const o = v as Record<string, unknown>;
        for (const f of fields) {
          if (o[f.name] === undefined) o[f.name] = null;
          const bad = f.check(o[f.name]);
          if (bad) return `field ${f.name}: ${bad}`;
        }
        return undefined;
      };
    }
    case "NULL":
      return () => undefined;
  }
}
