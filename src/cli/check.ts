/** `esql check`: parse and analyze `.esql` files; print every diagnostic. */
import { compileScript, type CompileOptions } from "../compile.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { diagnosticToJson, renderDiagnostic, renderGithub } from "../diagnostics/render.ts";
import { collectEsqlFiles, readSource } from "./files.ts";
import { EXIT, colors, useColor } from "./output.ts";

export type CheckFormat = "text" | "json" | "github";

/**
 * Files are compiled in path order against one catalog, so a folder may define its sources in one file
 * and use them in the next (as `esql apply` deploys them).
 */
export function runCheck(
  paths: readonly string[],
  format: CheckFormat,
  out = process.stdout,
  options: { readonly functions?: FunctionRegistry } = {},
): number {
  const files = collectEsqlFiles(paths);
  let catalog: CompileOptions["catalog"];
  let errors = 0;
  let warnings = 0;
  let statements = 0;
  const json: Record<string, unknown>[] = [];
  const color = useColor(out);
  for (const path of files) {
    const file = readSource(path);
    const result = compileScript(file.text, { ...options, ...(catalog === undefined ? {} : { catalog }) });
    catalog = result.catalog;
    statements += result.statements.length;
    for (const d of result.diagnostics) {
      if (d.severity === "error") errors++;
      else warnings++;
      if (format === "json") json.push(diagnosticToJson(d, file));
      else if (format === "github") out.write(renderGithub(d, file) + "\n");
      else out.write(renderDiagnostic(d, file, { color }) + "\n\n");
    }
  }
  if (format === "json") {
    out.write(JSON.stringify({ files: files.length, statements, errors, warnings, diagnostics: json }, null, 2) + "\n");
  } else if (format === "text") {
    const c = colors(out);
    const summary = `${files.length} file${files.length === 1 ? "" : "s"}, ${statements} statement${statements === 1 ? "" : "s"}: `;
    out.write(
      errors === 0
        ? `${summary}${c.green("no errors")}${warnings > 0 ? `, ${warnings} warning(s)` : ""}\n`
        : `${summary}${c.red(`${errors} error${errors === 1 ? "" : "s"}`)}${warnings > 0 ? `, ${warnings} warning(s)` : ""}\n`,
    );
  }
  return errors > 0 ? EXIT.failed : EXIT.ok;
}
