/**
 * CST -> AST: turns the chevrotain CST of `grammar/parser.ts` into the readonly AST of `nodes.ts`.
 *
 * The grammar is looser than the language in a few places (see `grammar/parser.ts`); this builder
 * checks those and reports them as diagnostics (`SYN001` shape errors, `SYN003` invalid literals).
 * A statement with any diagnostic from here must be treated as not parsed.
 *
 * Spans come from the tokens, so they are offsets into the original text; tokens substituted for a
 * `${var}` carry the span of the `${var}` reference.
 */
import type { CstElement, CstNode, IToken } from "chevrotain";
import { error, joinSpans, type Diagnostic, type Span } from "../diagnostics/diagnostic.ts";
import {
  BackQuotedIdentifier,
  DecimalLiteral,
  DoubleLiteral,
  DoubleQuotedIdentifier,
  IntegerLiteral,
  K,
  NotEquals,
  StringLiteral,
} from "../../grammar/tokens.ts";
import type {
  AliasedSource,
  ArithmeticOp,
  PrimitiveTypeName,
  ShowWhat,
  ColumnConstraint,
  ComparisonOp,
  Duration,
  Expr,
  Literal,
  Name,
  Property,
  Query,
  Relation,
  SelectItem,
  SourceType,
  Statement,
  StructFieldNode,
  TableElement,
  TimeUnit,
  TypeNode,
  WindowExpr,
  Within,
} from "./nodes.ts";
import type { DiagnosticCode } from "../diagnostics/codes.ts";

type Children = Record<string, CstElement[] | undefined>;

export function tokenSpan(tok: IToken): Span {
  return {
    start: tok.startOffset,
    end: (tok.endOffset ?? tok.startOffset) + 1,
    line: tok.startLine ?? 1,
    col: tok.startColumn ?? 1,
    endLine: tok.endLine ?? tok.startLine ?? 1,
    endCol: tok.endColumn ?? tok.startColumn ?? 1,
  };
}

function nodeSpan(node: CstNode): Span {
  const l = node.location!;
  return {
    start: l.startOffset,
    end: (l.endOffset ?? l.startOffset) + 1,
    line: l.startLine ?? 1,
    col: l.startColumn ?? 1,
    endLine: l.endLine ?? l.startLine ?? 1,
    endCol: l.endColumn ?? l.startColumn ?? 1,
  };
}

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

function nodesOf(ch: Children, key: string): CstNode[] {
  return (ch[key] ?? []) as CstNode[];
}
function nodeOf(ch: Children, key: string): CstNode | undefined {
  return ch[key]?.[0] as CstNode | undefined;
}
/** The first child of a node whatever its name (`Object.values(ch).flat()[0]` without the copies). */
function firstChild(ch: Children): CstNode | undefined {
  for (const key in ch) {
    const all = ch[key];
    if (all !== undefined && all.length > 0) return all[0] as CstNode;
  }
  return undefined;
}
function tokensOf(ch: Children, key: string): IToken[] {
  return (ch[key] ?? []) as IToken[];
}
function tokenOf(ch: Children, key: string): IToken | undefined {
  return ch[key]?.[0] as IToken | undefined;
}
function must<T>(x: T | undefined, what: string): T {
  if (x === undefined) throw new Error(`internal: CST without ${what}`);
  return x;
}

/** The text of a single-quoted string token, quotes removed and `''` unescaped. */
export function unquoteString(image: string): string {
  return image.slice(1, -1).replace(/''/g, "'");
}

/** The normalised name of an identifier token: back-/double-quoted as written, otherwise upper case. */
export function identifierValue(tok: IToken): { value: string; quoted: boolean } {
  if (tok.tokenType === BackQuotedIdentifier)
    return { value: tok.image.slice(1, -1).replace(/``/g, "`"), quoted: true };
  if (tok.tokenType === DoubleQuotedIdentifier)
    return { value: tok.image.slice(1, -1).replace(/""/g, '"'), quoted: true };
  return { value: tok.image.toUpperCase(), quoted: false };
}

const UNIT_MILLIS: Record<TimeUnit, number> = {
  MILLISECONDS: 1,
  SECONDS: 1000,
  MINUTES: 60_000,
  HOURS: 3_600_000,
  DAYS: 86_400_000,
};

const PRIMITIVES: Readonly<Record<string, PrimitiveTypeName>> = {
  BOOLEAN: "BOOLEAN",
  INT: "INTEGER",
  INTEGER: "INTEGER",
  BIGINT: "BIGINT",
  DOUBLE: "DOUBLE",
  STRING: "STRING",
  VARCHAR: "STRING",
  BYTES: "BYTES",
  DATE: "DATE",
  TIME: "TIME",
  TIMESTAMP: "TIMESTAMP",
};

const MAX_BIGINT = 9223372036854775807n;

/** Builds AST from CST, collecting diagnostics. One instance per statement or expression. */
export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];

  private fail(message: string, span: Span, hint?: string, code: DiagnosticCode = "SYN001"): void {
    this.diagnostics.push(error(code, message, span, hint));
  }

  // -------------------------------------------------------------------------------------------
  // Names

  name(node: CstNode): Name {
    const tok = must(tokenOf(node.children, "AnyIdent"), "identifier");
    const { value, quoted } = identifierValue(tok);
    return { kind: "Name", value, quoted, span: tokenSpan(tok) };
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  /** Builds from the `statement` rule's CST. */
  statement(node: CstNode): Statement {
    return this.statementOf(must(firstChild(node.children), "statement"));
  }

  private statementOf(inner: CstNode): Statement {
    switch (inner.name) {
      case "createStatement":
        return this.create(inner);
      case "insertStatement":
        return this.insert(inner);
      case "dropStatement":
        return this.drop(inner);
      case "queryStatement":
        return {
          kind: "QueryStatement",
          query: this.query(must(nodeOf(inner.children, "query"), "query")),
          span: nodeSpan(inner),
        };
      case "terminateStatement": {
        const id = nodeOf(inner.children, "queryId");
        return id === undefined
          ? { kind: "Terminate", all: true, span: nodeSpan(inner) }
          : { kind: "Terminate", all: false, queryId: this.name(id).value, span: nodeSpan(inner) };
      }
      case "defineStatement":
        return {
          kind: "Define",
          name: this.name(must(nodeOf(inner.children, "name"), "name")).value,
          value: unquoteString(must(tokenOf(inner.children, "value"), "value").image),
          span: nodeSpan(inner),
        };
      case "undefineStatement":
        return {
          kind: "Undefine",
          name: this.name(must(nodeOf(inner.children, "name"), "name")).value,
          span: nodeSpan(inner),
        };
      case "setStatement":
        return {
          kind: "SetProperty",
          name: unquoteString(must(tokenOf(inner.children, "name"), "name").image),
          value: unquoteString(must(tokenOf(inner.children, "value"), "value").image),
          span: nodeSpan(inner),
        };
      case "unsetStatement":
        return {
          kind: "UnsetProperty",
          name: unquoteString(must(tokenOf(inner.children, "name"), "name").image),
          span: nodeSpan(inner),
        };
      case "showStatement":
        return {
          kind: "Show",
          what: must(tokenOf(inner.children, "what"), "what").image.toUpperCase() as ShowWhat,
          ...(inner.children["AllKw"] !== undefined ? { all: true as const } : {}),
          extended: inner.children["ExtendedKw"] !== undefined,
          span: nodeSpan(inner),
        };
      case "describeStatement":
        return this.describe(inner);
      case "explainStatement": {
        const id = nodeOf(inner.children, "queryId");
        if (id !== undefined) return { kind: "Explain", queryId: this.name(id).value, span: nodeSpan(inner) };
        const sub = must(
          nodeOf(inner.children, "createStatement") ??
            nodeOf(inner.children, "insertStatement") ??
            nodeOf(inner.children, "queryStatement"),
          "explained statement",
        );
        return { kind: "Explain", statement: this.statementOf(sub), span: nodeSpan(inner) };
      }
      case "printStatement":
        return this.print(inner);
      case "runScriptStatement":
        return {
          kind: "RunScript",
          path: unquoteString(must(tokenOf(inner.children, "path"), "path").image),
          span: nodeSpan(inner),
        };
      default:
        throw new Error(`internal: unknown statement rule ${inner.name}`);
    }
  }

  private create(node: CstNode): Statement {
    const ch = node.children;
    const span = nodeSpan(node);
    const name = this.name(must(nodeOf(ch, "name"), "name"));
    const ifNotExists = ch["ifNotExists"] !== undefined;
    if (ch["TypeKw"] !== undefined) {
      return { kind: "CreateType", ifNotExists, name, type: this.type(must(nodeOf(ch, "type"), "type")), span };
    }
    const sourceType = must(tokenOf(ch, "sourceType"), "source type").image.toUpperCase() as SourceType;
    const orReplace = ch["ReplaceKw"] !== undefined;
    const with_ = nodeOf(ch, "withProperties");
    const properties = with_ === undefined ? [] : this.properties(with_);
    const queryNode = nodeOf(ch, "query");
    if (queryNode !== undefined) {
      const elements = nodesOf(ch, "elements");
      if (elements.length > 0) {
        this.fail(
          `expected 'AS SELECT' or a column list but found both`,
          nodeSpan(elements[0]!),
          "a CREATE ... AS SELECT takes its columns from the query; remove the column list",
        );
      }
      const source = tokenOf(ch, "SourceKw");
      if (source !== undefined) {
        this.fail(
          `expected 'STREAM' or 'TABLE' but found 'SOURCE'`,
          tokenSpan(source),
          "CREATE SOURCE cannot be used with AS SELECT",
        );
      }
      return {
        kind: "CreateAsSelect",
        sourceType,
        orReplace,
        ifNotExists,
        name,
        properties,
        query: this.query(queryNode),
        span,
      };
    }
    const elements = nodesOf(ch, "elements").map((e) => this.tableElement(e));
    for (const e of elements) {
      if (sourceType === "STREAM" && e.constraint.kind === "PrimaryKey") {
        this.fail(
          `column ${e.name.value} is a PRIMARY KEY column: streams have KEY columns`,
          e.span,
          "use KEY for streams (PRIMARY KEY is for tables)",
          "SYN004",
        );
      } else if (sourceType === "TABLE" && e.constraint.kind === "Key") {
        this.fail(
          `column ${e.name.value} is a KEY column: tables have PRIMARY KEY columns`,
          e.span,
          "use PRIMARY KEY for tables (KEY is for streams)",
          "SYN004",
        );
      }
    }
    return {
      kind: "CreateSource",
      sourceType,
      orReplace,
      isSource: ch["SourceKw"] !== undefined,
      ifNotExists,
      name,
      elements,
      properties,
      span,
    };
  }

  private tableElement(node: CstNode): TableElement {
    const ch = node.children;
    let constraint: ColumnConstraint = { kind: "None" };
    if (ch["PrimaryKw"] !== undefined) constraint = { kind: "PrimaryKey" };
    else if (ch["KeyKw"] !== undefined) constraint = { kind: "Key" };
    else if (ch["HeadersKw"] !== undefined) constraint = { kind: "Headers" };
    else if (ch["HeaderKw"] !== undefined)
      constraint = { kind: "Header", key: unquoteString(must(tokenOf(ch, "headerKey"), "header key").image) };
    return {
      kind: "TableElement",
      name: this.name(must(nodeOf(ch, "name"), "name")),
      type: this.type(must(nodeOf(ch, "type"), "type")),
      constraint,
      span: nodeSpan(node),
    };
  }

  private properties(node: CstNode): Property[] {
    return nodesOf(node.children, "property").map((p) => {
      const name = this.name(must(nodeOf(p.children, "name"), "name"));
      return {
        kind: "Property",
        name: name.value.toUpperCase(),
        nameSpan: name.span,
        value: this.literal(must(nodeOf(p.children, "literal"), "literal"), false),
        span: nodeSpan(p),
      };
    });
  }

  private insert(node: CstNode): Statement {
    const ch = node.children;
    const target = this.name(must(nodeOf(ch, "target"), "target"));
    const span = nodeSpan(node);
    if (ch["Values"] !== undefined) {
      const values = nodesOf(ch, "values").map((v) => this.topExpr(v));
      return ch["columnsOpen"] === undefined
        ? { kind: "InsertValues", target, values, span }
        : { kind: "InsertValues", target, columns: nodesOf(ch, "columns").map((c) => this.name(c)), values, span };
    }
    const with_ = nodeOf(ch, "withProperties");
    return {
      kind: "InsertInto",
      target,
      properties: with_ === undefined ? [] : this.properties(with_),
      query: this.query(must(nodeOf(ch, "query"), "query")),
      span,
    };
  }

  private drop(node: CstNode): Statement {
    const ch = node.children;
    const name = this.name(must(nodeOf(ch, "name"), "name"));
    const ifExists = ch["ifExists"] !== undefined;
    const span = nodeSpan(node);
    if (ch["TypeKw"] !== undefined) return { kind: "DropType", ifExists, name, span };
    return {
      kind: "DropSource",
      sourceType: must(tokenOf(ch, "sourceType"), "source type").image.toUpperCase() as SourceType,
      ifExists,
      name,
      deleteTopic: ch["DeleteKw"] !== undefined,
      span,
    };
  }

  private describe(node: CstNode): Statement {
    const ch = node.children;
    const span = nodeSpan(node);
    const extended = ch["ExtendedKw"] !== undefined;
    const all = tokenOf(ch, "all");
    if (all !== undefined) {
      const sourceType: SourceType = all.image.toUpperCase() === "STREAMS" ? "STREAM" : "TABLE";
      return { kind: "Describe", target: { kind: "AllSources", sourceType }, extended, span };
    }
    const fn = nodeOf(ch, "functionName");
    if (fn !== undefined)
      return { kind: "Describe", target: { kind: "Function", name: this.name(fn) }, extended, span };
    return {
      kind: "Describe",
      target: { kind: "Source", name: this.name(must(nodeOf(ch, "name"), "name")) },
      extended,
      span,
    };
  }

  private print(node: CstNode): Statement {
    const ch = node.children;
    const topicNode = nodeOf(ch, "topic");
    const topicTok = tokenOf(ch, "topicString");
    const topic =
      topicNode !== undefined
        ? must(tokenOf(topicNode.children, "AnyIdent"), "topic").image.replace(/^[`"](.*)[`"]$/s, "$1")
        : unquoteString(must(topicTok, "topic").image);
    const interval = tokenOf(ch, "interval");
    const limit = tokenOf(ch, "limit");
    return {
      kind: "Print",
      topic,
      fromBeginning: ch["BeginningKw"] !== undefined,
      ...(interval === undefined ? {} : { interval: Number(interval.image) }),
      ...(limit === undefined ? {} : { limit: Number(limit.image) }),
      span: nodeSpan(node),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  query(node: CstNode): Query {
    const ch = node.children;
    const window = nodeOf(ch, "windowExpression");
    const where = nodeOf(ch, "where");
    const groupBy = nodeOf(ch, "groupBy");
    const partitionBy = nodeOf(ch, "partitionBy");
    const having = nodeOf(ch, "having");
    const emit = tokenOf(ch, "emitMode");
    const limit = tokenOf(ch, "limit");
    const q: Query = {
      kind: "Query",
      select: nodesOf(ch, "items").map((i) => this.selectItem(i)),
      from: this.relation(must(nodeOf(ch, "relation"), "relation")),
      ...(window === undefined ? {} : { window: this.window(window) }),
      ...(where === undefined ? {} : { where: this.topExpr(where) }),
      ...(groupBy === undefined ? {} : { groupBy: this.groupingList(groupBy) }),
      ...(partitionBy === undefined ? {} : { partitionBy: this.groupingList(partitionBy) }),
      ...(having === undefined ? {} : { having: this.topExpr(having) }),
      ...(emit === undefined ? {} : { emit: emit.image.toUpperCase() as "CHANGES" | "FINAL" }),
      ...(limit === undefined ? {} : { limit: Number(limit.image) }),
      span: nodeSpan(node),
    };
    return q;
  }

  /** `e1, e2` or `(e1, e2)`: a parenthesised list is accepted as the whole GROUP BY / PARTITION BY. */
  private groupingList(node: CstNode): Expr[] {
    const items = nodesOf(node.children, "items");
    if (items.length === 1) {
      const paren = bareParenthesized(items[0]!);
      if (paren !== undefined && nodesOf(paren.children, "items").length > 1) {
        return nodesOf(paren.children, "items").map((i) => this.topExpr(i));
      }
    }
    return items.map((i) => this.topExpr(i));
  }

  private selectItem(node: CstNode): SelectItem {
    const ch = node.children;
    const span = nodeSpan(node);
    const qualifier = nodeOf(ch, "qualifier");
    if (qualifier !== undefined) return { kind: "SelectAll", qualifier: this.name(qualifier).value, span };
    const exprNode = nodeOf(ch, "expression");
    if (exprNode === undefined) return { kind: "SelectAll", span };
    const aliasNode = nodeOf(ch, "alias");
    const postfix = bareChain(exprNode, "postfixExpression");
    if (postfix !== undefined) {
      const fields = postfix.children["field"] ?? [];
      const last = fields[fields.length - 1];
      const ops = tokensOf(postfix.children, "postfix");
      if (last !== undefined && isToken(last) && ops[ops.length - 1]?.image === "->") {
        const base = this.postfix(postfix, true);
        if (aliasNode !== undefined) {
          const alias = this.name(aliasNode);
          this.fail(
            `expected ',' or 'FROM' but found '${alias.value}'`,
            alias.span,
            "a '->*' select item cannot have an alias",
          );
        }
        this.check(base, false);
        return { kind: "SelectStructAll", expr: base, span };
      }
    }
    const expr = this.topExpr(exprNode);
    return aliasNode === undefined
      ? { kind: "SelectExpr", expr, span }
      : { kind: "SelectExpr", expr, alias: this.name(aliasNode), span };
  }

  private relation(node: CstNode): Relation {
    let rel: Relation = this.aliasedSource(must(nodeOf(node.children, "first"), "source"));
    for (const j of nodesOf(node.children, "joins")) {
      const ch = j.children;
      const typeTok = tokenOf(ch, "joinType");
      const right = this.aliasedSource(must(nodeOf(ch, "right"), "join source"));
      const within = nodeOf(ch, "within");
      const on = this.topExpr(must(nodeOf(ch, "on"), "ON"));
      rel = {
        kind: "Join",
        joinType:
          typeTok === undefined ? "INNER" : (typeTok.image.toUpperCase() as "INNER" | "LEFT" | "RIGHT" | "FULL"),
        left: rel,
        right,
        ...(within === undefined ? {} : { within: this.within(within) }),
        on,
        span: joinSpans(rel.span, nodeSpan(j)),
      };
    }
    return rel;
  }

  private aliasedSource(node: CstNode): AliasedSource {
    const alias = nodeOf(node.children, "alias");
    const asOf = nodeOf(node.children, "asOf");
    const name = this.name(must(nodeOf(node.children, "name"), "name"));
    return {
      kind: "AliasedSource",
      name,
      ...(alias === undefined ? {} : { alias: this.name(alias) }),
      ...(asOf === undefined ? {} : { asOf: this.topExpr(asOf) }),
      span: nodeSpan(node),
    };
  }

  private within(node: CstNode): Within {
    const ch = node.children;
    const both = nodeOf(ch, "both");
    const grace = nodeOf(ch, "grace");
    const before = this.duration(must(both ?? nodeOf(ch, "before"), "duration"));
    const after = both === undefined ? this.duration(must(nodeOf(ch, "after"), "duration")) : before;
    return {
      kind: "Within",
      before,
      after,
      ...(grace === undefined ? {} : { grace: this.duration(grace) }),
      span: nodeSpan(node),
    };
  }

  duration(node: CstNode): Duration {
    const valueTok = must(tokenOf(node.children, "value"), "duration value");
    const unitTok = must(tokenOf(node.children, "unit"), "time unit");
    let unit = unitTok.image.toUpperCase();
    if (!unit.endsWith("S")) unit += "S";
    const value = Number(valueTok.image);
    return {
      kind: "Duration",
      value,
      unit: unit as TimeUnit,
      millis: value * UNIT_MILLIS[unit as TimeUnit],
      span: nodeSpan(node),
    };
  }

  private window(node: CstNode): WindowExpr {
    const ch = node.children;
    const typeTok = must(tokenOf(ch, "windowType"), "window type");
    const windowType = typeTok.image.toUpperCase();
    const span = nodeSpan(node);
    const params = new Map<string, { d: Duration; span: Span }>();
    for (const p of nodesOf(ch, "params")) {
      const kw = tokenOf(p.children, "param");
      const key = kw === undefined ? "GAP" : kw.image.toUpperCase();
      const pSpan = nodeSpan(p);
      if (params.has(key)) {
        this.fail(`expected ')' but found a second ${describeParam(key)}`, pSpan);
        continue;
      }
      params.set(key, { d: this.duration(must(nodeOf(p.children, "duration"), "duration")), span: pSpan });
    }
    const allowed: Record<string, readonly string[]> = {
      TUMBLING: ["SIZE", "RETENTION", "GRACE"],
      HOPPING: ["SIZE", "ADVANCE", "RETENTION", "GRACE"],
      SESSION: ["GAP", "RETENTION", "GRACE"],
    };
    const required: Record<string, readonly string[]> = {
      TUMBLING: ["SIZE"],
      HOPPING: ["SIZE", "ADVANCE"],
      SESSION: ["GAP"],
    };
    for (const [key, { span: pSpan }] of params) {
      if (!allowed[windowType]!.includes(key)) {
        this.fail(`${describeParam(key)} is not allowed in a ${windowType} window`, pSpan, windowHint(windowType));
      }
    }
    for (const key of required[windowType]!) {
      if (!params.has(key))
        this.fail(`a ${windowType} window needs ${describeParam(key)}`, span, windowHint(windowType));
    }
    const d = (key: string): Duration =>
      params.get(key)?.d ?? { kind: "Duration", value: 0, unit: "MILLISECONDS", millis: 0, span };
    const retention = params.get("RETENTION")?.d;
    const grace = params.get("GRACE")?.d;
    const opt = { ...(retention === undefined ? {} : { retention }), ...(grace === undefined ? {} : { grace }) };
    switch (windowType) {
      case "TUMBLING":
        return { kind: "TumblingWindow", size: d("SIZE"), ...opt, span };
      case "HOPPING":
        return { kind: "HoppingWindow", size: d("SIZE"), advance: d("ADVANCE"), ...opt, span };
      default:
        return { kind: "SessionWindow", gap: d("GAP"), ...opt, span };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Types

  type(node: CstNode): TypeNode {
    const ch = node.children;
    const span = nodeSpan(node);
    const element = nodeOf(ch, "element");
    if (element !== undefined) return { kind: "ArrayType", element: this.type(element), span };
    const key = nodeOf(ch, "key");
    if (key !== undefined)
      return {
        kind: "MapType",
        key: this.type(key),
        value: this.type(must(nodeOf(ch, "value"), "map value type")),
        span,
      };
    if (ch["StructKw"] !== undefined) {
      const fields: StructFieldNode[] = nodesOf(ch, "fields").map((f) => ({
        kind: "StructField",
        name: this.name(must(nodeOf(f.children, "name"), "field name")).value,
        type: this.type(must(nodeOf(f.children, "type"), "field type")),
        span: nodeSpan(f),
      }));
      return { kind: "StructType", fields, span };
    }
    const name = this.name(must(nodeOf(ch, "name"), "type name"));
    const params = nodesOf(ch, "params");
    const upper = name.quoted ? undefined : name.value;
    if (upper === "DECIMAL" || upper === "DEC") {
      const ints = params.map((p) => tokenOf(p.children, "value"));
      if (ints.length !== 2 || ints[0] === undefined || ints[1] === undefined) {
        const found =
          params.length === 0
            ? "no parameters"
            : params.length === 2
              ? "a non-integer parameter"
              : `${params.length} parameter(s)`;
        this.fail(
          `expected DECIMAL(precision, scale) but found ${found}`,
          span,
          "write DECIMAL(p, s), e.g. DECIMAL(10, 2)",
        );
        return { kind: "DecimalType", precision: 1, scale: 0, span };
      }
      return { kind: "DecimalType", precision: Number(ints[0].image), scale: Number(ints[1].image), span };
    }
    // ksqlDB accepts and ignores parameters on VARCHAR/STRING (`VARCHAR(STRING)`, `VARCHAR(10)`).
    if (params.length > 0 && upper !== "VARCHAR" && upper !== "STRING") {
      this.fail(
        `expected ',' or ')' after type ${name.value} but found '('`,
        nodeSpan(params[0]!),
        `${name.value} takes no parameters`,
      );
    }
    for (const p of params) {
      const word = nodeOf(p.children, "word");
      if (word !== undefined && this.name(word).value !== "STRING") {
        this.fail(`expected an integer but found '${this.name(word).value}'`, nodeSpan(word));
      }
    }
    const primitive = upper === undefined ? undefined : PRIMITIVES[upper];
    if (primitive !== undefined) return { kind: "PrimitiveType", name: primitive, span };
    return { kind: "CustomType", name: name.value, span };
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  /** Builds a whole expression (a clause's, an argument's of a statement) and checks lambda placement. */
  topExpr(node: CstNode): Expr {
    const e = this.expr(node);
    this.check(e, false);
    return e;
  }

  /** Lambdas only as function arguments; reports any other. */
  private check(e: Expr, lambdaOk: boolean): void {
    switch (e.kind) {
      case "Lambda":
        if (!lambdaOk) this.fail("a lambda ('=>') is only allowed as a function argument", e.span);
        this.check(e.body, false);
        return;
      case "FunctionCall":
        for (const a of e.args) this.check(a, true);
        return;
      case "Literal":
      case "ColumnRef":
        return;
      case "Dereference":
        return this.check(e.base, false);
      case "Subscript":
        this.check(e.base, false);
        return this.check(e.index, false);
      case "Unary":
        return this.check(e.operand, false);
      case "Binary":
      case "IsDistinctFrom":
        this.check(e.left, false);
        return this.check(e.right, false);
      case "IsNull":
        return this.check(e.operand, false);
      case "Between":
        this.check(e.operand, false);
        this.check(e.low, false);
        return this.check(e.high, false);
      case "InList":
        this.check(e.operand, false);
        for (const i of e.items) this.check(i, false);
        return;
      case "Like":
        this.check(e.operand, false);
        this.check(e.pattern, false);
        if (e.escape !== undefined) this.check(e.escape, false);
        return;
      case "Case":
        if (e.operand !== undefined) this.check(e.operand, false);
        for (const w of e.whens) {
          this.check(w.when, false);
          this.check(w.then, false);
        }
        if (e.else !== undefined) this.check(e.else, false);
        return;
      case "Cast":
        return this.check(e.operand, false);
      case "ArrayCtor":
        for (const i of e.items) this.check(i, false);
        return;
      case "MapCtor":
        for (const en of e.entries) {
          this.check(en.key, false);
          this.check(en.value, false);
        }
        return;
      case "StructCtor":
        for (const f of e.fields) this.check(f.value, false);
        return;
    }
  }

  expr(node: CstNode): Expr {
    const ch = node.children;
    switch (node.name) {
      case "expression":
        return this.expr(must(nodeOf(ch, "orExpression"), "or"));
      case "orExpression":
      case "andExpression": {
        const op = node.name === "orExpression" ? "OR" : "AND";
        const operands = nodesOf(ch, "operands").map((o) => this.expr(o));
        return operands.reduce((left, right) => ({
          kind: "Binary",
          op,
          left,
          right,
          span: joinSpans(left.span, right.span),
        }));
      }
      case "notExpression": {
        const negated = nodeOf(ch, "negated");
        if (negated === undefined) return this.expr(must(nodeOf(ch, "predicated"), "predicate"));
        const operand = this.expr(negated);
        return { kind: "Unary", op: "NOT", operand, span: nodeSpan(node) };
      }
      case "predicated":
        return this.predicated(node);
      case "concatExpression":
      case "additiveExpression":
      case "multiplicativeExpression": {
        const operands = nodesOf(ch, "operands").map((o) => this.expr(o));
        const ops = tokensOf(ch, "ops");
        let acc = operands[0]!;
        for (let i = 1; i < operands.length; i++) {
          const right = operands[i]!;
          acc = {
            kind: "Binary",
            op: ops[i - 1]!.image as ArithmeticOp | "||",
            left: acc,
            right,
            span: joinSpans(acc.span, right.span),
          };
        }
        return acc;
      }
      case "unaryExpression": {
        const sign = tokenOf(ch, "sign");
        if (sign === undefined) return this.expr(must(nodeOf(ch, "postfixExpression"), "postfix"));
        const operandNode = must(nodeOf(ch, "operand"), "operand");
        const lit = sign.image === "-" ? bareChain(operandNode, "literal") : undefined;
        const operand = lit !== undefined ? this.literal(lit, true) : this.expr(operandNode);
        return { kind: "Unary", op: sign.image as "-" | "+", operand, span: nodeSpan(node) };
      }
      case "postfixExpression":
        return this.postfix(node, false);
      case "primaryExpression": {
        const inner = must(firstChild(ch), "primary");
        return this.expr(inner);
      }
      case "literal":
        return this.literal(node, false);
      case "castExpression":
        return {
          kind: "Cast",
          operand: this.expr(must(nodeOf(ch, "expression"), "cast operand")),
          type: this.type(must(nodeOf(ch, "type"), "cast type")),
          span: nodeSpan(node),
        };
      case "caseExpression": {
        const operand = nodeOf(ch, "operand");
        const else_ = nodeOf(ch, "else");
        return {
          kind: "Case",
          ...(operand === undefined ? {} : { operand: this.expr(operand) }),
          whens: nodesOf(ch, "whens").map((w) => ({
            when: this.expr(must(nodeOf(w.children, "when"), "when")),
            then: this.expr(must(nodeOf(w.children, "then"), "then")),
            span: nodeSpan(w),
          })),
          ...(else_ === undefined ? {} : { else: this.expr(else_) }),
          span: nodeSpan(node),
        };
      }
      case "arrayConstructor":
        return { kind: "ArrayCtor", items: nodesOf(ch, "items").map((i) => this.expr(i)), span: nodeSpan(node) };
      case "mapConstructor": {
        const keys = nodesOf(ch, "keys");
        const values = nodesOf(ch, "values");
        return {
          kind: "MapCtor",
          entries: keys.map((k, i) => ({ key: this.expr(k), value: this.expr(values[i]!) })),
          span: nodeSpan(node),
        };
      }
      case "structConstructor": {
        const names = nodesOf(ch, "names");
        const values = nodesOf(ch, "values");
        return {
          kind: "StructCtor",
          fields: names.map((n, i) => {
            const name = this.name(n);
            const value = this.expr(values[i]!);
            return { name: name.value, value, span: joinSpans(name.span, value.span) };
          }),
          span: nodeSpan(node),
        };
      }
      case "parenthesized":
        return this.parenthesized(node);
      case "identifierExpression":
        return this.identifierExpression(node);
      default:
        throw new Error(`internal: unknown expression rule ${node.name}`);
    }
  }

  private predicated(node: CstNode): Expr {
    const ch = node.children;
    const operand = this.expr(must(nodeOf(ch, "operand"), "operand"));
    const span = nodeSpan(node);
    const negated = ch["not"] !== undefined;
    const cmp = tokenOf(ch, "comparison");
    if (cmp !== undefined) {
      const op = (cmp.tokenType === NotEquals ? "<>" : cmp.image) as ComparisonOp;
      return { kind: "Binary", op, left: operand, right: this.expr(must(nodeOf(ch, "right"), "right")), span };
    }
    if (ch["isNull"] !== undefined) return { kind: "IsNull", operand, negated, span };
    if (ch["isDistinct"] !== undefined) {
      return {
        kind: "IsDistinctFrom",
        left: operand,
        right: this.expr(must(nodeOf(ch, "right"), "right")),
        negated,
        span,
      };
    }
    if (ch["between"] !== undefined) {
      return {
        kind: "Between",
        operand,
        low: this.expr(must(nodeOf(ch, "low"), "low")),
        high: this.expr(must(nodeOf(ch, "high"), "high")),
        negated,
        span,
      };
    }
    if (ch["in"] !== undefined) {
      const list = must(nodeOf(ch, "items"), "IN list");
      return {
        kind: "InList",
        operand,
        items: nodesOf(list.children, "items").map((i) => this.expr(i)),
        negated,
        span,
      };
    }
    if (ch["like"] !== undefined) {
      const escape = nodeOf(ch, "escape");
      return {
        kind: "Like",
        operand,
        pattern: this.expr(must(nodeOf(ch, "pattern"), "pattern")),
        ...(escape === undefined ? {} : { escape: this.expr(escape) }),
        negated,
        span,
      };
    }
    return operand;
  }

  /** `allowStarAtEnd`: the last postfix is `->*` and the caller (a select item) handles it. */
  private postfix(node: CstNode, allowStarAtEnd: boolean): Expr {
    const ch = node.children;
    let acc = this.expr(must(nodeOf(ch, "primaryExpression"), "primary"));
    const ops = tokensOf(ch, "postfix");
    const indexes = nodesOf(ch, "index");
    const closers = tokensOf(ch, "closers");
    const fields = ch["field"] ?? [];
    let ii = 0;
    let fi = 0;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op.image === "[") {
        const index = this.expr(indexes[ii]!);
        const close = closers[ii]!;
        ii++;
        acc = { kind: "Subscript", base: acc, index, span: joinSpans(acc.span, tokenSpan(close)) };
        continue;
      }
      const field = fields[fi++]!;
      if (isToken(field)) {
        if (allowStarAtEnd && k === ops.length - 1) return acc;
        this.fail("'->*' is only allowed as a whole select item", joinSpans(tokenSpan(op), tokenSpan(field)));
        continue;
      }
      const name = this.name(field);
      acc = { kind: "Dereference", base: acc, field: name.value, span: joinSpans(acc.span, name.span) };
    }
    return acc;
  }

  private parenthesized(node: CstNode): Expr {
    const ch = node.children;
    const items = nodesOf(ch, "items");
    const body = nodeOf(ch, "lambdaBody");
    const span = nodeSpan(node);
    if (body !== undefined) {
      const params: string[] = [];
      for (const item of items) {
        const id = bareChain(item, "identifierExpression");
        if (
          id === undefined ||
          nodesOf(id.children, "names").length !== 1 ||
          id.children["call"] !== undefined ||
          id.children["lambdaBody"] !== undefined
        ) {
          this.fail(
            "expected a lambda parameter name",
            nodeSpan(item),
            "lambda parameters are plain names: (x, y) => x + y",
          );
          continue;
        }
        params.push(this.name(nodesOf(id.children, "names")[0]!).value);
      }
      return { kind: "Lambda", params, body: this.expr(body), span };
    }
    if (items.length > 1) {
      const commas = tokensOf(ch, "Comma");
      this.fail(
        "expected ')' but found ','",
        tokenSpan(commas[0]!),
        "a parenthesised list is only allowed as lambda parameters or as the whole GROUP BY / PARTITION BY",
      );
    }
    const inner = this.expr(items[0]!);
    return { ...inner, span };
  }

  private identifierExpression(node: CstNode): Expr {
    const ch = node.children;
    const names = nodesOf(ch, "names").map((n) => this.name(n));
    const first = names[0]!;
    const span = nodeSpan(node);
    if (ch["call"] !== undefined) {
      return {
        kind: "FunctionCall",
        name: first.value.toUpperCase(),
        nameSpan: first.span,
        args: nodesOf(ch, "args").map((a) => this.expr(a)),
        star: ch["star"] !== undefined,
        span,
      };
    }
    const body = nodeOf(ch, "lambdaBody");
    if (body !== undefined) return { kind: "Lambda", params: [first.value], body: this.expr(body), span };
    if (names.length === 1) return { kind: "ColumnRef", name: first.value, span };
    let acc: Expr = {
      kind: "ColumnRef",
      qualifier: first.value,
      name: names[1]!.value,
      span: joinSpans(first.span, names[1]!.span),
    };
    for (const n of names.slice(2))
      acc = { kind: "Dereference", base: acc, field: n.value, span: joinSpans(acc.span, n.span) };
    return acc;
  }

  /** `negated`: the literal is the operand of a unary minus (so -9223372036854775808 fits a BIGINT). */
  literal(node: CstNode, negated: boolean): Literal {
    const tok = must(tokenOf(node.children, "value"), "literal");
    const span = tokenSpan(tok);
    const text = tok.image;
    switch (tok.tokenType) {
      case IntegerLiteral: {
        const big = BigInt(text);
        if (big > MAX_BIGINT + (negated ? 1n : 0n)) {
          this.fail(
            `invalid numeric literal ${negated ? "-" : ""}${text}: out of the BIGINT range`,
            span,
            "use a DECIMAL (e.g. 9223372036854775808.0) or a DOUBLE (e.g. 9.2E18)",
            "SYN003",
          );
        }
        return { kind: "Literal", literal: "integer", value: Number(text), text, span };
      }
      case DecimalLiteral:
        return { kind: "Literal", literal: "decimal", value: text, text, span };
      case DoubleLiteral: {
        const value = Number(text);
        if (!Number.isFinite(value)) this.fail(`number overflows DOUBLE: ${text}`, span, undefined, "SYN003");
        return { kind: "Literal", literal: "double", value, text, span };
      }
      case StringLiteral:
        return { kind: "Literal", literal: "string", value: unquoteString(text), text, span };
      default:
        if (tok.tokenType === K.Null) return { kind: "Literal", literal: "null", value: null, text, span };
        return { kind: "Literal", literal: "boolean", value: tok.tokenType === K.True, text, span };
    }
  }
}

function describeParam(key: string): string {
  switch (key) {
    case "GAP":
      return "a gap duration";
    case "ADVANCE":
      return "ADVANCE BY";
    case "GRACE":
      return "GRACE PERIOD";
    default:
      return key;
  }
}

function windowHint(windowType: string): string {
  switch (windowType) {
    case "TUMBLING":
      return "TUMBLING (SIZE n unit [, RETENTION n unit] [, GRACE PERIOD n unit])";
    case "HOPPING":
      return "HOPPING (SIZE n unit, ADVANCE BY n unit [, RETENTION n unit] [, GRACE PERIOD n unit])";
    default:
      return "SESSION (n unit [, RETENTION n unit] [, GRACE PERIOD n unit])";
  }
}

/**
 * Follows a chain of single-child expression rules from `node` down to a rule named `target`,
 * passing only through levels that add nothing (no operator, no predicate, no sign, no postfix).
 */
function bareChain(node: CstNode, target: string): CstNode | undefined {
  let cur: CstNode | undefined = node;
  while (cur !== undefined) {
    if (cur.name === target) return cur;
    const ch: Children = cur.children;
    switch (cur.name) {
      case "expression":
        cur = nodeOf(ch, "orExpression");
        break;
      case "orExpression":
      case "andExpression":
      case "concatExpression":
      case "additiveExpression":
      case "multiplicativeExpression":
        cur = nodesOf(ch, "operands").length === 1 ? nodeOf(ch, "operands") : undefined;
        break;
      case "notExpression":
        cur = nodeOf(ch, "predicated");
        break;
      case "predicated":
        cur = Object.keys(ch).length === 1 ? nodeOf(ch, "operand") : undefined;
        break;
      case "unaryExpression":
        cur = nodeOf(ch, "postfixExpression");
        break;
      case "postfixExpression":
        cur = ch["postfix"] === undefined ? nodeOf(ch, "primaryExpression") : undefined;
        break;
      case "primaryExpression":
        cur = firstChild(ch);
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** The `parenthesized` node when `expr` is nothing but `( ... )` without a lambda arrow. */
function bareParenthesized(expr: CstNode): CstNode | undefined {
  const p = bareChain(expr, "parenthesized");
  return p !== undefined && p.children["lambdaBody"] === undefined ? p : undefined;
}
