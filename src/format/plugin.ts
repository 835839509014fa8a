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

const NOT_CHILDREN = new Set([
  "span",
  "nameSpan",
  "kind",
  "source",
  "comments",
]);

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
      (k) =>
        !NOT_CHILDREN.has(k) &&
        !nonTraversable.has(k) &&
        typeof record[k] === "object" &&
        record[k] !== null,
    );
  },
  canAttachComment(node) {
    const n = node as Partial<FormatNode>;
    return (
      typeof n.kind === "string" && n.span !== undefined && n.kind !== "Comment"
    );
  },
  isBlockComment: (node) => node.kind === "Comment" && node.block,
  printComment(path) {
    const node = path.node;
    return node.kind === "Comment" ? node.value : "";
  },
  handleComments: {
    // Inside a statement, a comment on its own line stays after the line above it (rather than moving
    // to the start of the next node, which may sit after a keyword: `FROM -- c`).
    ownLine(comment: AttachedComment) {
      const { enclosingNode, precedingNode } = comment;
      if (
        enclosingNode === undefined ||
        enclosingNode.kind === "Script" ||
        precedingNode === undefined
      )
        return false;
      prettier.util.addTrailingComment(precedingNode, comment);
      return true;
    },
  },
};

/** The plugin (also the default export). */
export const esqlPlugin: Plugin<FormatNode> = {
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
export function format(
  text: string,
  options: FormatOptions = {},
): Promise<string> {
  return prettier.format(text, {
    parser: "esql",
    plugins: [esqlPlugin],
    ...(options.printWidth === undefined
      ? {}
      : { printWidth: options.printWidth }),
  });
}
