/**
 * The signature DSL the function families use: parameter patterns written as text (`"STRING"`,
 * `"ARRAY<T>"`, `"MAP<K, V>"`, `"DECIMAL"` for any decimal, `"STRUCT"` for any struct, `"ANY"` for any type,
 * `"FN(T) -> U"` for a lambda, a trailing `...` for a variadic tail), and the overload resolution over them.
 *
 * Resolution, as ksqlDB does it: an argument matches a parameter exactly or through an implicit widening
 * (INTEGER < BIGINT < DECIMAL < DOUBLE); generic variables bind to the common super type of every argument
 * bound to them; an untyped NULL matches any parameter. Among the overloads that match, the one needing
 * the fewest widenings wins; a tie between different overloads is reported as ambiguous.
 */
import {
  type SqlType,
  BIGINT,
  BOOLEAN,
  BYTES,
  DATE,
  DOUBLE,
  INTEGER,
  NULL_TYPE,
  STRING,
  TIME,
  TIMESTAMP,
  formatType,
  typeEquals,
} from "../types/sqltype.ts";
import { canImplicitlyCast, commonSuperType, toDecimalType } from "../types/values.ts";
import type { ArgInfo } from "./types.ts";

export type Pattern =
  | { readonly k: "exact"; readonly t: SqlType }
  | { readonly k: "decimal" }
  | { readonly k: "struct" }
  /** A struct with these fields (names upper case, as SQL sees unquoted names), in order. */
  | { readonly k: "structOf"; readonly fields: readonly { readonly name: string; readonly p: Pattern }[] }
  | { readonly k: "any" }
  | { readonly k: "var"; readonly name: string }
  | { readonly k: "array"; readonly el: Pattern }
  | { readonly k: "map"; readonly key: Pattern; readonly value: Pattern }
  | {
      readonly k: "lambda";
      readonly params: readonly Pattern[];
      readonly ret: Pattern;
    };

const PRIMS: Record<string, SqlType> = {
  BOOLEAN,
  INTEGER,
  INT: INTEGER,
  BIGINT,
  DOUBLE,
  STRING,
  VARCHAR: STRING,
  BYTES,
  DATE,
  TIME,
  TIMESTAMP,
};

/** Parses a pattern text; throws on a malformed one (a bug in a function definition). */
export function parsePattern(text: string): Pattern {
  let i = 0;
  const s = text.trim();
  const ws = (): void => {
    while (s[i] === " ") i++;
  };
  const word = (): string => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!m) throw new Error(`bad pattern ${text} at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const eat = (c: string): void => {
    ws();
    if (!s.startsWith(c, i)) throw new Error(`bad pattern ${text}: expected ${c} at ${i}`);
    i += c.length;
  };
  const one = (): Pattern => {
    const w = word();
    switch (w) {
      case "ARRAY": {
        eat("<");
        const el = one();
        eat(">");
        return { k: "array", el };
      }
      case "MAP": {
        eat("<");
        const key = one();
        eat(",");
        const value = one();
        eat(">");
        return { k: "map", key, value };
      }
      case "FN": {
        eat("(");
        const params: Pattern[] = [];
        ws();
        while (s[i] !== ")") {
          params.push(one());
          ws();
          if (s[i] === ",") i++;
        }
        eat(")");
        eat("->");
        return { k: "lambda", params, ret: one() };
      }
      case "DECIMAL":
        return { k: "decimal" };
      case "STRUCT": {
        ws();
        if (s[i] !== "<") return { k: "struct" };
        eat("<");
        const fields: { name: string; p: Pattern }[] = [];
        for (;;) {
          const name = word().toUpperCase();
          if (fields.some((f) => f.name === name)) throw new Error(`bad pattern ${text}: field ${name} twice`);
          fields.push({ name, p: one() });
          ws();
          if (s[i] !== ",") break;
          i++;
        }
        eat(">");
        return { k: "structOf", fields };
      }
      case "ANY":
        return { k: "any" };
      default: {
        const t = PRIMS[w];
        if (t) return { k: "exact", t };
        if (/^[A-Z]$/.test(w)) return { k: "var", name: w };
        throw new Error(`bad pattern ${text}: unknown type ${w}`);
      }
    }
  };
  const p = one();
  ws();
  if (i !== s.length) throw new Error(`bad pattern ${text}: trailing text`);
  return p;
}

export function formatPattern(p: Pattern): string {
  switch (p.k) {
    case "exact":
      return formatType(p.t);
    case "decimal":
      return "DECIMAL";
    case "struct":
      return "STRUCT";
    case "structOf":
      return `STRUCT<${p.fields.map((f) => `${f.name} ${formatPattern(f.p)}`).join(", ")}>`;
    case "any":
      return "ANY";
    case "var":
      return p.name;
    case "array":
      return `ARRAY<${formatPattern(p.el)}>`;
    case "map":
      return `MAP<${formatPattern(p.key)}, ${formatPattern(p.value)}>`;
    case "lambda":
      return `LAMBDA (${p.params.map(formatPattern).join(", ")}) => ${formatPattern(p.ret)}`;
  }
}

/** One parameter: `"STRING str"`, `"ARRAY<T> list"`, `"INTEGER len..."` (variadic, last only). */
export interface Param {
  readonly pattern: Pattern;
  readonly name: string;
  readonly variadic: boolean;
  /** The literal text, for signatures. */
  readonly text: string;
}

export function parseParam(text: string): Param {
  let t = text.trim();
  const variadic = t.endsWith("...");
  if (variadic) t = t.slice(0, -3).trim();
  // The name is the last word when it is lower case or there is a space outside <...>.
  let depth = 0;
  let split = -1;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === "<" || c === "(") depth++;
    else if ((c === ">" && t[i - 1] !== "-") || c === ")") depth--;
    else if (c === " " && depth === 0) split = i;
  }
  const last = split >= 0 ? t.slice(split + 1) : "";
  const hasName = split >= 0 && /^[a-z_][A-Za-z0-9_]*$/.test(last);
  const typeText = hasName ? t.slice(0, split) : t;
  return {
    pattern: parsePattern(typeText),
    name: hasName ? last : "",
    variadic,
    text: `${typeText}${hasName ? ` ${last}` : ""}${variadic ? "..." : ""}`,
  };
}

export type Bindings = Map<string, SqlType>;

/** Where an overload matched: the converted argument types, the bindings, the lambda parameter types, the cost. */
export interface Match {
  readonly argTypes: readonly SqlType[];
  readonly bindings: Bindings;
  readonly lambdaParams: ReadonlyMap<number, readonly SqlType[]>;
  /** Lambda body types by argument index. */
  readonly lambdaBodies: ReadonlyMap<number, SqlType>;
  /** Number of arguments that need an implicit widening (0 = exact). */
  readonly cost: number;
}

/** The parameter pattern for argument `i` given the params (variadic tail repeats). */
function paramFor(params: readonly Param[], i: number, n: number): Param | undefined {
  const v = params.findIndex((p) => p.variadic);
  if (v < 0) return params[i];
  const after = params.length - v - 1;
  if (i < v) return params[i];
  if (i >= n - after) return params[params.length - (n - i)];
  return params[v];
}

export function arityMatches(params: readonly Param[], n: number): boolean {
  const v = params.some((p) => p.variadic);
  return v ? n >= params.length - 1 : n === params.length;
}

/** Collects the types bound to variables by matching `t` against `p`; false when the shapes differ. */
function collect(p: Pattern, t: SqlType, acc: Map<string, SqlType[]>, strLit = false): boolean {
  if (t.kind === "NULL") return true;
  switch (p.k) {
    case "exact":
      return typeEquals(p.t, t) || canImplicitlyCast(t, p.t) || (strLit && isTemporal(p.t));
    case "decimal":
      return t.kind === "DECIMAL" || t.kind === "INTEGER" || t.kind === "BIGINT";
    case "struct":
      return t.kind === "STRUCT";
    case "structOf":
      return (
        t.kind === "STRUCT" &&
        t.fields.length === p.fields.length &&
        p.fields.every((f, j) => t.fields[j]!.name === f.name && collect(f.p, t.fields[j]!.type, acc))
      );
    case "any":
      return true;
    case "var": {
      // A string literal bound to a variable is recorded under a marked name; see bindVariables.
      const key = strLit ? `${p.name}'` : p.name;
      const l = acc.get(key);
      if (l) l.push(t);
      else acc.set(key, [t]);
      return true;
    }
    case "array":
      return t.kind === "ARRAY" && collect(p.el, t.element, acc);
    case "map":
      return t.kind === "MAP" && collect(p.key, t.key, acc) && collect(p.value, t.value, acc);
    case "lambda":
      return false;
  }
}

/** The concrete type of a pattern under bindings; `actual` fills the open parts (DECIMAL, STRUCT, ANY). */
export function instantiate(p: Pattern, b: Bindings, actual: SqlType = NULL_TYPE): SqlType {
  switch (p.k) {
    case "exact":
      return p.t;
    case "decimal":
      return toDecimalType(actual) ?? actual;
    case "struct":
    case "any":
      return actual;
    case "structOf":
      return {
        kind: "STRUCT",
        fields: p.fields.map((f, j) => ({
          name: f.name,
          type: instantiate(f.p, b, actual.kind === "STRUCT" ? (actual.fields[j]?.type ?? NULL_TYPE) : NULL_TYPE),
        })),
      };
    case "var":
      return b.get(p.name) ?? NULL_TYPE;
    case "array":
      return {
        kind: "ARRAY",
        element: instantiate(p.el, b, actual.kind === "ARRAY" ? actual.element : NULL_TYPE),
      };
    case "map":
      return {
        kind: "MAP",
        key: instantiate(p.key, b, actual.kind === "MAP" ? actual.key : NULL_TYPE),
        value: instantiate(p.value, b, actual.kind === "MAP" ? actual.value : NULL_TYPE),
      };
    case "lambda":
      return actual;
  }
}

/** Tries to match `args` against `params`; undefined when they do not match. */
export function matchParams(params: readonly Param[], args: readonly ArgInfo[]): Match | undefined {
  const n = args.length;
  if (!arityMatches(params, n)) return undefined;
  const acc = new Map<string, SqlType[]>();
  // Value arguments first: they bind the variables the lambdas' parameters use.
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    const p = paramFor(params, i, n)!;
    if (a.kind === "lambda") {
      if (p.pattern.k !== "lambda" || p.pattern.params.length !== a.arity) return undefined;
      continue;
    }
    if (p.pattern.k === "lambda") return undefined;
    if (!collect(p.pattern, a.type, acc, isStringLiteral(a))) return undefined;
  }
  const bindings = bindVariables(acc);
  if (!bindings) return undefined;
  const lambdaParams = new Map<number, readonly SqlType[]>();
  const lambdaBodies = new Map<number, SqlType>();
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    if (a.kind !== "lambda") continue;
    const p = paramFor(params, i, n)!.pattern as Extract<Pattern, { k: "lambda" }>;
    const ptypes = p.params.map((q) => instantiate(q, bindings));
    const body = a.typeBody(ptypes);
    if ("error" in body) return undefined;
    if (p.ret.k === "var") {
      const bound = bindings.get(p.ret.name);
      if (!bound) bindings.set(p.ret.name, body);
      else {
        const w = commonSuperType([bound, body]);
        if (!w) return undefined;
        bindings.set(p.ret.name, w);
      }
    } else if (!collect(p.ret, body, new Map())) return undefined;
    lambdaParams.set(i, ptypes);
    lambdaBodies.set(i, body);
  }
  let cost = 0;
  const argTypes: SqlType[] = [];
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    const p = paramFor(params, i, n)!;
    if (a.kind === "lambda") {
      argTypes.push(NULL_TYPE);
      continue;
    }
    const target = instantiate(p.pattern, bindings, a.type);
    if (!canImplicitlyCast(a.type, target) && !(isStringLiteral(a) && isTemporal(target))) return undefined;
    if (a.type.kind !== "NULL" && !typeEquals(a.type, target)) cost++;
    argTypes.push(target);
  }
  return { argTypes, bindings, lambdaParams, lambdaBodies, cost };
}

const isTemporal = (t: SqlType): boolean => t.kind === "DATE" || t.kind === "TIME" || t.kind === "TIMESTAMP";

/** ksqlDB converts a STRING literal to DATE/TIME/TIMESTAMP where one is expected (`GREATEST(d, '2021-01-01')`). */
function isStringLiteral(a: ArgInfo): boolean {
  return a.kind === "value" && a.type.kind === "STRING" && a.literal !== undefined;
}

/**
 * Binds each variable to the common super type of what it matched. String literals (recorded under
 * `name'`) join that only when the variable has no temporal type, which they convert to instead.
 */
function bindVariables(acc: Map<string, SqlType[]>): Bindings | undefined {
  const bindings: Bindings = new Map();
  for (const [name, types] of acc) {
    if (name.endsWith("'")) continue;
    const lits = acc.get(`${name}'`) ?? [];
    const t = commonSuperType(types.some(isTemporal) ? types : [...types, ...lits]);
    if (!t) return undefined;
    bindings.set(name, t);
  }
  for (const [name, types] of acc) {
    if (name.endsWith("'") && !bindings.has(name.slice(0, -1))) {
      const t = commonSuperType(types);
      if (!t) return undefined;
      bindings.set(name.slice(0, -1), t);
    }
  }
  return bindings;
}

/** `(STRING, INTEGER)` for an error message; an untyped NULL prints as `null`. */
export function describeArgs(args: readonly ArgInfo[]): string {
  return `(${args.map((a) => (a.kind === "lambda" ? `LAMBDA(${a.arity})` : a.type.kind === "NULL" ? "null" : formatType(a.type))).join(", ")})`;
}
