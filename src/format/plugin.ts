/**
 * The Prettier plugin for `.esql` files: language `esql`, parser `esql` (our parser plus the comments),
 * printer `esql-ast` (see `printer.ts`). Default print width 100.
 *
 * Use it from Prettier's CLI with `prettier --plugin ./src/format/plugin.ts file.esql` (under tsx), or
 * in code through {@link format}.
 */
import * as prettier from "prettier";
import type { Plugin, Printer, SupportLanguage, Parser } from "prettier";
import { parseForFormat, type CommentNode, type FormatNode } from "./ast.ts";
import { printEsql } from "./printer.ts";

const NOT_CHILDREN = new Set(["span", "nameSpan", "kind", "source", "comments"]);

function locStart(node: FormatNode): number {
  return node.span.start;
}

function locEnd(node: FormatNode): number {
  return node.span.end;
}

export const languages: SupportLanguage[] = [
  {
    name: "esql",
    parsers: ["esql"],
    extensions: [".esql"],
    vscodeLanguageIds: ["esql"],
  },
];

const parser: Parser<FormatNode> = {
  parse: (text) => parseForFormat(text),
  astFormat: "esql-ast",
  locStart,
  locEnd,
};

interface AttachedComment extends CommentNode {
  enclosingNode?: FormatNode;
  precedingNode?: FormatNode;
  followingNode?: FormatNode;
}

const printer: Printer<FormatNode> = {
  print: printEsql,
  getVisitorKeys(node, nonTraversable) {
    if (node.kind === "Verbatim" || node.kind === "Comment") return [];
    const record = node as unknown as Record<string, unknown>;
    return Object.keys(node).filter(
      (k) => !NOT_CHILDREN.has(k) && !nonTraversable.has(k) && typeof record[k] === "object" && record[k] !== null,
    );
  },
  canAttachComment(node) {
    const n = node as Partial<FormatNode>;
    return typeof n.kind === "string" && n.span !== undefined && n.kind !== "Comment";
  },
  isBlockComment: (node) => node.kind === "Comment" && node.block,
  willPrintOwnComments: () => true,
  printComment(path) {
    const node = path.node;
    return node.kind === "Comment" ? node.value : "";
  },
  handleComments: {
    ownLine: (comment: AttachedComment, text: string) => attachInStatement(comment, text, true),
    endOfLine: (comment: AttachedComment, text: string) => attachInStatement(comment, text, false),
    remaining: (comment: AttachedComment, text: string) => attachInStatement(comment, text, false),
  },
};

/**
 * Where a comment inside a statement goes, decided from the source so that the output attaches the
 * same way again (idempotence):
 * - after a keyword or bracket (`WITH ( -- c`, `WHERE -- c`): leading comment of the next node;
 * - otherwise after the node before it (`a, -- c`, and a comment on its own line below `a`), except
 *   a block comment on its own line with code after it, which leads that code.
 * Comments between statements keep Prettier's attachment (leading the next statement).
 */
function attachInStatement(comment: AttachedComment, text: string, ownLine: boolean): boolean {
  const { enclosingNode, precedingNode, followingNode } = comment;
  if (enclosingNode === undefined || enclosingNode.kind === "Script") return false;
  const gap = text.slice(precedingNode?.span.end ?? enclosingNode.span.start, comment.span.start);
  const afterKeyword = precedingNode === undefined || !/^[\s,]*$/.test(stripComments(gap));
  const codeAfter = !/^[ \t]*(\r?\n|$)/.test(text.slice(comment.span.end));
  if (followingNode !== undefined && (afterKeyword || (ownLine && comment.block && codeAfter))) {
    prettier.util.addLeadingComment(followingNode, comment);
    return true;
  }
  if (precedingNode !== undefined) {
    prettier.util.addTrailingComment(precedingNode, comment);
    return true;
  }
  return false;
}

function stripComments(s: string): string {
  return s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, "");
}

/** The plugin (the default export: Prettier loads the module by path). */
const esqlPlugin: Plugin<FormatNode> = {
  languages,
  parsers: { esql: parser },
  printers: { "esql-ast": printer },
  defaultOptions: { printWidth: 100 },
};

export default esqlPlugin;

export interface FormatOptions {
  /** Default 100. */
  readonly printWidth?: number;
}

/**
 * Formats an esql script. Rejects with `EsqlSyntaxError` (its `diagnostics` say where) when the
 * script does not parse.
 */
export function format(text: string, options: FormatOptions = {}): Promise<string> {
  return prettier.format(text, {
    parser: "esql",
    plugins: [esqlPlugin],
    ...(options.printWidth === undefined ? {} : { printWidth: options.printWidth }),
  });
}
