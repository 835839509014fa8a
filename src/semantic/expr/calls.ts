/**
 * Function calls: resolved through the registry (scalar, aggregate, table functions), with where aggregates
 * and table functions may stand, lambda arguments typed once their parameter types are known, and bare time
 * units passed as STRING.
 */
import { TIME_UNIT_WORDS } from "../../../grammar/tokens.ts";
import type { Expr } from "../../ast/nodes.ts";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import type { ArgInfo } from "../../functions/types.ts";
import { NULL_TYPE, STRING, type SqlType } from "../../types/sqltype.ts";
import { Codes } from "../codes.ts";
import { analyzeExpr, type ExprContext } from "../expressions.ts";
import { closest, exprText } from "../exprText.ts";
import type { TExpr } from "../typed.ts";
import { bad, coerce, hintFor, report } from "./support.ts";

/** Time units written bare as function arguments (`TIMESTAMPADD(SECONDS, 1, ts)`): passed as STRING. */
const TIME_UNITS: ReadonlySet<string> = new Set(TIME_UNIT_WORDS);

/** Names people bring from other SQL dialects, and what ksqlDB calls them (for the unknown-function hint). */
const OTHER_DIALECTS: Readonly<Record<string, string>> = {
  UPPER: "UCASE",
  UPPERCASE: "UCASE",
  LOWER: "LCASE",
  LOWERCASE: "LCASE",
  LENGTH: "LEN",
  CHAR_LENGTH: "LEN",
  STRLEN: "LEN",
  SUBSTR: "SUBSTRING",
  NVL: "IFNULL or COALESCE",
  ISNULL: "IFNULL",
  NOW: "UNIX_TIMESTAMP() (or ROWTIME for the event time)",
  CURRENT_TIMESTAMP: "UNIX_TIMESTAMP() (or ROWTIME for the event time)",
  IIF: "CASE WHEN ... THEN ... ELSE ... END",
};

export function analyzeCall(e: Extract<Expr, { kind: "FunctionCall" }>, ctx: ExprContext): TExpr {
  const def = ctx.functions.get(e.name);
  if (!def) {
    for (const a of e.args) if (a.kind !== "Lambda") analyzeExpr(a, ctx);
    report(
      ctx,
      Codes.UNKNOWN_FUNCTION,
      `Can't find any functions with the name '${e.name}'`,
      e.nameSpan,
      OTHER_DIALECTS[e.name] !== undefined
        ? `in this dialect it is ${OTHER_DIALECTS[e.name]}`
        : hintFor(
            closest(
              e.name,
              ctx.functions.all().map((f) => f.name),
            ),
          ),
    );
    return bad();
  }
  if (def.kind === "aggregate") {
    if (!ctx.allowAggregates) {
      report(
        ctx,
        Codes.AGGREGATE_NOT_ALLOWED,
        `${ctx.clause === "GROUP BY" ? "GROUP BY does not support aggregate functions" : `Aggregate functions are not allowed in ${ctx.clause}`}: ${def.name} is an aggregate function.`,
        e.span,
      );
      return bad();
    }
    if (ctx.inAggregate) {
      report(ctx, Codes.AGGREGATE_NOT_ALLOWED, `Aggregate functions can not be nested: ${exprText(e)}`, e.span);
      return bad();
    }
  }
  if (def.kind === "table" && !ctx.allowTableFunctions) {
    report(
      ctx,
      Codes.TABLE_FUNCTION_NOT_ALLOWED,
      `Table functions are only allowed in the SELECT list of a stream query: ${exprText(e)}`,
      e.span,
    );
    return bad();
  }
  const argCtx: ExprContext =
    def.kind === "aggregate"
      ? { ...ctx, inAggregate: true, allowAggregates: false }
      : { ...ctx, allowTableFunctions: false };
  const args: (TExpr | undefined)[] = [];
  const infos: ArgInfo[] = [];
  e.args.forEach((a, i) => {
    if (a.kind === "Lambda") {
      args.push(undefined);
      infos.push({
        kind: "lambda",
        arity: a.params.length,
        typeBody: (paramTypes) => {
          const diags: Diagnostic[] = [];
          const body = typeLambdaBody(a, paramTypes, { ...argCtx, diags });
          return diags.length ? { error: diags[0]!.message } : body.type;
        },
      });
      return;
    }
    const x =
      a.kind === "ColumnRef" &&
      a.qualifier === undefined &&
      TIME_UNITS.has(a.name) &&
      !ctx.scope.columns.some((c) => c.column === a.name)
        ? ({
            kind: "Literal",
            type: STRING,
            value: a.name.endsWith("S") ? a.name : `${a.name}S`,
          } as TExpr)
        : analyzeExpr(a, argCtx);
    args.push(x);
    infos[i] =
      x.kind === "Literal"
        ? { kind: "value", type: x.type, literal: { value: x.value } }
        : { kind: "value", type: x.type };
  });
  if (
    args.some(
      (x, i) =>
        x && x.kind === "Literal" && x.value === null && x.type.kind === "NULL" && e.args[i]!.kind !== "Literal",
    )
  )
    return bad();
  const before = ctx.diags.length;
  const r = def.resolve(infos);
  if (!r.ok) {
    report(
      ctx,
      Codes.NO_MATCHING_SIGNATURE,
      r.message,
      e.span,
      def.signatures.length ? `valid signatures: ${def.signatures.join("; ")}` : undefined,
    );
    return bad();
  }
  if (ctx.diags.length > before) return bad();
  const resolved = r.value;
  const typedArgs: TExpr[] = e.args.map((a, i) => {
    if (a.kind === "Lambda") {
      const pts =
        (resolved as { lambdaParams?: ReadonlyMap<number, readonly SqlType[]> }).lambdaParams?.get(i) ??
        a.params.map(() => NULL_TYPE);
      const body = typeLambdaBody(a, pts, argCtx);
      return {
        kind: "Lambda",
        type: body.type,
        params: a.params,
        paramTypes: pts,
        body,
      };
    }
    const x = args[i]!;
    const target = resolved.argTypes[i];
    return target && target.kind !== "NULL" ? coerce(x, target) : x;
  });
  const argTypes = typedArgs.map((x) => x.type);
  switch (def.kind) {
    case "scalar":
      return {
        kind: "Call",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
    case "aggregate":
      return {
        kind: "AggregateCall",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
    case "table":
      return {
        kind: "TableFunctionCall",
        type: resolved.returnType,
        name: def.name,
        argTypes,
        args: typedArgs,
      };
  }
}

function typeLambdaBody(a: Extract<Expr, { kind: "Lambda" }>, paramTypes: readonly SqlType[], ctx: ExprContext): TExpr {
  const vars = new Map(ctx.lambdaVars ?? []);
  a.params.forEach((p, i) => vars.set(p, paramTypes[i] ?? NULL_TYPE));
  return analyzeExpr(a.body, { ...ctx, lambdaVars: vars });
}
