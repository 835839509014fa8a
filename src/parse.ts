/**
 * The public entry to the front end: text -> statements (AST) + diagnostics.
 *
 * Diagnostic codes produced here:
 *
 * | code     | meaning                                                                                   |
 * |----------|-------------------------------------------------------------------------------------------|
 * | `LEX001` | unexpected character, or unterminated string / quoted identifier / block comment          |
 * | `SYN001` | syntax error: what was expected and what was found (with a hint where one helps)          |
 * | `SYN002` | reference to an undefined `${variable}`                                                   |
 * | `SYN003` | invalid literal: an integer out of the BIGINT range, a number that overflows DOUBLE or is too long |
 * | `SYN004` | KEY on a table column or PRIMARY KEY on a stream column                                   |
 * | `SYN005` | nested too deeply: parentheses/brackets/CASE/types, or an expression tree (src/limits.ts)  |
 * | `SYN006` | too long: a statement or an identifier (src/limits.ts)                                    |
 * | `SYN007` | too many errors: the rest of the script is not checked                                    |
 * | `ESQL-INTERNAL` | an exception inside the compiler (a bug), reported at the statement               |
 *
 * At most one syntax diagnostic is reported per statement (the first problem); the statement is
 * then skipped and parsing resumes after the next top-level `;`.
 *
 * Variables: `DEFINE name = 'value'` (and `options.variables`) define variables in script order,
 * `UNDEFINE name` removes one. Names are case-insensitive. In later statements a `${name}` token is
 * replaced by the tokens of its value, which carry the span of the `${name}` text; inside a string
 * literal a defined `${name}` is replaced by the value's text (an undefined one is left as written).
 */
import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import { error, joinSpans, type Diagnostic, type Span } from "./diagnostics/diagnostic.ts";
import {
  checkNesting,
  MAX_ERRORS,
  MAX_EXPRESSION_DEPTH,
  MAX_IDENTIFIER_LENGTH,
  MAX_NESTING,
  MAX_NUMBER_LENGTH,
  MAX_STATEMENT_LENGTH,
} from "./limits.ts";
import type { Expr, ParsedStatement, Statement } from "./ast/nodes.ts";
import { AstBuilder, tokenSpan } from "./ast/build.ts";
import { parser, type SyntaxErrorInfo } from "../grammar/parser.ts";
import {
  ALL_KEYWORDS,
  AnyIdent,
  BackQuotedIdentifier,
  DecimalLiteral,
  DigitIdentifier,
  DoubleQuotedIdentifier,
  DoubleEquals,
  DoubleLiteral,
  ERROR_TOKENS,
  Identifier,
  IntegerLiteral,
  KEYWORD_TOKENS,
  lexText,
  RESERVED_WORDS,
  Semicolon,
  StringLiteral,
  UnterminatedBackQuote,
  UnterminatedComment,
  UnterminatedDoubleQuote,
  UnterminatedString,
  VariableRef,
  RParen,
  RBracket,
  Greater,
  Comma,
} from "../grammar/tokens.ts";

export interface ParseResult {
  readonly statements: readonly ParsedStatement[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Every reserved/non-reserved keyword of the dialect, upper case (for editor grammar, completion). */
export const KEYWORDS: readonly string[] = ALL_KEYWORDS;

/**
 * Parses a whole script. Statements end with `;` (the last one may omit it). A statement with a syntax
 * error yields diagnostics and is skipped; parsing resumes after the next top-level `;`.
 */
export function parseScript(text: string, options?: { variables?: ReadonlyMap<string, string> }): ParseResult {
  const lines = new LineIndex(text);
  const diagnostics: Diagnostic[] = [];
  const statements: ParsedStatement[] = [];
  const variables = new Map<string, string>();
  for (const [k, v] of options?.variables ?? []) variables.set(k.toUpperCase(), v);

  const lexed = lexText(text);
  // Lexical errors come in offset order; each is reported with the statement it falls in.
  let nextLexError = 0;
  let stopped = false;

  // Split at `;`. A lexical error (bad character or an error token) poisons only its statement.
  let current: IToken[] = [];
  const flush = (semi: IToken | undefined): void => {
    const to = semi === undefined ? text.length : semi.startOffset;
    const first = current[0];
    const lexError = nextLexError < lexed.errors.length ? lexed.errors[nextLexError]! : undefined;
    if (diagnostics.length >= MAX_ERRORS && (first !== undefined || (lexError !== undefined && lexError.offset < to))) {
      stopped = true;
      diagnostics.push(
        tooManyErrors(first !== undefined ? tokenSpan(first) : lines.span(lexError!.offset, lexError!.offset)),
      );
      return;
    }
    let poisoned = current.some((t) => ERROR_TOKENS.has(t.tokenType));
    for (; nextLexError < lexed.errors.length && lexed.errors[nextLexError]!.offset < to; nextLexError++) {
      const e = lexed.errors[nextLexError]!;
      const bad = text.slice(e.offset, e.offset + Math.min(e.length, 40));
      diagnostics.push(
        error(
          "LEX001",
          `unexpected character '${bad}${e.length > 40 ? "..." : ""}'`,
          lines.span(e.offset, e.offset + e.length),
        ),
      );
      poisoned = true;
    }
    if (first !== undefined && !poisoned) {
      const length = current[current.length - 1]!.endOffset! + 1 - first.startOffset;
      if (length > MAX_STATEMENT_LENGTH) {
        diagnostics.push(
          error(
            "SYN006",
            `statement too long: ${length.toLocaleString("en")} characters, more than the limit of ${MAX_STATEMENT_LENGTH.toLocaleString("en")}`,
            tokenSpan(first),
            "split it into several statements",
          ),
        );
      } else {
        const parsed = parseStatement(text, current, semi, variables, lines, diagnostics);
        if (parsed !== undefined) statements.push(parsed);
      }
    }
    current = [];
  };
  for (const tok of lexed.tokens) {
    if (stopped) break;
    if (tok.tokenType === Semicolon) {
      flush(tok);
    } else if (ERROR_TOKENS.has(tok.tokenType)) {
      diagnostics.push(error("LEX001", describeErrorToken(tok), tokenSpan(tok), hintForErrorToken(tok)));
      current.push(tok);
    } else {
      current.push(tok);
    }
  }
  if (!stopped) flush(undefined);
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return { statements, diagnostics };
}

/** A literal of a statement's text: where its token is (`start` inclusive, `end` exclusive offsets). */
export interface LiteralToken {
  readonly kind: "string" | "integer";
  readonly start: number;
  readonly end: number;
  /** The integer literal follows `LIMIT`. */
  readonly afterLimit: boolean;
}

/**
 * The string and integer literals of `sql`, in order, by lexing it (no parsing); undefined when it does not
 * lex. For the engine's cache of statements that differ only in their literals (`runtime/engine/prepared.ts`).
 */
export function literalTokens(sql: string): LiteralToken[] | undefined {
  const { tokens, errors } = lexText(sql);
  if (errors.length > 0) return undefined;
  const out: LiteralToken[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const kind = t.tokenType === StringLiteral ? "string" : t.tokenType === IntegerLiteral ? "integer" : undefined;
    if (!kind) continue;
    const afterLimit = tokens[i - 1]?.image.toUpperCase() === "LIMIT";
    out.push({ kind, start: t.startOffset, end: t.endOffset! + 1, afterLimit });
  }
  return out;
}

/** Parses one expression (the whole text). */
export function parseExpression(text: string): { readonly expr?: Expr; readonly diagnostics: readonly Diagnostic[] } {
  const lines = new LineIndex(text);
  const lexed = lexText(text);
  const diagnostics: Diagnostic[] = lexed.errors.map((e) =>
    error(
      "LEX001",
      `unexpected character '${text.slice(e.offset, e.offset + e.length)}'`,
      lines.span(e.offset, e.offset + e.length),
    ),
  );
  for (const tok of lexed.tokens) {
    if (ERROR_TOKENS.has(tok.tokenType))
      diagnostics.push(error("LEX001", describeErrorToken(tok), tokenSpan(tok), hintForErrorToken(tok)));
  }
  if (diagnostics.length > 0) return { diagnostics };
  const limit = checkLimits(lexed.tokens);
  if (limit !== undefined) return { diagnostics: [limit] };
  try {
    parser.input = lexed.tokens;
    const cst = parser.expression();
    if (parser.errors.length > 0) {
      return {
        diagnostics: [syntaxDiagnostic(parser.errors[0]!, lexed.tokens, undefined, text, lines, "end of input", true)],
      };
    }
    const builder = new AstBuilder();
    const expr = builder.topExpr(cst);
    return builder.diagnostics.length > 0 ? { diagnostics: builder.diagnostics } : { expr, diagnostics: [] };
  } catch (e) {
    return { diagnostics: [internalError(e, lines.span(0, text.length))] };
  }
}

// ---------------------------------------------------------------------------------------------

function parseStatement(
  text: string,
  raw: IToken[],
  semi: IToken | undefined,
  variables: Map<string, string>,
  lines: LineIndex,
  diagnostics: Diagnostic[],
): ParsedStatement | undefined {
  const first = raw[0]!;
  const last = raw[raw.length - 1]!;
  const replacements: { start: number; end: number; text: string }[] = [];
  const tokens: IToken[] = [];
  let ok = true;
  // Variables can make a short statement long (`${v}` a hundred times): the limit is on the expanded text,
  // checked before each expansion is made.
  let length = last.endOffset! + 1 - first.startOffset;

  for (const tok of raw) {
    if (length > MAX_STATEMENT_LENGTH) break;
    if (tok.tokenType === VariableRef) {
      const name = tok.image.slice(2, -1);
      const value = variables.get(name.toUpperCase());
      if (value === undefined) {
        diagnostics.push(
          error("SYN002", `undefined variable '${name}'`, tokenSpan(tok), `define it first: DEFINE ${name} = '...';`),
        );
        ok = false;
        continue;
      }
      length += value.length - tok.image.length;
      if (length > MAX_STATEMENT_LENGTH) break;
      const sub = lexText(value);
      if (sub.errors.length > 0 || sub.tokens.some((t) => ERROR_TOKENS.has(t.tokenType) || t.tokenType === Semicolon)) {
        diagnostics.push(
          error("LEX001", `the value of variable '${name}' is not valid here: '${value}'`, tokenSpan(tok)),
        );
        ok = false;
        continue;
      }
      for (const t of sub.tokens) tokens.push(relocate(t, tok));
      replacements.push({ start: tok.startOffset, end: tok.endOffset! + 1, text: value });
    } else if (tok.tokenType === StringLiteral && tok.image.includes("${")) {
      for (const m of tok.image.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
        length += (variables.get(m[1]!.toUpperCase())?.length ?? m[0].length) - m[0].length;
      if (length > MAX_STATEMENT_LENGTH) break;
      const image = tok.image.replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
        (whole, name: string) => variables.get(name.toUpperCase()) ?? whole,
      );
      if (image !== tok.image) {
        replacements.push({ start: tok.startOffset, end: tok.endOffset! + 1, text: image });
        tokens.push({ ...tok, image });
      } else {
        tokens.push(tok);
      }
    } else {
      tokens.push(tok);
    }
  }
  if (length > MAX_STATEMENT_LENGTH) {
    diagnostics.push(
      error(
        "SYN006",
        `statement too long once its variables are substituted: more than the limit of ${count(MAX_STATEMENT_LENGTH)} characters`,
        tokenSpan(first),
      ),
    );
    return undefined;
  }
  if (!ok) return undefined;
  if (tokens.length === 0) return undefined;

  const limit = checkLimits(tokens);
  if (limit !== undefined) {
    diagnostics.push(limit);
    return undefined;
  }
  let statement: Statement;
  try {
    parser.input = tokens;
    const cst = parser.statement();
    if (parser.errors.length > 0) {
      diagnostics.push(
        syntaxDiagnostic(parser.errors[0]!, tokens, semi, text, lines, semi === undefined ? "end of input" : "';'"),
      );
      return undefined;
    }
    const builder = new AstBuilder();
    statement = builder.statement(cst);
    if (builder.diagnostics.length > 0) {
      for (const d of builder.diagnostics) diagnostics.push(d);
      return undefined;
    }
  } catch (e) {
    // A bug (the limits above keep the parser's recursion bounded): report it at the statement, go on.
    diagnostics.push(internalError(e, joinSpans(tokenSpan(first), tokenSpan(last))));
    return undefined;
  }
  if (statement.kind === "Define") variables.set(statement.name.toUpperCase(), statement.value);
  if (statement.kind === "Undefine") variables.delete(statement.name.toUpperCase());

  const start = first.startOffset;
  const end = last.endOffset! + 1;
  let stmtText = "";
  let pos = start;
  for (const r of replacements) {
    stmtText += text.slice(pos, r.start) + r.text;
    pos = r.end;
  }
  stmtText += text.slice(pos, end);
  return { statement, text: stmtText };
}

/** A copy of `tok` (lexed from a variable's value) placed at the `${name}` reference `at`. */
function relocate(tok: IToken, at: IToken): IToken {
  return {
    ...tok,
    startOffset: at.startOffset,
    endOffset: at.endOffset!,
    startLine: at.startLine!,
    startColumn: at.startColumn!,
    endLine: at.endLine!,
    endColumn: at.endColumn!,
  };
}

// ---------------------------------------------------------------------------------------------
// Limits (src/limits.ts), checked on tokens before the parser recurses over them

const IDENTIFIER_TOKENS: ReadonlySet<TokenType> = new Set([
  Identifier,
  DigitIdentifier,
  BackQuotedIdentifier,
  DoubleQuotedIdentifier,
]);
const NUMBER_TOKENS: ReadonlySet<TokenType> = new Set([IntegerLiteral, DecimalLiteral, DoubleLiteral]);

const count = (n: number): string => n.toLocaleString("en");

/** The first limit a statement's (or an expression's) tokens go over, as a diagnostic. */
function checkLimits(tokens: readonly IToken[]): Diagnostic | undefined {
  for (const tok of tokens) {
    const t = tok.tokenType;
    if (IDENTIFIER_TOKENS.has(t)) {
      const length = t === Identifier || t === DigitIdentifier ? tok.image.length : tok.image.length - 2;
      if (length > MAX_IDENTIFIER_LENGTH) {
        return error(
          "SYN006",
          `identifier too long: ${count(length)} characters, more than the limit of ${MAX_IDENTIFIER_LENGTH}`,
          tokenSpan(tok),
        );
      }
    } else if (NUMBER_TOKENS.has(t) && tok.image.length > MAX_NUMBER_LENGTH) {
      return error(
        "SYN003",
        `invalid numeric literal: ${count(tok.image.length)} characters, more than the limit of ${count(MAX_NUMBER_LENGTH)}`,
        tokenSpan(tok),
      );
    }
  }
  const nesting = checkNesting(tokens);
  if (nesting === undefined) return undefined;
  return nesting.kind === "nesting"
    ? error(
        "SYN005",
        `nested too deeply: more than ${MAX_NESTING} levels of parentheses, brackets, CASE or type parameters`,
        tokenSpan(nesting.token),
        "compute the inner part in a separate expression or statement",
      )
    : error(
        "SYN005",
        `expression too deep: more than ${MAX_EXPRESSION_DEPTH} nested operations`,
        tokenSpan(nesting.token),
        "split the expression, e.g. into several columns or statements",
      );
}

/** The diagnostic after which a script is not checked further ({@link MAX_ERRORS}). */
export function tooManyErrors(span: Span): Diagnostic {
  return error("SYN007", `too many errors (${MAX_ERRORS}): the rest of the script is not checked`, span);
}

/** An exception thrown by a stage: a bug in esql, reported against the statement instead of thrown. */
export function internalError(e: unknown, span: Span): Diagnostic {
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return error("ESQL-INTERNAL", `internal compiler error: ${what.slice(0, 200)}`, span, "please report this as a bug");
}

// ---------------------------------------------------------------------------------------------
// Syntax error messages

function describeErrorToken(tok: IToken): string {
  switch (tok.tokenType) {
    case UnterminatedString:
      return "unterminated string literal: expected a closing ' but found end of input";
    case UnterminatedComment:
      return "unterminated comment: expected */ but found end of input";
    case UnterminatedBackQuote:
      return "unterminated quoted identifier: expected a closing ` but found end of input";
    case UnterminatedDoubleQuote:
      return 'unterminated quoted identifier: expected a closing " but found end of input';
    default:
      return `unexpected '${tok.image}'`;
  }
}

function hintForErrorToken(tok: IToken): string | undefined {
  return tok.tokenType === UnterminatedString ? "a quote inside a string is written twice: 'it''s'" : undefined;
}

const STATEMENT_STARTS = [
  "CREATE",
  "INSERT",
  "SELECT",
  "DROP",
  "TERMINATE",
  "DEFINE",
  "UNDEFINE",
  "SET",
  "UNSET",
  "SHOW",
  "LIST",
  "DESCRIBE",
  "EXPLAIN",
  "PRINT",
  "RUN",
];

function quoteFound(tok: IToken): string {
  const image = tok.image.length > 30 ? `${tok.image.slice(0, 27)}...` : tok.image;
  return `'${image}'`;
}

function describeExpected(info: SyntaxErrorInfo): string {
  if (info.description !== undefined) return info.description;
  const labels = info.expected;
  if (labels.length === 0) return "something else";
  if (labels.length <= 4) {
    return labels.length === 1 ? labels[0]! : `${labels.slice(0, -1).join(", ")} or ${labels[labels.length - 1]}`;
  }
  return `${labels.slice(0, 4).join(", ")} or ...`;
}

function isEof(tok: IToken | undefined): boolean {
  return tok === undefined || tok.tokenType.name === "EOF" || Number.isNaN(tok.startOffset);
}

function syntaxDiagnostic(
  err: IRecognitionException,
  tokens: readonly IToken[],
  semi: IToken | undefined,
  text: string,
  lines: LineIndex,
  endName: string,
  /** Parsing a lone expression: trailing input means "expected end of expression", not "';'". */
  expressionOnly = false,
): Diagnostic {
  let info: SyntaxErrorInfo;
  try {
    info = JSON.parse(err.message) as SyntaxErrorInfo;
  } catch {
    info = { expected: [], rule: err.context?.ruleStack?.at(-1) ?? "", description: err.message };
  }
  const tok = err.token;
  const eof = isEof(tok);
  const found = eof ? endName : quoteFound(tok);
  let span: Span;
  if (!eof) span = tokenSpan(tok);
  else if (semi !== undefined) span = tokenSpan(semi);
  else {
    const last = tokens[tokens.length - 1];
    const at = last === undefined ? text.length : last.endOffset! + 1;
    span = lines.span(at, at);
  }
  // Trailing input after a complete expression (parseExpression) is not about a missing ';'.
  const expected =
    expressionOnly && info.expected.length === 1 && info.expected[0] === "';'"
      ? "end of expression"
      : describeExpected(info);
  const message = `expected ${expected} but found ${found}`;
  const hint = eof ? undefined : hintFor(info, tok, tokens);
  return error("SYN001", message, span, hint);
}

const LITERAL_WORDS = new Set(["NULL", "TRUE", "FALSE"]);

const VALUE_END = new Set<unknown>([
  Identifier,
  IntegerLiteral,
  DecimalLiteral,
  DoubleLiteral,
  StringLiteral,
  RParen,
  RBracket,
  Greater,
]);

function hintFor(info: SyntaxErrorInfo, tok: IToken, tokens: readonly IToken[]): string | undefined {
  const upper = tok.image.toUpperCase();
  if (tok.tokenType === DoubleEquals) return "use '=' to compare values";
  const wantsName = info.expected.includes(AnyIdent.LABEL!) || info.expected.includes("an identifier");
  if (wantsName && RESERVED_WORDS.has(upper) && !LITERAL_WORDS.has(upper)) {
    return `${upper} is a reserved word; to use it as a name, back-quote it: \`${upper}\``;
  }
  const idx = tokens.indexOf(tok);
  const prev = idx > 0 ? tokens[idx - 1] : undefined;
  const expectedWords = info.expected.filter((e) => /^'[A-Z]+'$/.test(e)).map((e) => e.slice(1, -1));
  if (prev !== undefined && prev.tokenType === Identifier) {
    // `SELECT a FORM s`: the misspelt keyword was taken as an alias; the error comes one token later.
    const close = expectedWords.find((w) => isMisspelling(prev.image.toUpperCase(), w));
    if (close !== undefined) return `did you mean ${close} instead of '${prev.image}'?`;
  }
  if (tok.tokenType === RParen && prev?.tokenType === Comma) return "remove the trailing ','";
  if ((upper === "AND" || upper === "OR") && tokens.slice(0, idx).some((t) => t.image.toUpperCase() === "BY")) {
    return `a GROUP BY / PARTITION BY item is a value; wrap a condition in parentheses: (a ${upper} b)`;
  }
  const startsValue =
    tok.tokenType === Identifier ||
    tok.tokenType === StringLiteral ||
    tok.tokenType === IntegerLiteral ||
    tok.tokenType === DecimalLiteral ||
    tok.tokenType === DoubleLiteral ||
    (tok.tokenType.CATEGORIES?.includes(AnyIdent) ?? false);
  const closers = ["')'", "']'", "'FROM'", "'>'", "';'", "','"];
  if (
    startsValue &&
    prev !== undefined &&
    (VALUE_END.has(prev.tokenType) || (prev.tokenType.CATEGORIES?.includes(AnyIdent) ?? false)) &&
    info.expected.some((e) => closers.includes(e))
  ) {
    return `is a ',' missing before ${quoteFound(tok)}?`;
  }
  if (tok.tokenType === Identifier || KEYWORD_TOKENS.has(upper)) {
    const candidates = info.rule === "statement" ? STATEMENT_STARTS : expectedWords;
    const close = candidates.find((c) => isMisspelling(upper, c));
    if (close !== undefined) return `did you mean ${close}?`;
    if (info.rule === "statement") return `a statement starts with ${STATEMENT_STARTS.slice(0, 4).join(", ")}, ...`;
  }
  return undefined;
}

/** `word` is not `keyword` but within a small edit distance of it. */
function isMisspelling(word: string, keyword: string): boolean {
  const max = keyword.length >= 4 ? 2 : 1;
  return (
    word !== keyword &&
    keyword.length >= 3 &&
    Math.abs(word.length - keyword.length) <= max &&
    editDistance(keyword, word) <= max
  );
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** Offsets -> line/column, for spans not taken from a token. */
class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13 && text.charCodeAt(i + 1) !== 10) this.starts.push(i + 1);
    }
  }
  private pos(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
  /** `[start, end)`; for an empty span the end position equals the start. */
  span(start: number, end: number): Span {
    const s = this.pos(start);
    const e = end > start ? this.pos(end - 1) : s;
    return { start, end, line: s.line, col: s.col, endLine: e.line, endCol: e.col };
  }
}
