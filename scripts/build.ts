/**
 * Builds what `bin/esql.js` runs into `dist/` (gitignored): the CLI (`dist/esql.js`) and the server's parser
 * thread (`dist/compile-worker.js`), bundled by esbuild as ES modules for Node 20, npm packages left as
 * imports, and each command's modules in chunks the CLI imports when that command runs. `npm run build`;
 * `npm install` and `npm ci` run it (`prepare`).
 *
 *   node --import tsx scripts/build.ts [--if-stale]
 *
 * `dist/build.json` records when the build started and the sources it read; `bin/esql.js` runs the build only
 * when none of them changed since (else the TypeScript sources through tsx), and `--if-stale` builds only then
 * (the test suites' global setup uses it, so tests that spawn the CLI run the current code, built).
 *
 * Files are replaced one by one (chunks carry a content hash in their name, the entry modules and the
 * manifest are renamed into place last), so a CLI starting during a build runs the old build or the sources,
 * never half of one; chunks of earlier builds are removed after an hour.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");
const MANIFEST = join(DIST, "build.json");
/** Chunks of earlier builds younger than this are kept (a process started before the build may import them). */
const KEEP_OLD_MS = 3_600_000;

interface Manifest {
  /** When the build started (ms since the epoch): a source modified later makes the build stale. */
  readonly startedAt: number;
  /** The sources bundled, relative to the package root. */
  readonly inputs: readonly string[];
}

/**
 * npm packages stay imports of `node_modules`, but for the parser's: chevrotain and its ES-module dependencies
 * (lodash-es is some 600 modules, which Node would read and link one by one at every start).
 */
const BUNDLED = /^(chevrotain|@chevrotain\/[^/]+|lodash-es)(\/|$)/;
const externalPackages: Plugin = {
  name: "external-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      BUNDLED.test(args.path) ? undefined : { path: args.path, external: true },
    );
  },
};

/** Whether `dist/` holds a build at least as new as every source it was made from. */
export function buildIsFresh(): boolean {
  try {
    const m = JSON.parse(readFileSync(MANIFEST, "utf8")) as Manifest;
    return m.inputs.every((f) => statSync(join(ROOT, f)).mtimeMs <= m.startedAt);
  } catch {
    return false;
  }
}

/** Builds `dist/`. */
export async function buildDist(): Promise<void> {
  const startedAt = Date.now();
  // The grammar loaded from the sources runs chevrotain's validations (it throws when they fail); the build's
  // parser skips them (grammar/parser.ts), so they run here once instead of at every start.
  await import("../grammar/parser.ts");
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { esql: "src/cli/main.ts", "compile-worker": "runtime/http/compile-worker.ts" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20.19",
    plugins: [externalPackages],
    // Error classes and functions keep their names (messages and `instanceof`-free checks read them).
    // No keepNames: esbuild would wrap every function made at run time in a call that names it (some 9% of a
    // pull query's CPU under tsx, which does it). Only the tests (on the sources) read functions' names.
    define: { ESQL_BUILT_GRAMMAR_VALIDATED: "true" },
    sourcemap: "linked",
    outdir: DIST,
    chunkNames: "chunk-[hash]",
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  mkdirSync(DIST, { recursive: true });
  const entries = new Set(["esql.js", "esql.js.map", "compile-worker.js", "compile-worker.js.map"]);
  const written = new Set<string>(["build.json"]);
  const place = (name: string, contents: Uint8Array | string) => {
    const tmp = join(DIST, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, contents);
    renameSync(tmp, join(DIST, name));
    written.add(name);
  };
  // Chunks first, then the entry modules that import them, then the manifest that declares the build fresh.
  const files = [...result.outputFiles].sort(
    (a, b) => Number(entries.has(basename(a.path))) - Number(entries.has(basename(b.path))),
  );
  for (const f of files) place(relative(DIST, f.path), f.contents);
  const inputs = Object.keys(result.metafile.inputs)
    .filter((f) => !f.includes("node_modules/"))
    .sort();
  place("build.json", JSON.stringify({ startedAt, inputs } satisfies Manifest, null, 1) + "\n");
  for (const name of readdirSync(DIST)) {
    if (written.has(name)) continue;
    const file = join(DIST, name);
    if (Date.now() - statSync(file).mtimeMs > KEEP_OLD_MS) rmSync(file, { force: true, recursive: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  if (!(process.argv.includes("--if-stale") && buildIsFresh())) await buildDist();
}
