/**
 * Helpers to define functions concisely. Each overload lists its parameters in the pattern DSL of
 * `signature.ts`, a return type (a pattern over the bound variables, or a function of the resolved argument
 * types), and an implementation (`impl`, or `make` to build a closure specialised for the resolved types).
 *
 * By default a scalar overload is strict: any NULL argument gives NULL without calling `impl`
 * (most ksqlDB functions behave so). Set `nulls: "call"` for functions that handle NULLs themselves.
 */
import type { SqlType } from "../types/sqltype.ts";
import { formatType } from "../types/sqltype.ts";
import {
  type Bindings,
  type Match,
  type Param,
  type Pattern,
  describeArgs,
  formatPattern,
  instantiate,
  matchParams,
  parseParam,
  parsePattern,
} from "./signature.ts";
import type {
  Accumulator,
  AggregateFunction,
  ArgInfo,
  Resolution,
  ResolvedAggregate,
  ResolvedScalar,
  ResolvedTableFunction,
  ScalarFunction,
  TableFunction,
} from "./types.ts";

/** What an overload's `returns` / `make` sees once its parameters matched. */
export interface Resolved {
  readonly args: readonly ArgInfo[];
  /** The types the arguments are converted to. */
  readonly argTypes: readonly SqlType[];
  readonly bindings: Bindings;
  readonly lambdaBodies: ReadonlyMap<number, SqlType>;
  /** The literal value of argument i, if it is a literal. */
  literal(i: number): unknown;
}

export type ReturnRule = string | ((r: Resolved) => SqlType | { readonly error: string });

type Impl = (...args: any[]) => unknown;

export interface OverloadSpec<I> {
  readonly params: readonly string[];
  readonly returns: ReturnRule;
  readonly impl?: I;
  /** Builds the implementation for the resolved types (once per call site). */
  readonly make?: (r: Resolved & { readonly returnType: SqlType }) => I;
  /** Scalars only: `"null"` (default) returns NULL when any argument is NULL; `"call"` always calls. */
  readonly nulls?: "null" | "call";
}

interface CompiledOverload<I> {
  readonly spec: OverloadSpec<I>;
  readonly params: readonly Param[];
  readonly ret: Pattern | ((r: Resolved) => SqlType | { readonly error: string });
  readonly signature: string;
}

export interface FunctionSpec<I> {
  readonly name: string;
  readonly category: string;
  readonly description: string;
  readonly overloads: readonly OverloadSpec<I>[];
}

function compile<I>(name: string, o: OverloadSpec<I>): CompiledOverload<I> {
  const params = o.params.map(parseParam);
  const ret = typeof o.returns === "string" ? parsePattern(o.returns) : o.returns;
  const retText = typeof o.returns === "string" ? formatPattern(ret as Pattern) : "";
  const signature = `${name}(${params.map((p) => p.text).join(", ")})${retText ? ` -> ${retText}` : ""}`;
  return { spec: o, params, ret, signature };
}

/** Finds the best overload for `args` or a message listing what exists. */
function choose<I>(
  name: string,
  overloads: readonly CompiledOverload<I>[],
  args: readonly ArgInfo[],
): Resolution<{
  o: CompiledOverload<I>;
  m: Match;
  returnType: SqlType;
  resolved: Resolved;
}> {
  let best: { o: CompiledOverload<I>; m: Match } | undefined;
  let ambiguous = false;
  for (const o of overloads) {
    const m = matchParams(o.params, args);
    if (!m) continue;
    const variadic = o.params.some((p) => p.variadic) ? 0.5 : 0;
    const bestVariadic = best && best.o.params.some((p) => p.variadic) ? 0.5 : 0;
    if (!best || m.cost + variadic < best.m.cost + bestVariadic) {
      best = { o, m };
      ambiguous = false;
    } else if (m.cost + variadic === best.m.cost + bestVariadic) ambiguous = true;
  }
  if (!best) {
    return {
      ok: false,
      message:
        `Function '${name}' does not accept parameters ${describeArgs(args)}.\n` +
        `Valid alternatives are:\n${overloads.map((o) => o.signature).join("\n")}`,
    };
  }
  // A tie between overloads that need widenings (e.g. GREATEST(INTEGER, BIGINT)) is ambiguous in ksqlDB;
  // exact matches never tie since overloads differ.
  if (ambiguous && best.m.cost > 0) {
    return {
      ok: false,
      message: `Function '${name}' cannot be resolved due to ambiguous method parameters ${describeArgs(args)}.`,
    };
  }
  const { o, m } = best;
  const resolved: Resolved = {
    args,
    argTypes: m.argTypes,
    bindings: m.bindings,
    lambdaBodies: m.lambdaBodies,
    literal: (i) => {
      const a = args[i];
      return a && a.kind === "value" && a.literal ? a.literal.value : undefined;
    },
  };
  let returnType: SqlType;
  if (typeof o.ret === "function") {
    const r = o.ret(resolved);
    if ("error" in r) return { ok: false, message: r.error };
    returnType = r;
  } else {
    // Open patterns in the return (DECIMAL, STRUCT) take the first argument's type: ROUND(DECIMAL) etc.
    returnType = instantiate(o.ret, m.bindings, m.argTypes[0]);
  }
  return { ok: true, value: { o, m, returnType, resolved } };
}

function buildImpl<I>(o: CompiledOverload<I>, resolved: Resolved, returnType: SqlType): I {
  if (o.spec.make) return o.spec.make({ ...resolved, returnType });
  if (!o.spec.impl) throw new Error(`overload ${o.signature} has neither impl nor make`);
  return o.spec.impl;
}

/** Wraps `f` to return NULL when any argument is NULL, specialised by arity for the hot path. */
export function strict(f: Impl, arity: number): Impl {
  switch (arity) {
    case 0:
      return f;
    case 1:
      return (a) => (a === null ? null : f(a));
    case 2:
      return (a, b) => (a === null || b === null ? null : f(a, b));
    case 3:
      return (a, b, c) => (a === null || b === null || c === null ? null : f(a, b, c));
    default:
      return (...xs: unknown[]) => {
        for (const x of xs) if (x === null) return null;
        return f(...xs);
      };
  }
}

export function scalar(spec: FunctionSpec<Impl>): ScalarFunction {
  const overloads = spec.overloads.map((o) => compile(spec.name, o));
  return {
    kind: "scalar",
    name: spec.name,
    category: spec.category,
    description: spec.description,
    signatures: overloads.map((o) => o.signature),
    resolve(args): Resolution<ResolvedScalar> {
      const c = choose(spec.name, overloads, args);
      if (!c.ok) return c;
      const { o, m, returnType, resolved } = c.value;
      const raw = buildImpl(o, resolved, returnType);
      const impl = o.spec.nulls === "call" ? raw : strict(raw, args.length);
      return {
        ok: true,
        value: {
          returnType,
          argTypes: m.argTypes,
          ...(m.lambdaParams.size ? { lambdaParams: m.lambdaParams } : {}),
          impl,
        },
      };
    },
  };
}

export function tableFunction(spec: FunctionSpec<(...args: any[]) => readonly unknown[]>): TableFunction {
  const overloads = spec.overloads.map((o) => compile(spec.name, o));
  return {
    kind: "table",
    name: spec.name,
    category: spec.category,
    description: spec.description,
    signatures: overloads.map((o) => o.signature),
    resolve(args): Resolution<ResolvedTableFunction> {
      const c = choose(spec.name, overloads, args);
      if (!c.ok) return c;
      const { o, m, returnType, resolved } = c.value;
      return {
        ok: true,
        value: {
          returnType,
          argTypes: m.argTypes,
          impl: buildImpl(o, resolved, returnType),
        },
      };
    },
  };
}

/** An aggregate overload: `rowArgs` leading parameters are per row; the rest must be literals. */
export interface AggregateOverload extends OverloadSpec<Accumulator<any>> {
  readonly rowArgs?: number;
}

export function aggregate(
  spec: Omit<FunctionSpec<Accumulator<any>>, "overloads"> & {
    readonly overloads: readonly AggregateOverload[];
  },
): AggregateFunction {
  const overloads = spec.overloads.map((o) => compile(spec.name, o));
  return {
    kind: "aggregate",
    name: spec.name,
    category: spec.category,
    description: spec.description,
    signatures: overloads.map((o) => o.signature),
    resolve(args): Resolution<ResolvedAggregate> {
      const c = choose(spec.name, overloads, args);
      if (!c.ok) return c;
      const { o, m, returnType, resolved } = c.value;
      const rowArgCount = (o.spec as AggregateOverload).rowArgs ?? args.length;
      for (let i = rowArgCount; i < args.length; i++) {
        const a = args[i]!;
        if (a.kind !== "value" || !a.literal) {
          return {
            ok: false,
            message: `${spec.name}: argument ${i + 1} must be a literal (found a ${a.kind === "value" ? formatType(a.type) : "lambda"} expression)`,
          };
        }
      }
      return {
        ok: true,
        value: {
          returnType,
          argTypes: m.argTypes,
          rowArgCount,
          accumulator: buildImpl(o, resolved, returnType),
        },
      };
    },
  };
}
