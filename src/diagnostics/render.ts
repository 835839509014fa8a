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
  const { line, col } = d.span;
  const lines = file.text.split(/\r?\n/);
  const sourceLine = lines[line - 1] ?? "";
  const gutter = String(line).length;
  const pad = " ".repeat(gutter);
  const width =
    d.span.endLine === line ? Math.max(1, d.span.endCol - col + 1) : Math.max(1, sourceLine.length - col + 1);
  const head =
    `${c.bold(`${file.path}:${line}:${col}`)}: ` +
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
