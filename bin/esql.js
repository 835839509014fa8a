#!/usr/bin/env node
// Entry point for `npx esql`. The sources are TypeScript; tsx compiles them on load (cached),
// so a fresh clone needs nothing beyond `npm install`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
