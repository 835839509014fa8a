/** `esql compile`: the plan file of a folder (see `artifact.ts`). */
import { writeFileSync } from "node:fs";
import { renderDiagnostic } from "../diagnostics/render.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { compileArtifact } from "./artifact.ts";
import { collectEsqlFiles, UsageError } from "./files.ts";
import { EXIT, useColor } from "./output.ts";

export function runCompile(
  paths: readonly string[],
  out: string,
  err: NodeJS.WriteStream = process.stderr,
  options: { readonly functions?: FunctionRegistry } = {},
): number {
  const files = collectEsqlFiles(paths);
  if (files.length === 0) throw new UsageError(`no .esql files in ${paths.join(", ")}`);
  const { artifact, errors } = compileArtifact(files, options.functions);
  if (errors.length > 0) {
    const color = useColor(err);
    for (const e of errors) for (const d of e.diagnostics) err.write(renderDiagnostic(d, e.file, { color }) + "\n\n");
    err.write(`esql: ${out} not written: the files have errors\n`);
    return EXIT.failed;
  }
  writeFileSync(out, JSON.stringify(artifact, null, 2) + "\n");
  const statements = artifact.files.reduce((n, f) => n + f.statements.length, 0);
  const plans = artifact.files.reduce((n, f) => n + f.statements.filter((s) => s.plan).length, 0);
  err.write(`wrote ${out}: ${statements} statement(s), ${plans} query plan(s)\n`);
  return EXIT.ok;
}
