/**
 * Typed expressions: the analyzer's output for every expression, and the expression form the physical
 * plan carries to the runtime. Plain JSON (no bigint, no Map, no functions): a plan can be written to disk
 * and run without re-parsing SQL.
 *
 * Conventions:
 * - every node has its static `type`;
 * - `Column` names a column of the operator's INPUT row by its name in that row (see the physical README);
 * - implicit conversions are explicit `Cast` nodes with `implicit: true`;
 * - literal values are JSON: DECIMAL literals are the decimal text (`"1.50"`), BIGINT literals beyond 2^53 are
 *   decimal text too, BYTES are base64 text;
 * - `Call` carries the function name and the argument types it was resolved with; the runtime re-resolves the
 *   implementation from the registry with `resolve(argTypes)`.
 */
import type { SqlType } from "../types/sqltype.ts";

export type TExpr =
  | {
      readonly kind: "Literal";
      readonly type: SqlType;
      readonly value: null | boolean | number | string;
    }
  | { readonly kind: "Column"; readonly type: SqlType; readonly name: string }
  /** A lambda parameter in scope. */
  | {
      readonly kind: "LambdaVar";
      readonly type: SqlType;
      readonly name: string;
    }
  | {
      readonly kind: "Field";
      readonly type: SqlType;
      readonly base: TExpr;
      readonly field: string;
    }
  | {
      readonly kind: "Subscript";
      readonly type: SqlType;
      readonly base: TExpr;
      readonly index: TExpr;
    }
  | { readonly kind: "Not"; readonly type: SqlType; readonly operand: TExpr }
  | { readonly kind: "Negate"; readonly type: SqlType; readonly operand: TExpr }
  /** Operands already converted: both DOUBLE, both BIGINT, both INTEGER, or DECIMALs (each with its own scale), or STRING for `+`. */
  | {
      readonly kind: "Arithmetic";
      readonly type: SqlType;
      readonly op: "+" | "-" | "*" | "/" | "%";
      readonly left: TExpr;
      readonly right: TExpr;
    }
  /** Operands converted to one comparable type (numeric operands may differ only in DECIMAL scale). */
  | {
      readonly kind: "Compare";
      readonly type: SqlType;
      readonly op: "=" | "<>" | "<" | "<=" | ">" | ">=";
      readonly left: TExpr;
      readonly right: TExpr;
    }
  | {
      readonly kind: "Logical";
      readonly type: SqlType;
      readonly op: "AND" | "OR";
      readonly left: TExpr;
      readonly right: TExpr;
    }
  | {
      readonly kind: "Concat";
      readonly type: SqlType;
      readonly left: TExpr;
      readonly right: TExpr;
    }
  | {
      readonly kind: "IsNull";
      readonly type: SqlType;
      readonly operand: TExpr;
      readonly negated: boolean;
    }
  | {
      readonly kind: "Between";
      readonly type: SqlType;
      readonly operand: TExpr;
      readonly low: TExpr;
      readonly high: TExpr;
      readonly negated: boolean;
    }
  | {
      readonly kind: "In";
      readonly type: SqlType;
      readonly operand: TExpr;
      readonly items: readonly TExpr[];
      readonly negated: boolean;
    }
  | {
      readonly kind: "Like";
      readonly type: SqlType;
      readonly operand: TExpr;
      readonly pattern: TExpr;
      readonly escape?: TExpr;
      readonly negated: boolean;
    }
  | {
      readonly kind: "IsDistinct";
      readonly type: SqlType;
      readonly left: TExpr;
      readonly right: TExpr;
      readonly negated: boolean;
    }
  /** Searched CASE (a simple CASE is rewritten to `operand = value` conditions). */
  | {
      readonly kind: "Case";
      readonly type: SqlType;
      readonly whens: readonly { readonly when: TExpr; readonly then: TExpr }[];
      readonly else?: TExpr;
    }
  | {
      readonly kind: "Cast";
      readonly type: SqlType;
      readonly operand: TExpr;
      readonly implicit: boolean;
    }
  | {
      readonly kind: "Call";
      readonly type: SqlType;
      readonly name: string;
      readonly argTypes: readonly SqlType[];
      readonly args: readonly TExpr[];
    }
  | {
      readonly kind: "Lambda";
      readonly type: SqlType;
      readonly params: readonly string[];
      readonly paramTypes: readonly SqlType[];
      readonly body: TExpr;
    }
  | {
      readonly kind: "Array";
      readonly type: SqlType;
      readonly items: readonly TExpr[];
    }
  | {
      readonly kind: "Map";
      readonly type: SqlType;
      readonly entries: readonly {
        readonly key: TExpr;
        readonly value: TExpr;
      }[];
    }
  | {
      readonly kind: "Struct";
      readonly type: SqlType;
      readonly fields: readonly {
        readonly name: string;
        readonly value: TExpr;
      }[];
    }
  /** Only before planning: an aggregate call (replaced by a Column of the Aggregate operator's output). */
  | {
      readonly kind: "AggregateCall";
      readonly type: SqlType;
      readonly name: string;
      readonly argTypes: readonly SqlType[];
      readonly args: readonly TExpr[];
    }
  /** Only before planning: a table function call (EXPLODE...), replaced by a Column of the TableFunction operator. */
  | {
      readonly kind: "TableFunctionCall";
      readonly type: SqlType;
      readonly name: string;
      readonly argTypes: readonly SqlType[];
      readonly args: readonly TExpr[];
    };

/** A stable structural key (for "is this the GROUP BY expression" and de-duplication). */
export function exprKey(e: TExpr): string {
  return JSON.stringify(e);
}

/** The direct children of an expression. */
export function children(e: TExpr): TExpr[] {
  switch (e.kind) {
    case "Literal":
    case "Column":
    case "LambdaVar":
      return [];
    case "Field":
      return [e.base];
    case "Subscript":
      return [e.base, e.index];
    case "Not":
    case "Negate":
    case "IsNull":
    case "Cast":
      return [e.operand];
    case "Arithmetic":
    case "Compare":
    case "Logical":
    case "Concat":
    case "IsDistinct":
      return [e.left, e.right];
    case "Between":
      return [e.operand, e.low, e.high];
    case "In":
      return [e.operand, ...e.items];
    case "Like":
      return e.escape ? [e.operand, e.pattern, e.escape] : [e.operand, e.pattern];
    case "Case":
      return [...e.whens.flatMap((w) => [w.when, w.then]), ...(e.else ? [e.else] : [])];
    case "Call":
    case "AggregateCall":
    case "TableFunctionCall":
      return [...e.args];
    case "Lambda":
      return [e.body];
    case "Array":
      return [...e.items];
    case "Map":
      return e.entries.flatMap((x) => [x.key, x.value]);
    case "Struct":
      return e.fields.map((f) => f.value);
  }
}

/**
 * Rebuilds `e` bottom-up... top-down: `f` is offered each node first; when it returns a node, that node
 * replaces the subtree; when it returns undefined, the children are mapped.
 */
export function mapExpr(e: TExpr, f: (e: TExpr) => TExpr | undefined): TExpr {
  const r = f(e);
  if (r !== undefined) return r;
  const m = (x: TExpr) => mapExpr(x, f);
  switch (e.kind) {
    case "Literal":
    case "Column":
    case "LambdaVar":
      return e;
    case "Field":
      return { ...e, base: m(e.base) };
    case "Subscript":
      return { ...e, base: m(e.base), index: m(e.index) };
    case "Not":
    case "Negate":
    case "IsNull":
    case "Cast":
      return { ...e, operand: m(e.operand) };
    case "Arithmetic":
    case "Compare":
    case "Logical":
    case "Concat":
    case "IsDistinct":
      return { ...e, left: m(e.left), right: m(e.right) };
    case "Between":
      return { ...e, operand: m(e.operand), low: m(e.low), high: m(e.high) };
    case "In":
      return { ...e, operand: m(e.operand), items: e.items.map(m) };
    case "Like":
      return e.escape
        ? {
            ...e,
            operand: m(e.operand),
            pattern: m(e.pattern),
            escape: m(e.escape),
          }
        : { ...e, operand: m(e.operand), pattern: m(e.pattern) };
    case "Case":
      return {
        ...e,
        whens: e.whens.map((w) => ({ when: m(w.when), then: m(w.then) })),
        ...(e.else ? { else: m(e.else) } : {}),
      };
    case "Call":
    case "AggregateCall":
    case "TableFunctionCall":
      return { ...e, args: e.args.map(m) };
    case "Lambda":
      return { ...e, body: m(e.body) };
    case "Array":
      return { ...e, items: e.items.map(m) };
    case "Map":
      return {
        ...e,
        entries: e.entries.map((x) => ({ key: m(x.key), value: m(x.value) })),
      };
    case "Struct":
      return {
        ...e,
        fields: e.fields.map((x) => ({ name: x.name, value: m(x.value) })),
      };
  }
}

/** True when `pred` holds for `e` or any node below it. */
export function someExpr(e: TExpr, pred: (e: TExpr) => boolean): boolean {
  return pred(e) || children(e).some((c) => someExpr(c, pred));
}

/** The names of all `Column` nodes in `e` (lambda variables excluded). */
export function columnsOf(e: TExpr, into: Set<string> = new Set()): Set<string> {
  if (e.kind === "Column") into.add(e.name);
  for (const c of children(e)) columnsOf(c, into);
  return into;
}
