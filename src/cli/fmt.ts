/**
 * `esql fmt`: format `.esql` files with the Prettier plugin.
 * - default: print the formatted text of each file to `out`;
 * - `check`: list the files that are not formatted (exit 1 when there is one);
 * - `write`: rewrite the files that are not formatted, listing them.
 * A file with a syntax error gets its diagnostics printed and makes the exit code 1.
 */
import { writeFileSync } from "node:fs";
import { renderDiagnostic } from "../diagnostics/render.ts";
import { EsqlSyntaxError } from "../format/ast.ts";
import { format } from "../format/plugin.ts";
import { collectEsqlFiles, readSource } from "./files.ts";
import { EXIT, colors, useColor } from "./output.ts";

export interface FmtOptions {
  readonly check: boolean;
  readonly write: boolean;
}

export async function runFmt(
  paths: readonly string[],
  opts: FmtOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const files = collectEsqlFiles(paths);
  const c = colors(out);
  let failed = false;
  let changed = 0;
  for (const path of files) {
    const file = readSource(path);
    let formatted: string;
    try {
      formatted = await format(file.text);
    } catch (e) {
      if (!(e instanceof EsqlSyntaxError)) throw e;
      for (const d of e.diagnostics) out.write(renderDiagnostic(d, file, { color: useColor(out) }) + "\n\n");
      failed = true;
      continue;
    }
    if (opts.check || opts.write) {
      if (formatted === file.text) continue;
      changed++;
      if (opts.write) writeFileSync(path, formatted);
      out.write(`${file.path}\n`);
    } else {
      out.write(formatted);
    }
  }
  if (opts.check && changed > 0) {
    out.write(c.red(`${changed} file${changed === 1 ? "" : "s"} not formatted (run esql fmt --write)\n`));
    return EXIT.failed;
  }
  return failed ? EXIT.failed : EXIT.ok;
}
