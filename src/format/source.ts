/**
 * The formatter's view of the source text: the AST keeps normalised names (upper-cased unless
 * quoted), so identifiers, literals and units are printed from the tokens the user wrote.
 */
import type { IToken } from "chevrotain";
import {
  AnyIdent,
  BackQuotedIdentifier,
  DoubleQuotedIdentifier,
  LParen,
  lexText,
  RParen,
} from "../../grammar/tokens.ts";

/** Offsets only: the formatter never needs lines and columns. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

export class Source {
  private readonly cache = new Map<string, IToken[]>();
  constructor(readonly text: string) {}

  slice(span: Range): string {
    return this.text.slice(span.start, span.end);
  }

  /** The tokens inside `span` (comments and whitespace skipped), offsets relative to the whole text. */
  tokens(span: Range): IToken[] {
    const key = `${span.start}:${span.end}`;
    let toks = this.cache.get(key);
    if (toks === undefined) {
      toks = lexText(this.text.slice(span.start, span.end)).tokens.map((t) => ({
        ...t,
        startOffset: t.startOffset + span.start,
        endOffset: t.endOffset! + span.start,
      }));
      this.cache.set(key, toks);
    }
    return toks;
  }

  /** The tokens inside `span` without the parentheses that wrap the whole of it. */
  innerTokens(span: Range): IToken[] {
    let toks = this.tokens(span);
    while (toks.length >= 2 && toks[0]!.tokenType === LParen && toks[toks.length - 1]!.tokenType === RParen) {
      toks = toks.slice(1, -1);
    }
    return toks;
  }
}

/** A name token as it must be printed: quoted ones as written, plain ones with the user's case. */
export function isNameToken(tok: IToken): boolean {
  return tok.tokenType === AnyIdent || (tok.tokenType.CATEGORIES?.includes(AnyIdent) ?? false);
}

export function isQuotedToken(tok: IToken): boolean {
  return tok.tokenType === BackQuotedIdentifier || tok.tokenType === DoubleQuotedIdentifier;
}
