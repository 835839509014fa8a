/**
 * The layering rule (npm run layers), from the bottom up:
 *
 *   core      src/types, src/functions, src/diagnostics, and the plan IR src/plan (the JSON plan the runtime runs)
 *   compiler  grammar/, src/ast, src/semantic, src/logical, src/physical, src/format, src/parse.ts, src/compile.ts
 *   runtime   runtime/{log,serde,state,processors,query,expr,cluster}
 *   engine    runtime/engine, runtime/deploy/steps.ts (the deploy steps the engine replays from its command topic) and
 *             runtime/deploy/ledger.ts (the versions per name they make, which SHOW and DESCRIBE show)
 *   edges     runtime/http (server), runtime/deploy, runtime/testing (`esql test`), src/cli, src/index.ts, bin/
 *
 * A layer imports only from the layers below it, and the runtime (with the engine and the edges above it) uses
 * the compiler only through its front doors, src/parse.ts and src/compile.ts (the engine compiles statements).
 * The runtime must never import the compiler's insides: the types it needs are the plan IR's (src/plan), and
 * what the engine needs of the compiler (the catalog, analyzed statements, planning) src/compile.ts exports.
 * Tests (test/) may import anything; nothing imports test/.
 */

const PLAN_IR = "^src/plan/";
const CORE = `^src/(types|functions|diagnostics)/|${PLAN_IR}`;
const COMPILER = "^grammar/|^src/(ast|semantic|logical|physical|format)/|^src/(parse|compile)\\.ts$";
/** The compiler's insides: everything but its front doors. */
const COMPILER_INSIDES = "^grammar/|^src/(ast|semantic|logical|physical|format)/";
const RUNTIME = "^runtime/(log|serde|state|processors|query|expr|cluster)/";
const ENGINE = "^runtime/engine/|^runtime/deploy/(steps|ledger)\\.ts$";
const EDGES =
  "^runtime/http/|^runtime/deploy/(?!(steps|ledger)\\.ts$)|^runtime/testing/|^src/cli/|^src/index\\.ts$|^bin/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-imports-only-core",
      comment: "src/types, src/functions, src/diagnostics and the plan IR are the bottom layer.",
      severity: "error",
      from: { path: CORE },
      to: { path: "^(grammar|src|runtime|test|bin)/", pathNot: CORE },
    },
    {
      name: "compiler-not-runtime",
      comment: "The compiler is pure: it never imports the runtime, the CLI or the public API module.",
      severity: "error",
      from: { path: COMPILER },
      to: { path: "^runtime/|^src/cli/|^src/index\\.ts$|^bin/" },
    },
    {
      name: "runtime-not-compiler-insides",
      comment:
        "The runtime reaches the compiler only through src/parse.ts and src/compile.ts (and not at all below the engine).",
      severity: "error",
      from: { path: "^runtime/" },
      to: { path: COMPILER_INSIDES },
    },
    {
      name: "runtime-below-the-compiler-front-doors",
      comment: "Below the engine the runtime runs plans; it does not parse or compile.",
      severity: "error",
      from: { path: RUNTIME },
      to: { path: "^src/(parse|compile)\\.ts$" },
    },
    {
      name: "runtime-below-engine",
      comment: "The runtime (logs, serdes, stores, processors, tasks) does not know the engine or the edges.",
      severity: "error",
      from: { path: RUNTIME },
      to: { path: `${ENGINE}|${EDGES}` },
    },
    {
      name: "engine-below-edges",
      comment: "The engine does not know its users: the server, deploy, `esql test`, the CLI.",
      severity: "error",
      from: { path: ENGINE },
      to: { path: EDGES },
    },
    {
      name: "test-harness-only-for-cli",
      comment: "runtime/testing is `esql test`'s engine room: only the CLI (and tests) use it.",
      severity: "error",
      from: { path: "^(src|runtime|grammar)/", pathNot: "^src/cli/|^runtime/testing/" },
      to: { path: "^runtime/testing/" },
    },
    {
      name: "no-test-code-in-production",
      comment: "Nothing outside test/ imports test/.",
      severity: "error",
      from: { pathNot: "^test/" },
      to: { path: "^test/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|tmp)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "types", "default"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
