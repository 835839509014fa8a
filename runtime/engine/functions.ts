/**
 * Loading user functions (`src/functions/user.ts`) from files: a module file, or a folder of them (every
 * `.ts`, `.mts`, `.js`, `.mjs` below it but `*.test.*`, `*.spec.*`, `*.d.ts`, dot folders and
 * `node_modules`). TypeScript modules are compiled by tsx on import.
 *
 * The registry is the built-ins plus the user functions; a name can be defined once. Each user function
 * carries its module's path and content hash (`FunctionDef.origin`).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRegistry, functions as builtinFunctions } from "../../src/functions/registry.ts";
import type { FunctionDef, FunctionRegistry } from "../../src/functions/types.ts";
import { userFunctionsOf } from "../../src/functions/user.ts";

/**
 * Imports a module; TypeScript through tsx's `tsImport` (its own loader for that import, so it works in
 * any Node process, in CommonJS folders too). The hash in the URL: a changed file is imported again by a
 * process that imported it before.
 */
async function importModule(file: string, hash: string): Promise<unknown> {
  const url = `${pathToFileURL(file).href}?sha256=${hash.slice(0, 16)}`;
  if (/\.m?ts$/.test(file)) {
    // tsx is loaded only when a TypeScript module is (the built CLI does not need it otherwise).
    const { tsImport } = await import("tsx/esm/api");
    return tsImport(url, import.meta.url);
  }
  return import(url);
}

/** The folder of user functions beside `.esql` files: `functions/`. */
export const FUNCTIONS_FOLDER = "functions";

const MODULE = /\.(ts|mts|js|mjs)$/;
const SKIPPED = /\.(test|spec)\.[cm]?[jt]s$|\.d\.[cm]?ts$/;

/** User functions could not be loaded; the message lists every problem, one per line. */
export class FunctionLoadError extends Error {
  override readonly name = "FunctionLoadError";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

export interface LoadFunctionsOptions {
  /** Call scalar and table functions twice and compare (see `UserModuleOptions.checkDeterminism`). */
  readonly checkDeterminism?: boolean;
  /** The registry to extend (default: the built-ins). */
  readonly base?: FunctionRegistry;
}

/** The module files a path names (a file, or the modules below a folder, sorted by path). */
export function functionModules(path: string): string[] {
  if (!existsSync(path)) throw new FunctionLoadError([`${path}: no such file or folder`]);
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (MODULE.test(e.name) && !SKIPPED.test(e.name)) out.push(full);
    }
  };
  walk(path);
  return out;
}

/**
 * The registry with the user functions of `paths` (files or folders) added. Throws {@link FunctionLoadError}
 * listing every problem (module that fails to load, definition that does not validate, name taken).
 */
export async function loadFunctions(
  paths: readonly string[],
  options: LoadFunctionsOptions = {},
): Promise<FunctionRegistry> {
  const base = options.base ?? builtinFunctions;
  const problems: string[] = [];
  const defs: FunctionDef[] = [];
  const taken = new Set<string>();
  const files: string[] = [];
  for (const p of paths) {
    try {
      files.push(...functionModules(p));
    } catch (e) {
      if (e instanceof FunctionLoadError) problems.push(...e.problems);
      else throw e;
    }
  }
  for (const file of [...new Set(files.map((f) => resolve(f)))]) {
    const rel = relative(process.cwd(), file);
    const shown = rel && !rel.startsWith("..") ? rel : file;
    const source = readFileSync(file);
    const hash = createHash("sha256").update(source).digest("hex");
    let exports: Record<string, unknown>;
    try {
      // The hash in the URL: a changed file is loaded again in a process that loaded it before.
      exports = (await importModule(file, hash)) as Record<string, unknown>;
    } catch (e) {
      problems.push(`${shown}: cannot be loaded: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      continue;
    }
    const r = userFunctionsOf(exports, shown, {
      taken: (n) => base.get(n) !== undefined || taken.has(n),
      origin: { file: shown, hash },
      ...(options.checkDeterminism ? { checkDeterminism: true } : {}),
    });
    problems.push(...r.errors);
    for (const d of r.defs) {
      taken.add(d.name);
      defs.push(d);
    }
  }
  if (problems.length) throw new FunctionLoadError(problems);
  return defs.length ? createRegistry([...base.all(), ...defs]) : base;
}

/**
 * The user-function folders for `.esql` paths: `functions/` beside each file (or inside each folder) named,
 * when it exists. `explicit` (`--functions PATH`) replaces the lookup.
 */
export function functionPathsFor(esqlPaths: readonly string[], explicit?: readonly string[]): string[] {
  if (explicit && explicit.length) return [...explicit];
  const found = new Set<string>();
  for (const p of esqlPaths) {
    let dir: string;
    try {
      dir = statSync(p).isDirectory() ? p : dirname(p);
    } catch {
      continue;
    }
    const f = join(dir, FUNCTIONS_FOLDER);
    if (existsSync(f) && statSync(f).isDirectory()) found.add(resolve(f));
  }
  return [...found];
}

/** A user function a plan calls, as recorded with the plan (command topic header `esql-functions`). */
export interface UsedFunction {
  readonly name: string;
  /** SHA-256 of its module's source when the plan was deployed. */
  readonly hash: string;
}

/**
 * The user functions a plan calls: the names of its calls (scalar calls, aggregates, table functions: every
 * object with a `name` and `args`) that are user functions of `registry`, sorted by name.
 */
export function usedUserFunctions(plan: unknown, registry: FunctionRegistry): UsedFunction[] {
  const found = new Map<string, string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== "object" || v === null) return;
    const o = v as Record<string, unknown>;
    if (typeof o.name === "string" && Array.isArray(o.args)) {
      const origin = registry.get(o.name)?.origin;
      if (origin) found.set(o.name.toUpperCase(), origin.hash);
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(plan);
  return [...found].sort(([a], [b]) => a.localeCompare(b)).map(([name, hash]) => ({ name, hash }));
}

/**
 * What changed since a plan was deployed with `recorded` user functions: one line per function that is no
 * longer loaded or whose module's source differs (empty when nothing did).
 */
export function functionChanges(recorded: readonly UsedFunction[], registry: FunctionRegistry): string[] {
  const out: string[] = [];
  for (const u of recorded) {
    const def = registry.get(u.name);
    if (!def?.origin) out.push(`user function ${u.name} (sha256 ${u.hash.slice(0, 12)}) is not loaded`);
    else if (def.origin.hash !== u.hash)
      out.push(
        `user function ${u.name} changed: deployed with sha256 ${u.hash.slice(0, 12)}, now ${def.origin.hash.slice(0, 12)} (${def.origin.file})`,
      );
  }
  return out;
}
