/**
 * The contract of the function registry: one description per function that serves both the compiler
 * (type resolution, error messages, DESCRIBE FUNCTION) and the runtime (the implementation).
 *
 * Values follow the representation table in `src/types/sqltype.ts`.
 */
import type { SqlType } from "../types/sqltype.ts";

/** What the analyzer knows of one argument when it resolves a call. */
export type ArgInfo =
  | {
      readonly kind: "value";
      /** `{kind: "NULL"}` for an untyped NULL literal. */
      readonly type: SqlType;
      /** Present when the argument is a literal (or a constant-folded literal): some functions need it at compile time (TOPK's k, HISTOGRAM's limit, ...). */
      readonly literal?: { readonly value: unknown };
    }
  | {
      readonly kind: "lambda";
      readonly arity: number;
      /**
       * Types the lambda body for the given parameter types and returns the body's type, or a message
       * when the body does not type-check with them.
       */
      readonly typeBody: (paramTypes: readonly SqlType[]) => SqlType | { readonly error: string };
    };

export type Resolution<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** A lambda argument as the runtime passes it to an implementation. */
export type LambdaValue = (...args: unknown[]) => unknown;

/** A scalar call, resolved for specific argument types. */
export interface ResolvedScalar {
  readonly returnType: SqlType;
  /**
   * The types the arguments must be converted to before the call (same length as the arguments);
   * the analyzer inserts implicit casts where they differ from the actual types (e.g. INTEGER → BIGINT).
   * For lambda arguments the entry is the lambda's parameter types' owner and is ignored.
   */
  readonly argTypes: readonly SqlType[];
  /** The types of each lambda argument's parameters, by argument index. */
  readonly lambdaParams?: ReadonlyMap<number, readonly SqlType[]>;
  /** Called once per row with the converted argument values (lambdas as JS functions). Must not throw on NULLs. */
  readonly impl: (...args: unknown[]) => unknown;
}

export interface ScalarFunction {
  readonly kind: "scalar";
  /** Upper case. */
  readonly name: string;
  readonly category: string;
  readonly description: string;
  /** Human-readable signatures, e.g. `SUBSTRING(str STRING, pos INTEGER [, len INTEGER]) -> STRING`. */
  readonly signatures: readonly string[];
  readonly resolve: (args: readonly ArgInfo[]) => Resolution<ResolvedScalar>;
}

/**
 * An aggregate's state machine. State must be made of values `v8.serialize` keeps (see the table in sqltype.ts,
 * plus plain objects/arrays/Maps/Sets of them): the runtime persists it as is.
 */
export interface Accumulator<S = unknown> {
  readonly init: () => S;
  /** Folds one row's argument values in. May mutate and return `state`. */
  readonly add: (state: S, args: readonly unknown[]) => S;
  /** Undoes one earlier `add` (table aggregations: an updated or deleted row). Absent when not supported. */
  readonly retract?: (state: S, args: readonly unknown[]) => S;
  /** Combines two states (session window merges). Absent when not supported. */
  readonly merge?: (a: S, b: S) => S;
  readonly result: (state: S) => unknown;
}

export interface ResolvedAggregate {
  readonly returnType: SqlType;
  readonly argTypes: readonly SqlType[];
  /**
   * How many leading arguments are per-row values; the rest are literal initial arguments
   * (e.g. `TOPK(col, 3)`: one row argument, `3` an init argument).
   */
  readonly rowArgCount: number;
  readonly accumulator: Accumulator;
}

export interface AggregateFunction {
  readonly kind: "aggregate";
  /**
   * User aggregates only (built-ins leave it out): whether every overload can undo (needed to aggregate a
   * table) and merge (needed by session windows).
   */
  readonly supports?: { readonly undo: boolean; readonly merge: boolean };
  readonly name: string;
  readonly category: string;
  readonly description: string;
  readonly signatures: readonly string[];
  readonly resolve: (args: readonly ArgInfo[]) => Resolution<ResolvedAggregate>;
}

export interface ResolvedTableFunction {
  /** The type of each produced row's value. */
  readonly returnType: SqlType;
  readonly argTypes: readonly SqlType[];
  /** Produces zero or more values for one input row. */
  readonly impl: (...args: unknown[]) => readonly unknown[];
}

export interface TableFunction {
  readonly kind: "table";
  readonly name: string;
  readonly category: string;
  readonly description: string;
  readonly signatures: readonly string[];
  readonly resolve: (args: readonly ArgInfo[]) => Resolution<ResolvedTableFunction>;
}

/** Where a user function came from (`src/functions/user.ts`): shown by DESCRIBE FUNCTION, recorded with plans. */
export interface FunctionOrigin {
  readonly file: string;
  /** SHA-256 of the module's source text (hex). */
  readonly hash: string;
}

/** Absent for built-ins. */
interface Origin {
  readonly origin?: FunctionOrigin;
}

export type FunctionDef = (ScalarFunction | AggregateFunction | TableFunction) & Origin;

export interface FunctionRegistry {
  get(name: string): FunctionDef | undefined;
  all(): readonly FunctionDef[];
}
