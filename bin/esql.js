#!/usr/bin/env node
// Entry point for `npx esql`. Runs the build in dist/ (`npm run build`, which `npm install` and `npm ci` run),
// JavaScript that starts at once. When the build is missing or a source it was made from changed since
// (dist/build.json lists them: an edit not yet built), it runs the TypeScript sources through tsx instead, as
// fast as before the build existed but never stale. ESQL_FROM_SOURCE=1 always runs the sources.
import { readFileSync, statSync } from "node:fs";
import module from "node:module";

// Node 22+ keeps the compiled code of the modules between runs (a no-op on Node 20, which lacks it).
module.enableCompileCache?.();

// A closed pipe (`esql run ... | head`) ends the output quietly, as other command-line tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/** Whether dist/ holds a build at least as new as every source it was made from. */
function buildIsFresh() {
  if (process.env.ESQL_FROM_SOURCE === "1") return false;
  const root = new URL("../", import.meta.url);
  try {
    const { startedAt, inputs } = JSON.parse(readFileSync(new URL("dist/build.json", root), "utf8"));
    return inputs.every((f) => statSync(new URL(f, root)).mtimeMs <= startedAt);
  } catch {
    return false;
  }
}

let main;
if (buildIsFresh()) {
  ({ main } = await import("../dist/esql.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
