/**
 * Builds the web console (`console/`) into `console/dist`, which `esql serve` serves at `/`
 * (`runtime/http/routes/console.ts`): one bundle of the app and its libraries (preact, CodeMirror, uPlot,
 * dagre, vscode-textmate), its stylesheet, the page, the Oniguruma WebAssembly the TextMate grammar needs and
 * the grammar itself. Nothing is fetched from the network at run time.
 *
 *   node --import tsx scripts/console/build.ts        (npm run console:build; npm install runs it)
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "../..");
const out = join(root, "console/dist");
const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { app: join(root, "console/src/main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outdir: out,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "linked",
  logLevel: "warning",
  metafile: true,
});
copyFileSync(join(root, "console/index.html"), join(out, "index.html"));
copyFileSync(join(dirname(require.resolve("vscode-oniguruma")), "onig.wasm"), join(out, "onig.wasm"));
copyFileSync(join(root, "grammar/esql.tmLanguage.json"), join(out, "esql.tmLanguage.json"));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`console built into ${out} (${Math.round(bytes / 1024)} KiB of script and style)`);
