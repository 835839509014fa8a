/**
 * Renders diagnostics for people (code frame with a caret), for machines (JSON) and for CI
 * (GitHub Actions workflow commands). Pure functions: the CLI decides where the text goes.
 */
import pc from "picocolors";
import type { Diagnostic } from "./diagnostic.ts";

export interface SourceFile {
  /** Path as the user should see it (relative when the user gave a relative path). */
  readonly path: string;
  readonly text: string;
}

export interface RenderOptions {
  readonly color?: boolean;
}

/**
 * `file:line:col: error[CODE]: message`, then the offending line with a caret under the span
 * (a run of `^` for the whole span when it stays on one line), then `= hint: ...` when there is one.
 */
export function renderDiagnostic(d: Diagnostic, file: SourceFile, options: RenderOptions = {}): string {
  const c = pc.createColors(options.color ?? false);
  const { line } = d.span;
  const full = lineAt(file.text, line);
  // A long line (a generated or hostile statement) shows as a window around the caret.
  const from = full.length <= FRAME_WIDTH ? 0 : Math.max(0, d.span.col - 1 - FRAME_CONTEXT);
  const shown = full.slice(from, from + FRAME_WIDTH);
  const sourceLine = (from > 0 ? "..." : "") + shown + (from + FRAME_WIDTH < full.length ? "..." : "");
  const col = d.span.col - from + (from > 0 ? 3 : 0);
  const gutter = String(line).length;
  const pad = " ".repeat(gutter);
  const shift = (from > 0 ? 3 : 0) - from;
  const endCol = d.span.endLine === line ? d.span.endCol + shift : sourceLine.length;
  // In a window the run of carets stops at the window's end.
  const width = Math.max(
    1,
    (full.length > FRAME_WIDTH ? Math.min(endCol, shift + from + shown.length) : endCol) - col + 1,
  );
  const head =
    `${c.bold(`${file.path}:${line}:${d.span.col}`)}: ` +
    (d.severity === "error" ? c.red(c.bold(`error[${d.code}]`)) : c.yellow(c.bold(`warning[${d.code}]`))) +
    `: ${c.bold(d.message)}`;
  const frame = [
    `${pad} ${c.blue("|")}`,
    `${c.blue(String(line))} ${c.blue("|")} ${expandTabs(sourceLine)}`,
    `${pad} ${c.blue("|")} ${" ".repeat(visualColumn(sourceLine, col - 1))}${c.red("^".repeat(width))}`,
  ];
  if (d.hint !== undefined) frame.push(`${pad} ${c.blue("=")} ${c.bold("hint")}: ${d.hint}`);
  return [head, ...frame].join("\n");
}

/** One JSON object per diagnostic, 1-based line/col, for `--format json`. */
export function diagnosticToJson(d: Diagnostic, file: SourceFile): Record<string, unknown> {
  return {
    file: file.path,
    line: d.span.line,
    column: d.span.col,
    endLine: d.span.endLine,
    endColumn: d.span.endCol,
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.hint === undefined ? {} : { hint: d.hint }),
  };
}

/** A GitHub Actions workflow command, so the diagnostic shows as an annotation on the pull request. */
export function renderGithub(d: Diagnostic, file: SourceFile): string {
  const props = [
    `file=${escapeProperty(file.path)}`,
    `line=${d.span.line}`,
    `col=${d.span.col}`,
    `endLine=${d.span.endLine}`,
    `endColumn=${d.span.endCol + 1}`,
    `title=${escapeProperty(`esql ${d.code}`)}`,
  ].join(",");
  const message = d.hint === undefined ? d.message : `${d.message} (hint: ${d.hint})`;
  return `::${d.severity === "error" ? "error" : "warning"} ${props}::${escapeData(message)}`;
}

function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/** Characters of a source line shown in a code frame, and how many of them before the caret. */
const FRAME_WIDTH = 160;
const FRAME_CONTEXT = 60;

/** Line start offsets of the last text rendered (a file's diagnostics are rendered one after another). */
let memo: { text: string; starts: number[] } | undefined;

/** The text of 1-based line `line` (lines end at `\n` or `\r\n`), without its line break. */
function lineAt(text: string, line: number): string {
  if (memo?.text !== text) {
    const starts = [0];
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    memo = { text, starts };
  }
  const start = memo.starts[line - 1];
  if (start === undefined) return "";
  const next = memo.starts[line];
  const end = next === undefined ? text.length : next - 1;
  return text.slice(start, end > start && text[end - 1] === "\r" ? end - 1 : end);
}

const TAB = "    ";

function expandTabs(s: string): string {
  return s.replace(/\t/g, TAB);
}

/** Display column of the character at `index` once tabs are expanded. */
function visualColumn(s: string, index: number): number {
  let col = 0;
  for (let i = 0; i < index && i < s.length; i++) col += s[i] === "\t" ? TAB.length : 1;
  return col + Math.max(0, index - s.length);
}
