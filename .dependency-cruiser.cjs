/**
 * The layering rule (npm run layers), from the bottom up:
 *
 *   core      src/types, src/functions, src/diagnostics, and the plan IR src/plan (the JSON plan the runtime runs)
 *   compiler  grammar/, src/ast, src/semantic, src/logical, src/physical, src/format, src/parse.ts, src/compile.ts
 *   runtime   runtime/{log,serde,state,processors,query,expr,cluster}
 *   engine    runtime/engine, runtime/deploy/steps.ts (the deploy steps the engine replays from its command topic)
 *   edges     runtime/http (server), runtime/deploy, runtime/testing (`esql test`), src/cli, src/index.ts, bin/
 *
 * A layer imports only from the layers below it, and the runtime (with the engine and the edges above it) uses
 * the compiler only through its front doors, src/parse.ts and src/compile.ts (the engine compiles statements).
 * The runtime must never import the compiler's insides; today some of it still reads src/semantic's types
 * (KNOWN_RUNTIME_TO_COMPILER below, to be removed by a later issue): those imports are allowed one by one, so
 * a new one fails the check. Tests (test/) may import anything; nothing imports test/.
 */
const exact = (p) => `^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;

const PLAN_IR = "^src/plan/";
const CORE = `^src/(types|functions|diagnostics)/|${PLAN_IR}`;
const COMPILER = "^grammar/|^src/(ast|semantic|logical|physical|format)/|^src/(parse|compile)\\.ts$";
/** The compiler's insides: everything but its front doors. */
const COMPILER_INSIDES = "^grammar/|^src/(ast|semantic|logical|physical|format)/";
const RUNTIME = "^runtime/(log|serde|state|processors|query|expr|cluster)/";
const ENGINE = "^runtime/engine/|^runtime/deploy/steps\\.ts$";
const EDGES = "^runtime/http/|^runtime/deploy/(?!steps\\.ts$)|^runtime/testing/|^src/cli/|^src/index\\.ts$|^bin/";

/**
 * Runtime → compiler imports that exist today (file: the compiler modules it imports): 11 files, 21 imports.
 * Remove entries as the runtime stops needing them; never add one. `LAYERS_LIST_ALL=1 npm run layers` lists
 * them all as violations (the allowance left out).
 */
const KNOWN_RUNTIME_TO_COMPILER = process.env.LAYERS_LIST_ALL
  ? {}
  : {
      "runtime/deploy/ledger.ts": ["src/semantic/catalog.ts"],
      "runtime/deploy/plan.ts": ["src/semantic/catalog.ts", "src/semantic/replace.ts", "src/semantic/statements.ts"],
      "runtime/deploy/steps.ts": ["src/semantic/catalog.ts"],
      "runtime/engine/engine.ts": [
        "src/physical/topology-build.ts",
        "src/semantic/catalog.ts",
        "src/semantic/typed.ts",
      ],
      "runtime/engine/prepared.ts": ["grammar/tokens.ts", "src/semantic/analyzed.ts"],
      "runtime/engine/pull.ts": ["src/semantic/analyzed.ts", "src/semantic/catalog.ts", "src/semantic/typed.ts"],
      "runtime/engine/push.ts": [
        "src/physical/topology-build.ts",
        "src/semantic/analyzed.ts",
        "src/semantic/catalog.ts",
      ],
      "runtime/engine/queries.ts": ["src/semantic/analyzed.ts"],
      "runtime/expr/compile.ts": ["src/semantic/typed.ts"],
      "runtime/processors/source.ts": ["src/semantic/catalog.ts"],
      "runtime/serde/formats.ts": ["src/semantic/catalog.ts"],
      "runtime/testing/esqltest.ts": ["src/semantic/catalog.ts"],
      "runtime/testing/qtt.ts": ["src/semantic/catalog.ts", "src/semantic/expressions.ts"],
      "runtime/testing/records.ts": ["src/semantic/catalog.ts"],
    };

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
      from: { path: "^runtime/", pathNot: Object.keys(KNOWN_RUNTIME_TO_COMPILER).map(exact) },
      to: { path: COMPILER_INSIDES },
    },
    // One rule per file in the allowance: it may keep today's imports, no new ones.
    ...Object.entries(KNOWN_RUNTIME_TO_COMPILER).map(([from, allowed]) => ({
      name: "runtime-not-compiler-insides",
      comment:
        "A runtime file in the allowance (KNOWN_RUNTIME_TO_COMPILER) imports a compiler module it did not before.",
      severity: "error",
      from: { path: exact(from) },
      to: { path: COMPILER_INSIDES, pathNot: allowed.map(exact) },
    })),
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
      from: {
        path: "^(src|runtime|grammar)/",
        pathNot: "^src/cli/|^runtime/testing/|^runtime/http/routes/queries\\.ts$",
      },
      to: { path: "^runtime/testing/" },
    },
    {
      name: "test-harness-only-for-cli",
      comment:
        "Known exception: the server's query routes render values with runtime/testing/values.ts's toPlain (to move to a shared module).",
      severity: "error",
      from: { path: "^runtime/http/routes/queries\\.ts$" },
      to: { path: "^runtime/testing/", pathNot: "^runtime/testing/values\\.ts$" },
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
