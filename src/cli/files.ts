/** Finding and reading `.esql` files named on the command line. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { SourceFile } from "../diagnostics/render.ts";

export class UsageError extends Error {}

/**
 * Expands files and folders into `.esql` files: a folder contributes every `.esql` below it
 * (skipping `node_modules` and dot folders), sorted by path so the order is the same on every machine.
 * Throws {@link UsageError} for a path that does not exist.
 */
export function collectEsqlFiles(paths: readonly string[], extension = ".esql"): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`no such file or folder: ${p}`);
    }
    if (st.isDirectory()) out.push(...walk(p, extension));
    else out.push(p);
  }
  return out;
}

function walk(dir: string, extension: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full, extension));
    else if (entry.name.endsWith(extension)) found.push(full);
  }
  return found;
}

export function readSource(path: string): SourceFile {
  const shown = relative(process.cwd(), path) || path;
  return { path: shown.startsWith("..") ? path : shown, text: readFileSync(path, "utf8") };
}
