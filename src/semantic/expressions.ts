/**
 * Expression analysis: resolves names against a {@link Scope}, infers and checks types with ksqlDB's rules,
 * resolves function calls through the registry, and produces {@link TExpr} trees with implicit casts made
 * explicit. Problems are pushed to `ctx.diags`; the returned tree is then only a best effort.
 * The analyzers of each family of expressions (names, operators, predicates, calls, ...) live in `expr/`.
 */
import type { Expr, TypeNode } from "../ast/nodes.ts";
import { error, type Diagnostic } from "../diagnostics/diagnostic.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { BOOLEAN, NULL_TYPE, type SqlType } from "../types/sqltype.ts";
import type { Catalog, Namespace } from "./catalog.ts";
import { MAX_DECIMAL_PRECISION } from "../limits.ts";
import { Codes } from "./codes.ts";
import { closest } from "./exprText.ts";
import type { TExpr } from "./typed.ts";
import { analyzeCall } from "./expr/calls.ts";
import { analyzeCase } from "./expr/conditional.ts";
import { analyzeArrayCtor, analyzeMapCtor, analyzeStructCtor } from "./expr/constructors.ts";
import { analyzeLiteral } from "./expr/literals.ts";
import { analyzeDereference, analyzeSubscript, resolveColumn } from "./expr/names.ts";
import { analyzeBinary, analyzeCast, analyzeUnary } from "./expr/operators.ts";
import { analyzeBetween, analyzeInList, analyzeIsDistinctFrom, analyzeLike } from "./expr/predicates.ts";
import { bad, hintFor, report } from "./expr/support.ts";

export { coerce } from "./expr/support.ts";

/** One column visible to expressions. */
export interface ScopeColumn {
  /** The column's name in the operator's input row (what `Column` nodes carry). */
  readonly name: string;
  /** The name users write (unqualified). */
  readonly column: string;
  /** The source alias that qualifies it (`a` in `a.col`); absent for columns of a derived row. */
  readonly qualifier?: string;
  readonly type: SqlType;
  readonly namespace: Namespace | "PSEUDO";
}

export interface Scope {
  readonly columns: readonly ScopeColumn[];
  /** Valid qualifiers (source names and aliases). */
  readonly qualifiers: ReadonlySet<string>;
}

/** Where an expression stands, for messages ("SELECT column 'X' cannot be resolved") and the rules. */
export type Clause = "SELECT" | "WHERE" | "GROUP BY" | "HAVING" | "PARTITION BY" | "JOIN ON" | "VALUES" | "EXPRESSION";

export interface ExprContext {
  readonly catalog: Catalog;
  readonly functions: FunctionRegistry;
  readonly scope: Scope;
  readonly clause: Clause;
  readonly diags: Diagnostic[];
  readonly allowAggregates: boolean;
  readonly allowTableFunctions: boolean;
  /** Lambda parameters in scope (innermost last). */
  readonly lambdaVars?: ReadonlyMap<string, SqlType>;
  /** Inside an aggregate's arguments (nested aggregates are errors). */
  readonly inAggregate?: boolean;
}

/** Resolves a written type (custom types through the catalog). Reports unknown custom types. */
export function resolveType(t: TypeNode, catalog: Catalog, diags: Diagnostic[]): SqlType {
  switch (t.kind) {
    case "PrimitiveType":
      return { kind: t.name };
    case "DecimalType": {
      const { precision, scale } = t;
      if (precision >= 1 && precision <= MAX_DECIMAL_PRECISION && scale >= 0 && scale <= precision)
        return { kind: "DECIMAL", precision, scale };
      diags.push(
        error(
          Codes.INVALID_TYPE,
          `DECIMAL precision must be between 1 and ${MAX_DECIMAL_PRECISION} and scale between 0 and the precision, found DECIMAL(${precision}, ${scale})`,
          t.span,
        ),
      );
      // Go on with a type in range: nothing later should size anything by the bad numbers.
      const p = Math.min(Math.max(precision, 1), MAX_DECIMAL_PRECISION) || 1;
      return { kind: "DECIMAL", precision: p, scale: Math.min(Math.max(scale, 0), p) || 0 };
    }
    case "ArrayType":
      return { kind: "ARRAY", element: resolveType(t.element, catalog, diags) };
    case "MapType":
      return {
        kind: "MAP",
        key: resolveType(t.key, catalog, diags),
        value: resolveType(t.value, catalog, diags),
      };
    case "StructType": {
      const seen = new Set<string>();
      for (const f of t.fields) {
        if (seen.has(f.name))
          diags.push(error(Codes.DUPLICATE_FIELD, `Duplicate field names found in STRUCT: '${f.name}'`, f.span));
        seen.add(f.name);
      }
      return {
        kind: "STRUCT",
        fields: t.fields.map((f) => ({
          name: f.name,
          type: resolveType(f.type, catalog, diags),
        })),
      };
    }
    case "CustomType": {
      const found = catalog.type(t.name);
      if (found) return found;
      // A primitive name written in a position the parser took for a custom type.
      diags.push(
        error(Codes.UNKNOWN_TYPE, `Unknown type: ${t.name}`, t.span, hintFor(closest(t.name, catalog.types.keys()))),
      );
      return NULL_TYPE;
    }
  }
}

/** Types an expression (see the module comment); one analyzer per family of expressions in `expr/`. */
export function analyzeExpr(e: Expr, ctx: ExprContext): TExpr {
  switch (e.kind) {
    case "Literal":
      return analyzeLiteral(e);
    case "ColumnRef":
      return resolveColumn(e, ctx);
    case "Dereference":
      return analyzeDereference(e, ctx);
    case "Subscript":
      return analyzeSubscript(e, ctx);
    case "Unary":
      return analyzeUnary(e, ctx);
    case "Binary":
      return analyzeBinary(e, ctx);
    case "IsNull":
      return {
        kind: "IsNull",
        type: BOOLEAN,
        operand: analyzeExpr(e.operand, ctx),
        negated: e.negated,
      };
    case "Between":
      return analyzeBetween(e, ctx);
    case "InList":
      return analyzeInList(e, ctx);
    case "Like":
      return analyzeLike(e, ctx);
    case "IsDistinctFrom":
      return analyzeIsDistinctFrom(e, ctx);
    case "Case":
      return analyzeCase(e, ctx);
    case "Cast":
      return analyzeCast(e, ctx);
    case "FunctionCall":
      return analyzeCall(e, ctx);
    case "Lambda":
      report(ctx, Codes.LAMBDA_POSITION, "A lambda is only valid as a function argument", e.span);
      return bad();
    case "ArrayCtor":
      return analyzeArrayCtor(e, ctx);
    case "MapCtor":
      return analyzeMapCtor(e, ctx);
    case "StructCtor":
      return analyzeStructCtor(e, ctx);
  }
}
