/** What every part of query analysis shares: the options, the analyzed FROM and its scope, the diagnostics. */
import type { Expr, Query } from "../../ast/nodes.ts";
import { error, type Diagnostic, type Span } from "../../diagnostics/diagnostic.ts";
import type { DiagnosticCode } from "../../diagnostics/codes.ts";
import type { FunctionRegistry } from "../../functions/types.ts";
import type { AnalyzedFrom } from "../analyzed.ts";
import type { Catalog } from "../catalog.ts";
import type { Clause, ExprContext, Scope, ScopeColumn } from "../expressions.ts";
import type { TExpr } from "../typed.ts";

export interface QueryOptions {
  readonly catalog: Catalog;
  readonly functions: FunctionRegistry;
  /** The sink's name for persistent queries (CSAS/CTAS/INSERT INTO); absent for transient queries. */
  readonly sinkName?: string;
  /** What the statement asks for: a CSAS wants a STREAM, a CTAS a TABLE. */
  readonly expectedType?: "STREAM" | "TABLE";
  readonly properties: Readonly<Record<string, string>>;
  readonly statementKind: "CSAS" | "CTAS" | "INSERT" | "QUERY";
}

/** One SELECT item, typed over the input row and named. */
export interface Item {
  readonly expr: TExpr;
  readonly name: string;
  readonly explicit: boolean;
  readonly span: Span;
  /** The SELECT item as written (undefined for `*` expansions). */
  readonly ast?: Expr;
}

/** One query's analysis once its FROM is resolved. */
export interface QueryContext {
  readonly q: Query;
  readonly opts: QueryOptions;
  readonly diags: Diagnostic[];
  readonly from: AnalyzedFrom;
  /** The columns of the input row (FROM's). */
  readonly inputColumns: ScopeColumn[];
  readonly qualifiers: Set<string>;
  readonly scope: Scope;
  /** A CSAS/CTAS/INSERT INTO (it has a sink). */
  readonly persistent: boolean;
  readonly isTableInput: boolean;
  /** The context to analyze an expression of `clause` in. */
  exprContext(clause: Clause, aggregates: boolean, tableFns?: boolean, scope?: Scope): ExprContext;
}

export const err = (diags: Diagnostic[], code: DiagnosticCode, msg: string, span: Span, hint?: string) =>
  diags.push(error(code, msg, span, hint));

export const hintOf = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

export function listText(texts: string[]): string {
  if (texts.length <= 1) return texts.join("");
  return `${texts.slice(0, -1).join(", ")} and ${texts[texts.length - 1]}`;
}

/** Generated output names `KSQL_COL_<n>`, skipping the names already used. */
export class GeneratedNames {
  private counter = 0;
  constructor(readonly used: Set<string>) {}

  /** The next free `KSQL_COL_<n>` (then used). */
  fresh(): string {
    while (this.used.has(`KSQL_COL_${this.counter}`)) this.counter++;
    const name = `KSQL_COL_${this.counter++}`;
    this.used.add(name);
    return name;
  }
}
