/**
 * The compiler's limits on the size and shape of its input. Each is far beyond what people write, and each
 * keeps the compiler's time linear in its input and its recursion well inside Node's default stack, so no
 * input makes the compiler throw, run out of memory or block its caller for long. Going over a limit is a
 * diagnostic like any other (codes in `src/parse.ts`; DECIMAL's in `src/semantic/expressions.ts`).
 *
 * The nesting limits are checked on the tokens of a statement before the parser (which recurses once per
 * level) sees them: see {@link checkNesting}.
 */
import type { IToken, TokenType } from "chevrotain";
import {
  Arrow,
  ColonEquals,
  Comma,
  Concat,
  Deref,
  Dot,
  Greater,
  K,
  LBracket,
  Less,
  LParen,
  Minus,
  Percent,
  Plus,
  RBracket,
  RParen,
  Slash,
  Star,
} from "../grammar/tokens.ts";

/**
 * Characters in one statement (after the `;` split). The parser needs some microseconds per token, so this
 * bounds the time one statement can take (about a second for the densest text).
 */
export const MAX_STATEMENT_LENGTH = 100_000;
/** Characters in one identifier (quotes not counted). */
export const MAX_IDENTIFIER_LENGTH = 255;
/** Characters in one numeric literal (`123`, `1.50`, `1E10`). */
export const MAX_NUMBER_LENGTH = 1000;
/**
 * Levels of parentheses, brackets, `CASE ... END` and type parameters (`ARRAY<...>`) open at once. The parser
 * recurses through a dozen rules per parenthesis; this keeps it far from the stack's end.
 */
export const MAX_NESTING = 64;
/**
 * An upper bound of an expression tree's depth, counted on tokens: every open level plus every operator,
 * subscript and field access since the last `,` (or clause keyword) of each open level. Chains such as
 * `a + b + c ...` or `a[1][1] ...` are flat in the text but as deep as they are long in the tree, and every
 * later stage walks the tree recursively.
 */
export const MAX_EXPRESSION_DEPTH = 500;
/** DECIMAL(precision, scale): 1 ≤ precision ≤ this, 0 ≤ scale ≤ precision. ksqlDB sets no maximum. */
export const MAX_DECIMAL_PRECISION = 1000;
/** Error diagnostics of one script; the rest of the script is not checked (javac stops at 100 too). */
export const MAX_ERRORS = 100;

/** What {@link checkNesting} found over a limit: the token where it went over. */
export interface NestingProblem {
  readonly token: IToken;
  readonly kind: "nesting" | "depth";
}

/**
 * Operators that chain (`a + b + c` is as deep as it is long) or nest (`NOT NOT a`, `- - a`). Comparisons,
 * IS, BETWEEN, LIKE and IN do not chain (one per operand of AND/OR), so they are not counted: a WHERE of
 * hundreds of `x = 1 AND ...` terms is as deep as its ANDs.
 */
const OPERATORS: ReadonlySet<TokenType> = new Set([
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Concat,
  Deref,
  Dot,
  Arrow,
  ColonEquals,
  K.And,
  K.Or,
  K.Not,
]);

/** Tokens after which a level starts a new, independent expression. */
const RESETS: ReadonlySet<TokenType> = new Set([
  Comma,
  K.Select,
  K.From,
  K.Where,
  K.Group,
  K.Having,
  K.Partition,
  K.Window,
  K.Emit,
  K.When,
  K.Then,
  K.Else,
  K.As,
  K.On,
  K.With,
  K.Values,
]);

const TYPE_OPENERS: ReadonlySet<TokenType> = new Set([K.Array, K.Map, K.Struct]);

/**
 * Checks a statement's tokens against {@link MAX_NESTING} and {@link MAX_EXPRESSION_DEPTH} in one pass,
 * without recursion. Unbalanced closers are ignored (the parser reports them); levels left open count.
 */
export function checkNesting(tokens: readonly IToken[]): NestingProblem | undefined {
  // Per open level: its opener and the operators seen since its last reset. Level 0 is the statement.
  const kinds: ("top" | "(" | "[" | "CASE" | "<")[] = ["top"];
  const ops: number[] = [0];
  let totalOps = 0;
  // Joins nest the relation (a left-deep tree) and no `,` or keyword starts a new one.
  let joins = 0;
  const open = (kind: "(" | "[" | "CASE" | "<", tok: IToken): NestingProblem | undefined => {
    kinds.push(kind);
    ops.push(0);
    return kinds.length - 1 > MAX_NESTING ? { token: tok, kind: "nesting" } : undefined;
  };
  // Closes the innermost level of `kind` and any left open inside it (`f(CASE WHEN a THEN b)`): an error the
  // parser reports, but it must not leave levels behind. A `>` only closes a type's `<` on top: elsewhere it
  // is a comparison.
  const close = (kind: "(" | "[" | "CASE" | "<"): boolean => {
    const at = kind === "<" ? (kinds[kinds.length - 1] === "<" ? kinds.length - 1 : -1) : kinds.lastIndexOf(kind);
    if (at <= 0) return false;
    while (kinds.length > at) {
      kinds.pop();
      totalOps -= ops.pop()!;
    }
    return true;
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const t = tok.tokenType;
    let problem: NestingProblem | undefined;
    if (t === LParen) problem = open("(", tok);
    else if (t === LBracket) {
      // A subscript (or ARRAY[...]) is a node around what comes before it.
      ops[ops.length - 1]!++;
      totalOps++;
      problem = open("[", tok);
    } else if (t === K.Case) problem = open("CASE", tok);
    else if (t === Less && i > 0 && TYPE_OPENERS.has(tokens[i - 1]!.tokenType)) problem = open("<", tok);
    else if (t === RParen) close("(");
    else if (t === RBracket) close("[");
    else if (t === K.End) close("CASE");
    else if (t === Greater && close("<")) {
      // the end of a type's parameters
    } else if (t === K.Join) {
      joins++;
    } else if (RESETS.has(t)) {
      totalOps -= ops[ops.length - 1]!;
      ops[ops.length - 1] = 0;
    } else if (OPERATORS.has(t)) {
      ops[ops.length - 1]!++;
      totalOps++;
    }
    if (problem !== undefined) return problem;
    if (kinds.length + totalOps + joins > MAX_EXPRESSION_DEPTH) return { token: tok, kind: "depth" };
  }
  return undefined;
}
