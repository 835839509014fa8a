/**
 * Tokens of the esql (ksqlDB) dialect.
 *
 * Keywords are not matched by the lexer: every word lexes as {@link Identifier} and {@link lexText}
 * then retypes it by a case-insensitive table lookup. That keeps the lexer small and fast and makes
 * keywords case-insensitive for free.
 *
 * Non-reserved keywords carry the {@link AnyIdent} category, so wherever the grammar expects a name
 * (`CONSUME(AnyIdent)`) they are accepted as one: `VALUE`, `KEY`, `SIZE`, `TIMESTAMP`... are valid
 * column names, as in ksqlDB. Reserved keywords (`SELECT`, `FROM`, `WHERE`, ...) are names only when
 * back-quoted.
 */
import { createToken, Lexer, type IToken, type TokenType, type ILexingError } from "chevrotain";

/** Category of everything usable as a name: identifiers, quoted identifiers, non-reserved keywords. */
export const AnyIdent = createToken({ name: "AnyIdent", pattern: Lexer.NA, label: "an identifier" });

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const LineComment = createToken({ name: "LineComment", pattern: /--[^\n\r]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
/** Lexed only so that the error can say what is wrong; reported as LEX001, never given to the parser. */
export const UnterminatedComment = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  line_breaks: true,
});

export const VariableRef = createToken({
  name: "VariableRef",
  pattern: /\$\{[A-Za-z_][A-Za-z0-9_]*\}/,
  label: "a ${variable}",
});

export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /'(?:[^']|'')*'/,
  line_breaks: true,
  label: "a string",
});
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /'(?:[^']|'')*/,
  line_breaks: true,
});

export const BackQuotedIdentifier = createToken({
  name: "BackQuotedIdentifier",
  pattern: /`(?:[^`]|``)*`/,
  line_breaks: true,
  categories: [AnyIdent],
  label: "an identifier",
});
export const UnterminatedBackQuote = createToken({
  name: "UnterminatedBackQuote",
  pattern: /`(?:[^`]|``)*/,
  line_breaks: true,
});
export const DoubleQuotedIdentifier = createToken({
  name: "DoubleQuotedIdentifier",
  pattern: /"(?:[^"]|"")*"/,
  line_breaks: true,
  categories: [AnyIdent],
  label: "an identifier",
});
export const UnterminatedDoubleQuote = createToken({
  name: "UnterminatedDoubleQuote",
  pattern: /"(?:[^"]|"")*/,
  line_breaks: true,
});

export const DoubleLiteral = createToken({
  name: "DoubleLiteral",
  // `\d+(?:\.\d*)?`, not `\d+\.?\d*`: on a long run of digits without an exponent the latter backtracks
  // quadratically (every split of the digits between `\d+` and `\d*` is tried).
  pattern: /(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+/,
  label: "a number",
});
export const DecimalLiteral = createToken({ name: "DecimalLiteral", pattern: /\d+\.\d*|\.\d+/, label: "a number" });
/** ksqlDB accepts identifiers that start with digits (`AS 1R`). */
export const DigitIdentifier = createToken({
  name: "DigitIdentifier",
  pattern: /\d+[A-Za-z_@][A-Za-z0-9_@]*/,
  categories: [AnyIdent],
  label: "an identifier",
});
export const IntegerLiteral = createToken({ name: "IntegerLiteral", pattern: /\d+/, label: "an integer" });

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_@]*/,
  categories: [AnyIdent],
  label: "an identifier",
});

const punct = (name: string, pattern: string): TokenType => createToken({ name, pattern, label: `'${pattern}'` });

export const Arrow = punct("Arrow", "=>");
export const DoubleEquals = punct("DoubleEquals", "==");
export const Deref = punct("Deref", "->");
export const ColonEquals = punct("ColonEquals", ":=");
export const NotEquals = createToken({ name: "NotEquals", pattern: /<>|!=/, label: "'<>'" });
export const LessEquals = punct("LessEquals", "<=");
export const GreaterEquals = punct("GreaterEquals", ">=");
export const Concat = punct("Concat", "||");
export const Equals = punct("Equals", "=");
export const Less = punct("Less", "<");
export const Greater = punct("Greater", ">");
export const Plus = punct("Plus", "+");
export const Minus = punct("Minus", "-");
export const Star = punct("Star", "*");
export const Slash = punct("Slash", "/");
export const Percent = punct("Percent", "%");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const Comma = punct("Comma", ",");
export const Dot = punct("Dot", ".");
export const Semicolon = punct("Semicolon", ";");
export const Colon = punct("Colon", ":");

// ---------------------------------------------------------------------------------------------
// Keywords

/**
 * Reserved: these may follow an expression or a source name, or start an expression, so
 * accepting them as names would make the grammar ambiguous (`FROM a LEFT JOIN b`, `SELECT x FROM`).
 */
const RESERVED = [
  "SELECT",
  "FROM",
  "WHERE",
  "GROUP",
  "BY",
  "HAVING",
  "WINDOW",
  "EMIT",
  "LIMIT",
  "JOIN",
  "INNER",
  "LEFT",
  "RIGHT",
  "FULL",
  "OUTER",
  "ON",
  "WITHIN",
  "AND",
  "OR",
  "NOT",
  "AS",
  "CASE",
  "WHEN",
  "THEN",
  "ELSE",
  "END",
  "IS",
  "NULL",
  "TRUE",
  "FALSE",
  "IN",
  "BETWEEN",
  "LIKE",
  "DISTINCT",
  "CAST",
  "CREATE",
  "INSERT",
  "INTO",
  "VALUES",
  "DROP",
  "WITH",
  "PARTITION",
] as const;

/** Non-reserved: keywords only where the grammar asks for them, names everywhere else. */
/** Time unit words, singular and plural (window sizes, WITHIN, and bare unit arguments of functions). */
export const TIME_UNIT_WORDS = [
  "MILLISECOND",
  "MILLISECONDS",
  "SECOND",
  "SECONDS",
  "MINUTE",
  "MINUTES",
  "HOUR",
  "HOURS",
  "DAY",
  "DAYS",
] as const;

const NON_RESERVED = [
  "REPLACE",
  "SOURCE",
  "STREAM",
  "TABLE",
  "IF",
  "EXISTS",
  "KEY",
  "PRIMARY",
  "HEADERS",
  "HEADER",
  "TYPE",
  "TYPES",
  "DELETE",
  "TOPIC",
  "TERMINATE",
  "ALL",
  "DEFINE",
  "UNDEFINE",
  "SET",
  "UNSET",
  "SHOW",
  "LIST",
  "STREAMS",
  "TABLES",
  "QUERIES",
  "TOPICS",
  "FUNCTIONS",
  "FUNCTION",
  "PROPERTIES",
  "VARIABLES",
  "EXTENDED",
  "DESCRIBE",
  "EXPLAIN",
  "PRINT",
  "BEGINNING",
  "INTERVAL",
  "RUN",
  "SCRIPT",
  "CHANGES",
  "FINAL",
  "TUMBLING",
  "HOPPING",
  "SESSION",
  "SIZE",
  "ADVANCE",
  "RETENTION",
  "GRACE",
  "PERIOD",
  "ESCAPE",
  "FOR",
  "SYSTEM_TIME",
  "OF",
  "ARRAY",
  "MAP",
  "STRUCT",
  ...TIME_UNIT_WORDS,
];

function keywordToken(word: string, reserved: boolean): TokenType {
  const name = word.charAt(0) + word.slice(1).toLowerCase();
  return createToken({
    name: reserved ? name : `${name}Kw`,
    pattern: Lexer.NA,
    label: `'${word}'`,
    categories: reserved ? [] : [AnyIdent],
  });
}

/** Keyword token types by upper-case word. */
export const KEYWORD_TOKENS: ReadonlyMap<string, TokenType> = new Map([
  ...RESERVED.map((w) => [w, keywordToken(w, true)] as const),
  ...NON_RESERVED.map((w) => [w, keywordToken(w, false)] as const),
]);

export const RESERVED_WORDS: ReadonlySet<string> = new Set(RESERVED);

/** Every keyword, upper case, sorted. */
export const ALL_KEYWORDS: readonly string[] = [...KEYWORD_TOKENS.keys()].sort();

function kw(word: string): TokenType {
  const t = KEYWORD_TOKENS.get(word);
  if (t === undefined) throw new Error(`internal: no keyword ${word}`);
  return t;
}

/** Keyword token types as named constants for the parser. */
export const K = {
  Select: kw("SELECT"),
  From: kw("FROM"),
  Where: kw("WHERE"),
  Group: kw("GROUP"),
  By: kw("BY"),
  Having: kw("HAVING"),
  Window: kw("WINDOW"),
  Emit: kw("EMIT"),
  Limit: kw("LIMIT"),
  Join: kw("JOIN"),
  Inner: kw("INNER"),
  Left: kw("LEFT"),
  Right: kw("RIGHT"),
  Full: kw("FULL"),
  Outer: kw("OUTER"),
  On: kw("ON"),
  Within: kw("WITHIN"),
  And: kw("AND"),
  Or: kw("OR"),
  Not: kw("NOT"),
  As: kw("AS"),
  For: kw("FOR"),
  SystemTime: kw("SYSTEM_TIME"),
  Of: kw("OF"),
  Case: kw("CASE"),
  When: kw("WHEN"),
  Then: kw("THEN"),
  Else: kw("ELSE"),
  End: kw("END"),
  Is: kw("IS"),
  Null: kw("NULL"),
  True: kw("TRUE"),
  False: kw("FALSE"),
  In: kw("IN"),
  Between: kw("BETWEEN"),
  Like: kw("LIKE"),
  Distinct: kw("DISTINCT"),
  Cast: kw("CAST"),
  Create: kw("CREATE"),
  Insert: kw("INSERT"),
  Into: kw("INTO"),
  Values: kw("VALUES"),
  Drop: kw("DROP"),
  With: kw("WITH"),
  Partition: kw("PARTITION"),
  Replace: kw("REPLACE"),
  Source: kw("SOURCE"),
  Stream: kw("STREAM"),
  Table: kw("TABLE"),
  If: kw("IF"),
  Exists: kw("EXISTS"),
  Key: kw("KEY"),
  Primary: kw("PRIMARY"),
  Headers: kw("HEADERS"),
  Header: kw("HEADER"),
  Type: kw("TYPE"),
  Types: kw("TYPES"),
  Delete: kw("DELETE"),
  Topic: kw("TOPIC"),
  Terminate: kw("TERMINATE"),
  All: kw("ALL"),
  Define: kw("DEFINE"),
  Undefine: kw("UNDEFINE"),
  Set: kw("SET"),
  Unset: kw("UNSET"),
  Show: kw("SHOW"),
  List: kw("LIST"),
  Streams: kw("STREAMS"),
  Tables: kw("TABLES"),
  Queries: kw("QUERIES"),
  Topics: kw("TOPICS"),
  Functions: kw("FUNCTIONS"),
  Function: kw("FUNCTION"),
  Properties: kw("PROPERTIES"),
  Variables: kw("VARIABLES"),
  Extended: kw("EXTENDED"),
  Describe: kw("DESCRIBE"),
  Explain: kw("EXPLAIN"),
  Print: kw("PRINT"),
  Beginning: kw("BEGINNING"),
  Interval: kw("INTERVAL"),
  Run: kw("RUN"),
  Script: kw("SCRIPT"),
  Changes: kw("CHANGES"),
  Final: kw("FINAL"),
  Tumbling: kw("TUMBLING"),
  Hopping: kw("HOPPING"),
  Session: kw("SESSION"),
  Size: kw("SIZE"),
  Advance: kw("ADVANCE"),
  Retention: kw("RETENTION"),
  Grace: kw("GRACE"),
  Period: kw("PERIOD"),
  Escape: kw("ESCAPE"),
  Array: kw("ARRAY"),
  Map: kw("MAP"),
  Struct: kw("STRUCT"),
  Millisecond: kw("MILLISECOND"),
  Milliseconds: kw("MILLISECONDS"),
  Second: kw("SECOND"),
  Seconds: kw("SECONDS"),
  Minute: kw("MINUTE"),
  Minutes: kw("MINUTES"),
  Hour: kw("HOUR"),
  Hours: kw("HOURS"),
  Day: kw("DAY"),
  Days: kw("DAYS"),
} as const;

/** Token types the lexer produces, in match order (longest/most specific first). */
const LEXER_TOKENS: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  VariableRef,
  StringLiteral,
  UnterminatedString,
  BackQuotedIdentifier,
  UnterminatedBackQuote,
  DoubleQuotedIdentifier,
  UnterminatedDoubleQuote,
  DoubleLiteral,
  DecimalLiteral,
  DigitIdentifier,
  IntegerLiteral,
  Identifier,
  Arrow,
  DoubleEquals,
  Deref,
  ColonEquals,
  NotEquals,
  LessEquals,
  GreaterEquals,
  Concat,
  Equals,
  Less,
  Greater,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Dot,
  Semicolon,
  Colon,
];

/** Every token type the parser knows (the lexer's plus the keyword and category types). */
export const ALL_TOKENS: TokenType[] = [AnyIdent, ...LEXER_TOKENS, ...KEYWORD_TOKENS.values()];

/** Token types that only exist to report a lexical error. */
export const ERROR_TOKENS: ReadonlySet<TokenType> = new Set([
  UnterminatedComment,
  UnterminatedString,
  UnterminatedBackQuote,
  UnterminatedDoubleQuote,
]);

const lexer = new Lexer(LEXER_TOKENS, { positionTracking: "full", ensureOptimizations: true });

export interface LexResult {
  readonly tokens: IToken[];
  readonly errors: ILexingError[];
}

/**
 * Lexes `text` and retypes keyword identifiers. Error tokens ({@link ERROR_TOKENS}) stay in
 * `tokens` so the caller can report them where they are.
 */
export function lexText(text: string): LexResult {
  const result = lexer.tokenize(text);
  for (const tok of result.tokens) {
    if (tok.tokenType === Identifier) {
      const kwType = KEYWORD_TOKENS.get(tok.image.toUpperCase());
      if (kwType !== undefined) retype(tok, kwType);
    }
  }
  return { tokens: result.tokens, errors: result.errors };
}

/** Changes a lexed token's type; chevrotain matches on `tokenTypeIdx`, so both fields must change. */
export function retype(tok: IToken, type: TokenType): void {
  tok.tokenType = type;
  tok.tokenTypeIdx = type.tokenTypeIdx!;
}
