/**
 * The tree the Prettier plugin works on: the esql AST of every statement under a `Script` root,
 * plus the comments (which the parser skips) for Prettier to attach to the nearest nodes.
 */
import type {
  AliasedSource,
  Duration,
  Expr,
  Join,
  Name,
  Property,
  Query,
  SelectItem,
  Statement,
  StructFieldNode,
  TableElement,
  TypeNode,
  WindowExpr,
  Within,
} from "../ast/nodes.ts";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { parseScript } from "../parse.ts";
import { lexComments } from "../../grammar/comments.ts";
import { lexText, VariableRef } from "../../grammar/tokens.ts";
import { Source, type Range } from "./source.ts";

export interface CommentNode {
  readonly kind: "Comment";
  /** The comment as written (a line comment without trailing blanks). */
  readonly value: string;
  readonly block: boolean;
  readonly span: Range;
  // Set by Prettier while attaching and printing.
  leading?: boolean;
  trailing?: boolean;
  printed?: boolean;
}

/**
 * A statement printed exactly as written: one that uses `${variable}` references. After
 * substitution its AST describes the value, not the text, so printing the AST would inline the value.
 */
export interface VerbatimNode {
  readonly kind: "Verbatim";
  readonly text: string;
  readonly span: Range;
}

export interface ScriptNode {
  readonly kind: "Script";
  readonly statements: readonly (Statement | VerbatimNode)[];
  comments: CommentNode[];
  readonly span: Range;
  /** Not a child: the text the printer slices names and literals from. */
  readonly source: Source;
}

export type AstNode =
  | Statement
  | Expr
  | TypeNode
  | StructFieldNode
  | SelectItem
  | AliasedSource
  | Join
  | Within
  | Duration
  | WindowExpr
  | Query
  | Property
  | TableElement
  | Name;

export type FormatNode = AstNode | ScriptNode | VerbatimNode | CommentNode;

/** A script that cannot be formatted: the parser's diagnostics (Prettier shows `message` and `loc`). */
export class EsqlSyntaxError extends Error {
  readonly loc: { start: { line: number; column: number } };
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    const first = diagnostics[0]!;
    super(`${first.code}: ${first.message} (${first.span.line}:${first.span.col})`);
    this.name = "EsqlSyntaxError";
    this.loc = { start: { line: first.span.line, column: first.span.col } };
  }
}

/**
 * Parses `text` for formatting. Throws {@link EsqlSyntaxError} when the script has a syntax error
 * (a statement with an error is dropped by the parser, so formatting would lose it).
 * `${name}` references to variables the script does not define are allowed: such statements print verbatim.
 */
export function parseForFormat(text: string): ScriptNode {
  const tokens = lexText(text).tokens;
  const varRefs = tokens.filter((t) => t.tokenType === VariableRef);
  let result = parseScript(text);
  if (result.diagnostics.some((d) => d.code === "SYN002")) {
    // Variables defined outside the file (`--define`): any value will do, those statements print verbatim.
    const variables = new Map(varRefs.map((t) => [t.image.slice(2, -1), "x"] as const));
    result = parseScript(text, { variables });
  }
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new EsqlSyntaxError(errors);

  const verbatim: Range[] = [];
  const statements = result.statements.map(({ statement }): Statement | VerbatimNode => {
    const { start, end } = statement.span;
    if (!varRefs.some((t) => t.startOffset >= start && t.startOffset < end)) return statement;
    verbatim.push({ start, end });
    return {
      kind: "Verbatim",
      text: text.slice(start, end),
      span: { start, end },
    };
  });
  const comments: CommentNode[] = lexComments(text)
    .filter((c) => !verbatim.some((v) => c.start >= v.start && c.end <= v.end))
    .map((c) => ({
      kind: "Comment",
      value: c.block ? c.text : c.text.trimEnd(),
      block: c.block,
      span: { start: c.start, end: c.end },
    }));
  return {
    kind: "Script",
    statements,
    comments,
    span: { start: 0, end: text.length },
    source: new Source(text),
  };
}
