/**
 * The Prettier printer for esql: format AST (see `ast.ts`) -> Prettier Doc.
 *
 * Layout rules (one canonical layout):
 * - keywords, type names, function names and WITH property names upper case; identifiers, literals
 *   and time units exactly as the user wrote them (identifiers keep their case and quotes);
 * - a statement that fits the print width stays on one line; otherwise every clause (SELECT, FROM,
 *   each JOIN, WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT) starts a line, and lists
 *   (select items, columns, WITH properties, arguments) break one item per line, indented;
 * - AND/OR chains break before the operator; CASE breaks one WHEN per line;
 * - parentheses only where precedence needs them (redundant ones are dropped);
 * - each statement ends with `;`; at most one blank line between statements is kept.
 *
 * Every child node is printed through `path.call(print, ...)` so that Prettier prints the comments
 * attached to it.
 */
import { doc, type AstPath, type Doc, type ParserOptions } from "prettier";
import type { IToken } from "chevrotain";
import type { Expr, Statement } from "../ast/nodes.ts";
import { Arrow, DecimalLiteral, Deref, DoubleLiteral, IntegerLiteral, K, StringLiteral } from "../../grammar/tokens.ts";
import { isNameToken, isQuotedToken, type Source } from "./source.ts";
import type { CommentNode, FormatNode, ScriptNode } from "./ast.ts";

const { group, indent, line, softline, hardline, join, lineSuffix, breakParent } = doc.builders;

// Prettier's path API is typed per node; our printer dispatches on `kind` itself, so it walks untyped paths.
type Print = (selector?: any, args?: unknown) => Doc;
type Path = AstPath<any>;

interface PrintArgs {
  /** The node is the left operand of a chain of the same logical operator: return its parts, ungrouped. */
  readonly chain?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Precedence (higher binds tighter), mirroring grammar/parser.ts

const PREC = {
  lambda: 0,
  or: 1,
  and: 2,
  not: 3,
  predicate: 4,
  concat: 5,
  additive: 6,
  multiplicative: 7,
  unary: 8,
  postfix: 9,
  primary: 10,
} as const;

function precedence(e: Expr): number {
  switch (e.kind) {
    case "Lambda":
      return PREC.lambda;
    case "Binary":
      switch (e.op) {
        case "OR":
          return PREC.or;
        case "AND":
          return PREC.and;
        case "||":
          return PREC.concat;
        case "+":
        case "-":
          return PREC.additive;
        case "*":
        case "/":
        case "%":
          return PREC.multiplicative;
        default:
          return PREC.predicate;
      }
    case "Unary":
      return e.op === "NOT" ? PREC.not : PREC.unary;
    case "IsNull":
    case "Between":
    case "InList":
    case "Like":
    case "IsDistinctFrom":
      return PREC.predicate;
    case "Subscript":
    case "Dereference":
      return PREC.postfix;
    default:
      return PREC.primary;
  }
}

/** Minimum precedence of the left and right operand of a binary operator at `p`. */
function operandPrec(p: number): { left: number; right: number } {
  // Comparisons do not chain: both sides are value expressions.
  if (p === PREC.predicate) return { left: PREC.concat, right: PREC.concat };
  return { left: p, right: p + 1 };
}

// ---------------------------------------------------------------------------------------------

function sourceOf(path: Path): Source {
  return (path.root as unknown as ScriptNode).source;
}

/** Prints the child at `key` of the current node, in parentheses when its precedence is below `min`. */
function operand(path: Path, print: Print, key: string | number | (string | number)[], min: number): Doc {
  const keys = Array.isArray(key) ? key : [key];
  const child = keys.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], path.node) as Expr;
  const printed = print(keys);
  return precedence(child) < min ? ["(", printed, ")"] : printed;
}

function commaList(items: Doc[]): Doc {
  return join([",", line], items);
}

/** `open items close`, one item per line when it does not fit. */
function bracketList(open: string, items: Doc[], close: string): Doc {
  if (items.length === 0) return [open, close];
  return group([open, indent([softline, commaList(items)]), softline, close]);
}

/**
 * The printer prints comments itself (`willPrintOwnComments`), with rules that do not depend on
 * where the line breaks were in the input, so that formatting is idempotent:
 * - leading: a block comment then a space (a line break before a statement when there was one), a
 *   line comment then a line break; a blank line after a statement's leading comment is kept;
 * - trailing: at the end of the line (`lineSuffix`); a comment that was on its own line stays on its own line;
 * - dangling (inside a node without children, `COUNT(/* all *\/ *)`): after the node.
 */
export function printEsql(path: Path, options: ParserOptions<FormatNode>, print: Print, args?: unknown): Doc {
  const node = path.node as FormatNode;
  const printed = printNode(path, options, print, (args ?? {}) as PrintArgs);
  // A script's own comments (a script without statements) are printed by printScript.
  if (node.kind === "Script") return printed;
  const comments = (node as { comments?: CommentNode[] }).comments ?? [];
  if (comments.length === 0) return printed;
  const text = options.originalText;
  const isStatement = (path.parent as FormatNode | null)?.kind === "Script";
  const leading: Doc[] = [];
  const trailing: Doc[] = [];
  for (const c of comments) {
    c.printed = true;
    if (c.leading) {
      const breakAfter = !c.block || (isStatement && newlineAfter(text, c.span.end));
      leading.push(c.value, breakAfter ? hardline : " ");
      if (isStatement && blankLineAt(text, c.span.end)) leading.push(hardline);
    } else if (c.trailing) {
      if (newlineBefore(text, c.span.start)) {
        const blank = isStatement && blankLineAt(text, lineStartBefore(text, c.span.start) - 1);
        trailing.push(lineSuffix([hardline, blank ? hardline : "", c.value]), breakParent);
      } else if (c.block) {
        trailing.push(" ", c.value);
      } else {
        // Nothing but the statement's end after it: no need to break the lines before it.
        const atEnd = /^[;]?$/.test(text[skipBlanksAndComments(text, c.span.end, true)] ?? "");
        trailing.push(lineSuffix([" ", c.value]), atEnd ? "" : breakParent);
      }
    } else {
      trailing.push(c.block ? [" ", c.value] : [lineSuffix([" ", c.value]), breakParent]);
    }
  }
  return [leading, printed, trailing];
}

function newlineAfter(text: string, i: number): boolean {
  return /^[ \t]*(\r?\n|$)/.test(text.slice(i, i + 200));
}

function newlineBefore(text: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && (text[j] === " " || text[j] === "\t")) j--;
  return j < 0 || text[j] === "\n" || text[j] === "\r";
}

/** Offset of the start of the line holding `i`. */
function lineStartBefore(text: string, i: number): number {
  return text.lastIndexOf("\n", i - 1) + 1;
}

/** After `i` the line ends and the next line is blank. */
function blankLineAt(text: string, i: number): boolean {
  const m = /^[ \t]*\r?\n[ \t]*\r?\n/.exec(text.slice(i, i + 400));
  return m !== null;
}

function printNode(path: Path, options: ParserOptions<FormatNode>, print: Print, args: PrintArgs): Doc {
  const node = path.node;
  const src = sourceOf(path);
  switch (node.kind) {
    case "Script":
      return printScript(path as AstPath<ScriptNode>, print);
    case "Verbatim":
      return node.text;
    case "Comment":
      return node.value;

    // ---- names, types, literals
    case "Name":
      return src.slice(node.span);
    case "PrimitiveType":
      return node.name;
    case "DecimalType":
      return `DECIMAL(${node.precision}, ${node.scale})`;
    case "ArrayType":
      return ["ARRAY<", print("element"), ">"];
    case "MapType":
      return ["MAP<", print("key"), ", ", print("value"), ">"];
    case "StructType":
      if (node.fields.length === 0) return "STRUCT<>";
      return group(["STRUCT<", indent([softline, commaList(path.map(print, "fields"))]), softline, ">"]);
    case "StructField":
      return [nameTokenText(src.tokens(node.span)[0]!), " ", print("type")];
    case "CustomType":
      return src
        .innerTokens(node.span)
        .map((t) => t.image)
        .join("");
    case "Literal":
      return printLiteral(node, src);
    case "Duration": {
      const toks = src.innerTokens(node.span);
      return `${toks[0]?.image ?? node.value} ${(toks[1]?.image ?? node.unit).toUpperCase()}`;
    }
    case "Property":
      return [propertyName(src, node.nameSpan), " = ", print("value")];
    case "TableElement":
      return [print("name"), " ", print("type"), printConstraint(node.constraint)];

    // ---- expressions
    case "ColumnRef":
      return src
        .innerTokens(node.span)
        .filter(isNameToken)
        .map((t) => nameTokenText(t))
        .join(".");
    case "Dereference": {
      const toks = src.innerTokens(node.span);
      const field = toks[toks.length - 1]!;
      const sep = toks[toks.length - 2]?.tokenType === Deref ? "->" : ".";
      return [operand(path, print, "base", PREC.postfix), sep, nameTokenText(field)];
    }
    case "Subscript":
      return [operand(path, print, "base", PREC.postfix), "[", print("index"), "]"];
    case "Unary": {
      if (node.op === "NOT") return ["NOT ", operand(path, print, "operand", PREC.not)];
      const inner = operand(path, print, "operand", PREC.unary);
      // `- -x`, `- -- note`: two minus signs in a row would start a comment.
      const spaced =
        (node.operand.kind === "Unary" && node.operand.op !== "NOT") ||
        ((node.operand as { comments?: CommentNode[] }).comments?.some((c) => c.leading) ?? false);
      return [node.op, spaced ? " " : "", inner];
    }
    case "Binary": {
      const p = precedence(node);
      const { left, right } = operandPrec(p);
      if (node.op === "AND" || node.op === "OR") {
        const sameChain = node.left.kind === "Binary" && node.left.op === node.op;
        const leftDoc = sameChain
          ? print("left", { chain: true } satisfies PrintArgs)
          : operand(path, print, "left", left);
        const parts = [leftDoc, line, node.op, " ", operand(path, print, "right", right)];
        return args.chain === true ? parts : group(indent(parts));
      }
      return [operand(path, print, "left", left), " ", node.op, " ", operand(path, print, "right", right)];
    }
    case "IsNull":
      return [operand(path, print, "operand", PREC.concat), node.negated ? " IS NOT NULL" : " IS NULL"];
    case "IsDistinctFrom":
      return [
        operand(path, print, "left", PREC.concat),
        node.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ",
        operand(path, print, "right", PREC.concat),
      ];
    case "Between":
      return [
        operand(path, print, "operand", PREC.concat),
        node.negated ? " NOT BETWEEN " : " BETWEEN ",
        operand(path, print, "low", PREC.concat),
        " AND ",
        operand(path, print, "high", PREC.concat),
      ];
    case "InList":
      return [
        operand(path, print, "operand", PREC.concat),
        node.negated ? " NOT IN " : " IN ",
        bracketList("(", path.map(print, "items"), ")"),
      ];
    case "Like":
      return [
        operand(path, print, "operand", PREC.concat),
        node.negated ? " NOT LIKE " : " LIKE ",
        operand(path, print, "pattern", PREC.concat),
        node.escape === undefined ? "" : [" ESCAPE ", operand(path, print, "escape", PREC.concat)],
      ];
    case "Case":
      return group([
        "CASE",
        node.operand === undefined ? "" : [" ", print("operand")],
        indent([
          line,
          join(
            line,
            path.map(
              (w: Path) => group(["WHEN ", w.call(print, "when"), indent([line, "THEN ", w.call(print, "then")])]),
              "whens",
            ),
          ),
        ]),
        node.else === undefined ? "" : indent([line, "ELSE ", print("else")]),
        line,
        "END",
      ]);
    case "Cast":
      return group(["CAST(", indent([softline, print("operand"), " AS ", print("type")]), softline, ")"]);
    case "FunctionCall": {
      const nameTok = src.tokens(node.nameSpan)[0];
      const name = nameTok !== undefined && isQuotedToken(nameTok) ? nameTok.image : node.name;
      if (node.star) return [name, "(*)"];
      return [name, bracketList("(", path.map(print, "args"), ")")];
    }
    case "Lambda": {
      const toks = src.innerTokens(node.span);
      const arrow = toks.findIndex((t) => t.tokenType === Arrow);
      const params = toks.slice(0, arrow).filter(isNameToken).map(nameTokenText);
      const head = params.length === 1 ? params[0]! : `(${params.join(", ")})`;
      return group([head, " =>", indent([line, print("body")])]);
    }
    case "ArrayCtor":
      return ["ARRAY", bracketList("[", path.map(print, "items"), "]")];
    case "MapCtor":
      return [
        "MAP",
        bracketList(
          "(",
          path.map((e: Path) => [e.call(print, "key"), " := ", e.call(print, "value")], "entries"),
          ")",
        ),
      ];
    case "StructCtor":
      return [
        "STRUCT",
        bracketList(
          "(",
          path.map(
            (f: Path) => [
              nameTokenText(src.tokens((f.node as { span: { start: number; end: number } }).span)[0]!),
              " := ",
              f.call(print, "value"),
            ],
            "fields",
          ),
          ")",
        ),
      ];

    // ---- queries
    case "SelectExpr":
      return node.alias === undefined ? print("expr") : [print("expr"), " AS ", print("alias")];
    case "SelectAll": {
      if (node.qualifier === undefined) return "*";
      const q = src.innerTokens(node.span).find(isNameToken);
      return [q === undefined ? node.qualifier : nameTokenText(q), ".*"];
    }
    case "SelectStructAll":
      return [operand(path, print, "expr", PREC.postfix), "->*"];
    case "AliasedSource":
      return [
        print("name"),
        node.asOf === undefined ? "" : [" FOR SYSTEM_TIME AS OF ", print("asOf")],
        node.alias === undefined ? "" : [" ", print("alias")],
      ];
    case "Join": {
      const kw = node.joinType === "INNER" ? "JOIN" : `${node.joinType} JOIN`;
      return [
        print("left"),
        line,
        group([
          kw,
          " ",
          print("right"),
          node.within === undefined ? "" : [" ", print("within")],
          indent([line, "ON ", print("on")]),
        ]),
      ];
    }
    case "Within": {
      const single =
        node.before === node.after ||
        (node.before.span.start === node.after.span.start && node.before.span.end === node.after.span.end);
      return [
        "WITHIN ",
        single ? print("before") : ["(", print("before"), ", ", print("after"), ")"],
        node.grace === undefined ? "" : [" GRACE PERIOD ", print("grace")],
      ];
    }
    case "TumblingWindow":
    case "HoppingWindow":
    case "SessionWindow": {
      const params: Doc[] = [];
      if (node.kind === "SessionWindow") params.push(print("gap"));
      else params.push(["SIZE ", print("size")]);
      if (node.kind === "HoppingWindow") params.push(["ADVANCE BY ", print("advance")]);
      if (node.retention !== undefined) params.push(["RETENTION ", print("retention")]);
      if (node.grace !== undefined) params.push(["GRACE PERIOD ", print("grace")]);
      const type = node.kind === "TumblingWindow" ? "TUMBLING" : node.kind === "HoppingWindow" ? "HOPPING" : "SESSION";
      return [type, " ", bracketList("(", params, ")")];
    }
    case "Query":
      return printQuery(path as AstPath<Extract<FormatNode, { kind: "Query" }>>, print);

    // ---- statements
    default:
      return printStatement(path, print, src);
  }
}

function printScript(path: AstPath<ScriptNode>, print: Print): Doc {
  const script = path.node;
  const parts: Doc[] = [];
  path.each((p: Path, i: number) => {
    const stmt = p.node as ScriptNode["statements"][number];
    parts.push(print(), ";");
    const next = script.statements[i + 1];
    if (next !== undefined) {
      parts.push(hardline);
      if (blankLineAfter(script.source.text, stmt.span.end)) parts.push(hardline);
    }
  }, "statements");
  if (script.statements.length === 0) {
    // Only comments.
    const comments = (script as { comments?: CommentNode[] }).comments ?? [];
    return [
      join(
        hardline,
        comments.map((c) => ((c.printed = true), c.value)),
      ),
      comments.length > 0 ? hardline : "",
    ];
  }
  return [parts, hardline];
}

/**
 * True when a blank line follows the statement ending at `end`: after its `;` and any comment on
 * the same line (those print on the statement's line) comes an empty line.
 */
function blankLineAfter(text: string, end: number): boolean {
  // To the statement's `;`, past any comments before it (they print before the `;`).
  let i = skipBlanksAndComments(text, end, true);
  if (text[i] === ";") i++;
  else i = end;
  for (;;) {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\r")) i++;
    if (text.startsWith("--", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const close = text.indexOf("*/", i + 2);
      if (close < 0 || text.slice(i, close).includes("\n")) break;
      i = close + 2;
    } else break;
  }
  let newlines = 0;
  while (i < text.length && /\s/.test(text[i]!)) {
    if (text[i] === "\n") newlines++;
    i++;
  }
  return newlines >= 2 && i < text.length;
}

/** Skips blanks and comments from `i` (and newlines only when `newlines`); returns the next offset. */
function skipBlanksAndComments(text: string, i: number, newlines: boolean): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!) && (newlines || text[i] !== "\n")) i++;
    if (text.startsWith("--", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const close = text.indexOf("*/", i + 2);
      if (close < 0) return text.length;
      i = close + 2;
    } else return i;
  }
}

function printQuery(path: AstPath<Extract<FormatNode, { kind: "Query" }>>, print: Print): Doc {
  const q = path.node;
  const clauses: Doc[] = [group(["SELECT", indent([line, commaList(path.map(print, "select"))])])];
  clauses.push(["FROM ", print("from")]);
  if (q.window !== undefined) clauses.push(["WINDOW ", print("window")]);
  if (q.where !== undefined) clauses.push(["WHERE ", print("where")]);
  if (q.groupBy !== undefined)
    clauses.push(group(["GROUP BY", indent([line, commaList(path.map((p) => groupingItem(p, print), "groupBy"))])]));
  if (q.partitionBy !== undefined)
    clauses.push(
      group(["PARTITION BY", indent([line, commaList(path.map((p) => groupingItem(p, print), "partitionBy"))])]),
    );
  if (q.having !== undefined) clauses.push(["HAVING ", print("having")]);
  if (q.emit !== undefined) clauses.push(`EMIT ${q.emit}`);
  if (q.limit !== undefined) clauses.push(`LIMIT ${q.limit}`);
  // No group here: the statement's group decides whether the clauses share a line.
  return join(line, clauses);
}

/** GROUP BY / PARTITION BY items are value expressions: a condition needs parentheses. */
function groupingItem(path: AstPath<unknown>, print: Print): Doc {
  const printed = print();
  return precedence(path.node as Expr) < PREC.concat ? ["(", printed, ")"] : printed;
}

function printStatement(path: Path, print: Print, src: Source): Doc {
  const node = path.node as Statement;
  switch (node.kind) {
    case "CreateSource": {
      const head = [
        "CREATE ",
        node.orReplace ? "OR REPLACE " : "",
        node.isSource ? "SOURCE " : "",
        node.sourceType,
        " ",
        node.ifNotExists ? "IF NOT EXISTS " : "",
        print("name"),
      ];
      const elements = node.elements.length === 0 ? "" : [" ", bracketList("(", path.map(print, "elements"), ")")];
      return group([head, elements, withClause(path, print, node.properties.length)]);
    }
    case "CreateAsSelect":
      return group([
        "CREATE ",
        node.orReplace ? "OR REPLACE " : "",
        node.sourceType,
        " ",
        node.ifNotExists ? "IF NOT EXISTS " : "",
        print("name"),
        withClause(path, print, node.properties.length),
        " AS",
        indent([line, print("query")]),
      ]);
    case "InsertInto":
      return group([
        "INSERT INTO ",
        print("target"),
        withClause(path, print, node.properties.length),
        indent([line, print("query")]),
      ]);
    case "InsertValues":
      return group([
        "INSERT INTO ",
        print("target"),
        node.columns === undefined ? "" : [" ", bracketList("(", path.map(print, "columns"), ")")],
        " VALUES ",
        bracketList("(", path.map(print, "values"), ")"),
      ]);
    case "DropSource":
      return [
        "DROP ",
        node.sourceType,
        node.ifExists ? " IF EXISTS " : " ",
        print("name"),
        node.deleteTopic ? " DELETE TOPIC" : "",
      ];
    case "CreateType":
      return group(["CREATE TYPE ", node.ifNotExists ? "IF NOT EXISTS " : "", print("name"), " AS ", print("type")]);
    case "DropType":
      return ["DROP TYPE ", node.ifExists ? "IF EXISTS " : "", print("name")];
    case "Terminate":
      return node.all ? "TERMINATE ALL" : ["TERMINATE ", lastNameToken(src, node.span)];
    case "Define": {
      const toks = src.tokens(node.span);
      const value = toks.find((t) => t.tokenType === StringLiteral)?.image ?? quoteString(node.value);
      return ["DEFINE ", nameTokenText(toks[1]!), " = ", value];
    }
    case "Undefine":
      return ["UNDEFINE ", lastNameToken(src, node.span)];
    case "SetProperty": {
      const strings = src.tokens(node.span).filter((t) => t.tokenType === StringLiteral);
      return ["SET ", strings[0]?.image ?? quoteString(node.name), " = ", strings[1]?.image ?? quoteString(node.value)];
    }
    case "UnsetProperty": {
      const str = src.tokens(node.span).find((t) => t.tokenType === StringLiteral);
      return ["UNSET ", str?.image ?? quoteString(node.name)];
    }
    case "Show":
      return ["SHOW ", node.all ? "ALL " : "", node.what, node.extended ? " EXTENDED" : ""];
    case "Describe":
      switch (node.target.kind) {
        case "AllSources":
          return [
            "DESCRIBE ",
            node.target.sourceType === "STREAM" ? "STREAMS" : "TABLES",
            node.extended ? " EXTENDED" : "",
          ];
        case "Function":
          return ["DESCRIBE FUNCTION ", print(["target", "name"])];
        case "Source":
          return ["DESCRIBE ", node.extended ? "EXTENDED " : "", print(["target", "name"])];
      }
      break;
    case "Explain":
      return node.statement === undefined
        ? ["EXPLAIN ", lastNameToken(src, node.span)]
        : ["EXPLAIN ", print("statement")];
    case "Print": {
      const toks = src.tokens(node.span);
      const topic = toks[1] === undefined ? quoteString(node.topic) : toks[1].image;
      return [
        "PRINT ",
        topic,
        node.fromBeginning ? " FROM BEGINNING" : "",
        node.interval === undefined ? "" : ` INTERVAL ${node.interval}`,
        node.limit === undefined ? "" : ` LIMIT ${node.limit}`,
      ];
    }
    case "RunScript": {
      const str = src.tokens(node.span).find((t) => t.tokenType === StringLiteral);
      return ["RUN SCRIPT ", str?.image ?? quoteString(node.path)];
    }
    case "QueryStatement":
      return group(print("query"));
  }
  throw new Error(`internal: no printer for ${(node as { kind: string }).kind}`);
}

function withClause(path: Path, print: Print, count: number): Doc {
  if (count === 0) return "";
  return [" WITH ", bracketList("(", path.map(print, "properties"), ")")];
}

function printConstraint(c: Extract<FormatNode, { kind: "TableElement" }>["constraint"]): string {
  switch (c.kind) {
    case "None":
      return "";
    case "Key":
      return " KEY";
    case "PrimaryKey":
      return " PRIMARY KEY";
    case "Headers":
      return " HEADERS";
    case "Header":
      return ` HEADER(${quoteString(c.key)})`;
  }
}

function printLiteral(node: Extract<Expr, { kind: "Literal" }>, src: Source): string {
  // TRUE/FALSE/NULL as written too: the analyzer uses a literal's text (a boolean coerced to a string).
  // As written: `1.50` keeps its scale, strings keep `${var}` references and their escapes.
  const tok = src.innerTokens(node.span)[0];
  return tok !== undefined && LITERAL_TOKENS.has(tok.tokenType) ? tok.image : node.text;
}

const LITERAL_TOKENS = new Set<unknown>([
  StringLiteral,
  IntegerLiteral,
  DecimalLiteral,
  DoubleLiteral,
  K.True,
  K.False,
  K.Null,
]);

function propertyName(src: Source, span: { start: number; end: number }): string {
  const tok = src.tokens(span)[0];
  if (tok === undefined || isQuotedToken(tok)) return tok?.image ?? src.slice(span);
  return tok.image.toUpperCase();
}

function lastNameToken(src: Source, span: { start: number; end: number }): string {
  const toks = src.tokens(span);
  return nameTokenText(toks[toks.length - 1]!);
}

function nameTokenText(tok: IToken): string {
  return tok.image;
}

function quoteString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
