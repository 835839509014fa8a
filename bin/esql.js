#!/usr/bin/env node
// Entry point for `npx esql`. The sources are TypeScript; tsx compiles them on load (cached),
// so a fresh clone needs nothing beyond `npm install`.
import { register } from "tsx/esm/api";

// A closed pipe (`esql run ... | head`) ends the output quietly, as other command-line tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
