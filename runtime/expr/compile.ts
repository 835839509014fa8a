/**
 * Compiles typed expressions (`TExpr`, the physical plan's expression form) into JavaScript functions,
 * once per query: the hot path never walks an expression tree.
 *
 * The generated code reads columns by position from the input row array, short-circuits SQL NULLs, and
 * calls specialised closures (casts, arithmetic, comparisons, function implementations) that were chosen
 * from the static types at compile time. A failure while evaluating (a bad CAST, a division by zero, a
 * function that throws) makes that call NULL and is reported through `onError`, as ksqlDB does: the
 * record still flows, and the runtime writes the error to the processing log.
 */
import type { TExpr } from "../../src/plan/expr.ts";
import type { ArgInfo, FunctionRegistry } from "../../src/functions/types.ts";
import { type SqlType, formatType } from "../../src/types/sqltype.ts";
import {
  arithmetic,
  castFunction,
  compareValues,
  fitsLong,
  negate,
  normalizeLong,
  parseDecimal,
  rescale,
  valuesEqual,
} from "../../src/types/values.ts";

/** A compiled expression: evaluates over one input row. */
export type CompiledExpr = (row: readonly unknown[]) => unknown;

export interface ExprErrorSink {
  /** Called when a sub-expression fails; `where` names the operation (e.g. `CAST`, `SUBSTRING`). */
  (error: unknown, where: string): void;
}

export interface CompileExprOptions {
  /** Names of the input row's columns, in row order. */
  readonly columns: readonly string[];
  readonly functions: FunctionRegistry;
  readonly onError?: ExprErrorSink;
}

/** Thrown at plan-compile time when a plan is inconsistent (a bug or a plan from another version). */
export class PlanError extends Error {
  override readonly name = "PlanError";
}

/** Compiles one expression. */
export function compileExpr(expr: TExpr, options: CompileExprOptions): CompiledExpr {
  return compileExprs([expr], options)[0]!;
}

/** Compiles several expressions over the same input (sharing constants). */
export function compileExprs(exprs: readonly TExpr[], options: CompileExprOptions): CompiledExpr[] {
  const gen = new Generator(options);
  return exprs.map((e) => gen.compile(e));
}

/** Java-like LIKE: `%` any run, `_` one character, optional escape character. Anchored, case-sensitive. */
export function likeToRegExp(pattern: string, escape?: string | null): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (escape && ch === escape && i + 1 < pattern.length) {
      re += escapeRegExp(pattern[++i]!);
    } else if (ch === "%") re += "[\\s\\S]*";
    else if (ch === "_") re += "[\\s\\S]";
    else re += escapeRegExp(ch);
  }
  return new RegExp(re + "$", "u");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Generated functions by their source text. Literals are constants (`K[i]`), not code, so expressions that
 * differ only in their literals (a pull query's key, each time it is asked) have the same source and reuse one
 * compiled function with their own constants: JavaScript is parsed and compiled once, not per request.
 */
const factories = new Map<string, (constants: unknown[]) => CompiledExpr>();
const MAX_FACTORIES = 2_000;

class Generator {
  private readonly constants: unknown[] = [];
  private temps = 0;
  private readonly columnIndex = new Map<string, number>();
  private readonly lambdaScopes: Map<string, string>[] = [];
  private readonly onError: ExprErrorSink;

  constructor(private readonly options: CompileExprOptions) {
    options.columns.forEach((c, i) => {
      if (!this.columnIndex.has(c)) this.columnIndex.set(c, i);
    });
    this.onError = options.onError ?? (() => {});
  }

  compile(e: TExpr): CompiledExpr {
    this.temps = 0;
    const body = this.gen(e);
    const decl = this.temps > 0 ? `let ${Array.from({ length: this.temps }, (_, i) => `t${i}`).join(", ")};` : "";
    const src = `"use strict"; return function esqlExpr(row) { ${decl} return ${body}; };`;
    let factory = factories.get(src);
    if (factory === undefined) {
      // Compiling expressions to JavaScript once is the point of this module (see the performance habits).
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      factory = new Function("K", src) as (constants: unknown[]) => CompiledExpr;
      if (factories.size >= MAX_FACTORIES) factories.delete(factories.keys().next().value!);
      factories.set(src, factory);
    } else {
      // Most recently used last, so the oldest goes first.
      factories.delete(src);
      factories.set(src, factory);
    }
    return factory(this.constants);
  }

  private k(value: unknown): string {
    this.constants.push(value);
    return `K[${this.constants.length - 1}]`;
  }

  private temp(): string {
    return `t${this.temps++}`;
  }

  /** Wraps `fn` so a throw becomes NULL plus an error report. */
  private safe(fn: (...args: unknown[]) => unknown, where: string): string {
    const onError = this.onError;
    const wrapped = (...args: unknown[]): unknown => {
      try {
        const r = fn(...args);
        return r === undefined ? null : r;
      } catch (err) {
        onError(err, where);
        return null;
      }
    };
    return this.k(wrapped);
  }

  /** `(t = a) === null ? null : f(t)` for a unary operation over a non-null operand. */
  private unary(operand: TExpr, f: (v: string) => string): string {
    const t = this.temp();
    return `((${t} = ${this.gen(operand)}) === null ? null : ${f(t)})`;
  }

  private binary(left: TExpr, right: TExpr, f: (a: string, b: string) => string, ifNull = "null"): string {
    const a = this.temp();
    const b = this.temp();
    return `((${a} = ${this.gen(left)}) === null || (${b} = ${this.gen(right)}) === null ? ${ifNull} : ${f(a, b)})`;
  }

  private castCode(from: SqlType, to: SqlType, code: string, where = "CAST"): string {
    const c = castFunction(from, to);
    if (c === undefined) throw new PlanError(`no conversion from ${formatType(from)} to ${formatType(to)}`);
    const identity = castFunction(to, to);
    if (c === identity) return code;
    return `${this.safe(c, where)}(${code})`;
  }

  private gen(e: TExpr): string {
    switch (e.kind) {
      case "Literal":
        return this.literal(e.type, e.value);
      case "Column": {
        const i = this.columnIndex.get(e.name);
        if (i === undefined) {
          throw new PlanError(`column ${e.name} is not in the input (${this.options.columns.join(", ")})`);
        }
        return `(row[${i}] ?? null)`;
      }
      case "LambdaVar": {
        for (let s = this.lambdaScopes.length - 1; s >= 0; s--) {
          const v = this.lambdaScopes[s]!.get(e.name);
          if (v !== undefined) return v;
        }
        throw new PlanError(`lambda variable ${e.name} is not in scope`);
      }
      case "Field":
        return this.unary(e.base, (v) => `(${v}[${JSON.stringify(e.field)}] ?? null)`);
      case "Subscript": {
        const baseType = e.base.type;
        if (baseType.kind === "ARRAY") {
          return this.binary(e.base, e.index, (a, i) => `${this.k(arrayAt)}(${a}, ${i})`);
        }
        if (baseType.kind === "MAP") return this.binary(e.base, e.index, (m, key) => `(${m}.get(${key}) ?? null)`);
        throw new PlanError(`subscript on ${formatType(baseType)}`);
      }
      case "Not":
        return this.unary(e.operand, (v) => `!${v}`);
      case "Negate": {
        const f = negate(e.operand.type);
        if (!f) throw new PlanError(`cannot negate ${formatType(e.operand.type)}`);
        return this.unary(e.operand, (v) => `${this.k(f)}(${v})`);
      }
      case "Arithmetic": {
        const a = arithmetic(e.op, e.left.type, e.right.type);
        if (!a) throw new PlanError(`no arithmetic ${formatType(e.left.type)} ${e.op} ${formatType(e.right.type)}`);
        const fn = this.safe(a.fn, e.op);
        const lc = castFunction(e.left.type, a.leftType);
        const rc = castFunction(e.right.type, a.rightType);
        return this.binary(e.left, e.right, (x, y) => {
          const xs = lc && lc !== castFunction(a.leftType, a.leftType) ? `${this.safe(lc, "CAST")}(${x})` : x;
          const ys = rc && rc !== castFunction(a.rightType, a.rightType) ? `${this.safe(rc, "CAST")}(${y})` : y;
          const call = `${fn}(${xs}, ${ys})`;
          return a.type.kind === "DECIMAL" || a.type.kind === "DOUBLE" ? call : call;
        });
      }
      case "Compare":
        return this.compare(e.op, e.left, e.right);
      case "Logical": {
        // Three-valued logic: FALSE AND NULL = FALSE, TRUE OR NULL = TRUE.
        const a = this.temp();
        const b = this.temp();
        const l = this.gen(e.left);
        const r = this.gen(e.right);
        return e.op === "AND"
          ? `((${a} = ${l}) === false ? false : (${b} = ${r}) === false ? false : ${a} === null || ${b} === null ? null : true)`
          : `((${a} = ${l}) === true ? true : (${b} = ${r}) === true ? true : ${a} === null || ${b} === null ? null : false)`;
      }
      case "Concat":
        return this.binary(e.left, e.right, (a, b) => `(${a} + ${b})`);
      case "IsNull": {
        const v = this.gen(e.operand);
        return e.negated ? `(${v} !== null)` : `(${v} === null)`;
      }
      case "Between": {
        const lo = this.compare(">=", e.operand, e.low);
        const hi = this.compare("<=", e.operand, e.high);
        const a = this.temp();
        const b = this.temp();
        const both = `((${a} = ${lo}) === false || (${b} = ${hi}) === false ? false : ${a} === null || ${b} === null ? null : true)`;
        return e.negated ? this.notCode(both) : both;
      }
      case "In": {
        // x IN (a, b): TRUE if any equals; else NULL if x or any item is NULL; else FALSE.
        const eq = valuesEqual(e.operand.type);
        const x = this.temp();
        const items = e.items.map((i) => this.gen(i));
        const arr = `[${items.join(", ")}]`;
        const code = `((${x} = ${this.gen(e.operand)}) === null ? null : ${this.k(inList)}(${this.k(eq)}, ${x}, ${arr}))`;
        return e.negated ? this.notCode(code) : code;
      }
      case "Like": {
        const cache = new Map<string, RegExp>();
        const match = (s: string, p: string, esc: string | null): boolean => {
          const key = esc === null ? p : `${esc}\u0000${p}`;
          let re = cache.get(key);
          if (re === undefined) {
            re = likeToRegExp(p, esc);
            if (cache.size < 1000) cache.set(key, re);
          }
          return re.test(s);
        };
        const esc = e.escape ? this.gen(e.escape) : "null";
        const code = this.binary(e.operand, e.pattern, (s, p) => `${this.k(match)}(${s}, ${p}, ${esc})`);
        return e.negated ? this.notCode(code) : code;
      }
      case "IsDistinct": {
        const eq = valuesEqual(e.left.type.kind === "NULL" ? e.right.type : e.left.type);
        const a = this.temp();
        const b = this.temp();
        const same = `((${a} = ${this.gen(e.left)}) === null ? (${b} = ${this.gen(e.right)}) === null : ((${b} = ${this.gen(e.right)}) !== null && ${this.k(eq)}(${a}, ${b})))`;
        return e.negated ? same : `!${same}`;
      }
      case "Case": {
        let code = e.else ? this.gen(e.else) : "null";
        for (let i = e.whens.length - 1; i >= 0; i--) {
          const w = e.whens[i]!;
          code = `(${this.gen(w.when)} === true ? ${this.gen(w.then)} : ${code})`;
        }
        return code;
      }
      case "Cast":
        return this.unary(e.operand, (v) =>
          this.castCode(e.operand.type, e.type, v, e.implicit ? "implicit cast" : "CAST"),
        );
      case "Call":
        return this.call(e);
      case "Lambda": {
        const scope = new Map<string, string>();
        const params = e.params.map((p) => {
          const v = `l${this.temps++}`;
          scope.set(p, v);
          return v;
        });
        this.lambdaScopes.push(scope);
        try {
          return `((${params.join(", ")}) => ${this.gen(e.body)})`;
        } finally {
          this.lambdaScopes.pop();
        }
      }
      case "Array":
        return `[${e.items.map((i) => this.gen(i)).join(", ")}]`;
      case "Map":
        return `new Map([${e.entries.map((x) => `[${this.gen(x.key)}, ${this.gen(x.value)}]`).join(", ")}])`;
      case "Struct":
        return `{${e.fields.map((f) => `${JSON.stringify(f.name)}: ${this.gen(f.value)}`).join(", ")}}`;
      case "AggregateCall":
      case "TableFunctionCall":
        throw new PlanError(`${e.kind} ${e.name} must be planned into its operator before the runtime`);
    }
  }

  private notCode(code: string): string {
    const t = this.temp();
    return `((${t} = ${code}) === null ? null : !${t})`;
  }

  /** ksqlDB compares with NULL as FALSE (not SQL's unknown): `NULL = NULL` and `1 < NULL` are FALSE. */
  private compare(op: "=" | "<>" | "<" | "<=" | ">" | ">=", left: TExpr, right: TExpr): string {
    let lt = left.type;
    let rt = right.type;
    if (lt.kind === "NULL") lt = rt;
    if (rt.kind === "NULL") rt = lt;
    // DECIMALs of different scales compare after rescaling both to the larger scale.
    if (lt.kind === "DECIMAL" && rt.kind === "DECIMAL" && lt.scale !== rt.scale) {
      const s = Math.max(lt.scale, rt.scale);
      const ls = lt.scale;
      const rs = rt.scale;
      return this.binary(
        left,
        right,
        (a, b) => {
          const x = ls === s ? a : `${this.k((v: bigint) => rescale(v, ls, s))}(${a})`;
          const y = rs === s ? b : `${this.k((v: bigint) => rescale(v, rs, s))}(${b})`;
          return `(${x} ${jsOp(op)} ${y})`;
        },
        "false",
      );
    }
    switch (lt.kind) {
      case "INTEGER":
      case "BIGINT":
      case "DOUBLE":
      case "DATE":
      case "TIME":
      case "TIMESTAMP":
      case "STRING":
      case "BOOLEAN":
      case "DECIMAL":
        // JS operators give SQL's answer for numbers, bigints, UTF-16 strings and booleans (false < true).
        return this.binary(left, right, (a, b) => `(${a} ${jsOp(op)} ${b})`, "false");
      default: {
        const cmp = compareValues(lt);
        return this.binary(left, right, (a, b) => `(${this.k(cmp)}(${a}, ${b}) ${jsOp(op)} 0)`, "false");
      }
    }
  }

  private literal(type: SqlType, value: null | boolean | number | string): string {
    if (value === null) return "null";
    switch (type.kind) {
      case "DECIMAL": {
        const d = parseDecimal(String(value));
        if (!d) throw new PlanError(`bad DECIMAL literal ${String(value)}`);
        return this.k(rescale(d.unscaled, d.scale, type.scale));
      }
      case "BIGINT": {
        // Beyond 2^53 the analyzer keeps the literal's text.
        if (typeof value === "number") return this.k(value);
        const n = BigInt(String(value));
        if (!fitsLong(n)) throw new PlanError(`BIGINT literal ${String(value)} is beyond the 64-bit range`);
        return this.k(normalizeLong(n));
      }
      case "INTEGER":
      case "DOUBLE":
      case "DATE":
      case "TIME":
      case "TIMESTAMP":
        return typeof value === "string" ? this.k(Number(value)) : this.k(value);
      case "BYTES":
        return this.k(Buffer.from(String(value), "base64"));
      default:
        return this.k(value);
    }
  }

  private call(e: Extract<TExpr, { kind: "Call" }>): string {
    const def = this.options.functions.get(e.name);
    if (!def || def.kind !== "scalar") throw new PlanError(`unknown scalar function ${e.name}`);
    const args: ArgInfo[] = e.args.map((a, i) =>
      a.kind === "Lambda"
        ? { kind: "lambda", arity: a.params.length, typeBody: () => a.body.type }
        : a.kind === "Literal"
          ? { kind: "value", type: e.argTypes[i] ?? a.type, literal: { value: a.value } }
          : { kind: "value", type: e.argTypes[i] ?? a.type },
    );
    const r = def.resolve(args);
    if (!r.ok) throw new PlanError(`${e.name}: ${r.message}`);
    const fn = this.safe(r.value.impl, e.name);
    const argCode = e.args.map((a, i) => {
      const code = this.gen(a);
      const want = r.value.argTypes[i];
      if (a.kind === "Lambda" || want === undefined || a.type.kind === "NULL") return code;
      const have = e.argTypes[i] ?? a.type;
      const c = castFunction(have, want);
      if (!c || c === castFunction(want, want)) return code;
      return `${this.safe(c, "implicit cast")}(${code})`;
    });
    return `${fn}(${argCode.join(", ")})`;
  }
}

function jsOp(op: "=" | "<>" | "<" | "<=" | ">" | ">="): string {
  return op === "=" ? "===" : op === "<>" ? "!==" : op;
}

/** ksqlDB array subscripts: 1-based, negative counts from the end, out of range is NULL. */
function arrayAt(arr: readonly unknown[], i: number): unknown {
  const idx = i > 0 ? i - 1 : arr.length + i;
  return idx >= 0 && idx < arr.length ? (arr[idx] ?? null) : null;
}

function inList(eq: (a: unknown, b: unknown) => boolean, x: unknown, items: readonly unknown[]): boolean | null {
  let sawNull = false;
  for (const item of items) {
    if (item === null) sawNull = true;
    else if (eq(x, item)) return true;
  }
  return sawNull ? null : false;
}
