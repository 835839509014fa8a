/**
 * Source positions and diagnostics: the values every compiler stage reports problems with.
 *
 * Offsets are 0-based UTF-16 indexes into the source text, `end` exclusive.
 * Lines and columns are 1-based; `endLine`/`endCol` point at the last character (inclusive).
 */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
}

import type { DiagnosticCode } from "./codes.ts";

export type Severity = "error" | "warning";

/**
 * A problem found in `.esql` text. `code` is stable (documented in the README) so tools can match on it;
 * `message` names what was expected and what was found; `hint` suggests a fix when there is one.
 */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
}

/** A span that covers nothing, for things synthesised by the compiler (never shown to users with a caret). */
export const NO_SPAN: Span = { start: 0, end: 0, line: 1, col: 1, endLine: 1, endCol: 1 };

/** Longer messages (one that quotes a huge literal or name) are cut in the middle. */
const MAX_MESSAGE_LENGTH = 1000;

export function error(code: DiagnosticCode, text: string, span: Span, hint?: string): Diagnostic {
  const message =
    text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 200)}...${text.slice(-197)}`;
  return hint === undefined
    ? { severity: "error", code, message, span }
    : { severity: "error", code, message, span, hint };
}

/** The smallest span covering both `a` and `b`. */
export function joinSpans(a: Span, b: Span): Span {
  const first = a.start <= b.start ? a : b;
  const last = a.end >= b.end ? a : b;
  return {
    start: first.start,
    end: last.end,
    line: first.line,
    col: first.col,
    endLine: last.endLine,
    endCol: last.endCol,
  };
}
