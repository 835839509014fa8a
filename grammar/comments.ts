/**
 * Comments of an esql script, for tools that must keep them (the formatter). The lexer in
 * `tokens.ts` skips comments; this scanner finds them with the same rules: `--` to the end of the
 * line and `/* ... *\/` (not nested), never inside a string, a back-quoted or a double-quoted
 * identifier. An unterminated block comment runs to the end of the text (the parser reports it).
 */

export interface SourceComment {
  /** The comment exactly as written, including `--` or the delimiters. */
  readonly text: string;
  /** Offset of the first character (0-based, inclusive). */
  readonly start: number;
  /** Offset after the last character (exclusive). */
  readonly end: number;
  readonly block: boolean;
}

/** Every comment of `text`, in source order. */
export function lexComments(text: string): SourceComment[] {
  const out: SourceComment[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === "'" || c === "`" || c === '"') {
      // Quoted text; a doubled quote is an escaped quote and keeps us inside.
      i++;
      while (i < n) {
        if (text[i] === c) {
          if (text[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === "-" && text[i + 1] === "-") {
      let j = i + 2;
      while (j < n && text[j] !== "\n" && text[j] !== "\r") j++;
      out.push({ text: text.slice(i, j), start: i, end: j, block: false });
      i = j;
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      const j = close < 0 ? n : close + 2;
      out.push({ text: text.slice(i, j), start: i, end: j, block: true });
      i = j;
    } else {
      i++;
    }
  }
  return out;
}
