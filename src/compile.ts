/**
 * The compiler's entry point: parse, analyze and plan a whole script, statement by statement, each
 * against the catalog the previous ones built.
 */
import type { Statement } from "./ast/nodes.ts";
import { NO_SPAN, type Diagnostic } from "./diagnostics/diagnostic.ts";
import { functions as defaultFunctions } from "./functions/registry.ts";
import type { FunctionRegistry } from "./functions/types.ts";
import { buildLogicalPlan, optimize, type LogicalPlan, type RuleStep } from "./logical/index.ts";
import { MAX_ERRORS } from "./limits.ts";
import { internalError, parseScript, tooManyErrors, type ParseResult } from "./parse.ts";
import { buildPhysicalPlan, type PhysicalPlan } from "./physical/index.ts";
import { executionSettings, type TopologyPlan } from "./plan/topology.ts";
import { buildTopology, UnsupportedQueryError } from "./physical/topology-build.ts";

import { Catalog } from "./semantic/catalog.ts";
import { analyzeStatement, type AnalyzedStatement } from "./semantic/statements.ts";

// The compiler's front door for its users above the runtime (the engine, deploy, `esql test`): what they
// need of the compiler's insides, so nothing there imports them (see .dependency-cruiser.cjs).
/** The text of a topology plan (what EXPLAIN shows), for the compiler's users. */
export { formatTopology } from "./physical/topology-format.ts";
export { formatLogicalPlan } from "./logical/index.ts";
export { formatPhysicalPlan } from "./physical/format.ts";
export { buildTopology, UnsupportedQueryError } from "./physical/topology-build.ts";
export { planTableRead, planTransient } from "./physical/select-build.ts";
export { Catalog } from "./semantic/catalog.ts";
export type { AnalyzedStatement } from "./semantic/statements.ts";
export type { AnalyzedQuery } from "./semantic/analyzed.ts";
export { fingerprint, replaceIncompatibility, type Definition } from "./semantic/replace.ts";

export interface CompileOptions {
  /** The catalog to start from (default: empty). */
  catalog?: Catalog;
  variables?: ReadonlyMap<string, string>;
  /** Session properties (`ksql.persistence.default.format.value`, ...); `SET` statements add to them. */
  properties?: Record<string, string>;
  /**
   * When true, CREATE STREAM/TABLE on a topic the catalog does not know needs PARTITIONS (ksqlDB's rule
   * against a real broker). Default false: topics are created on demand.
   */
  strictTopics?: boolean;
  /** The function registry (default: the built-in one). */
  functions?: FunctionRegistry;
}

export interface CompiledStatement {
  /** The statement's text (after variable substitution). */
  text: string;
  statement: Statement;
  /** The analyzed form; absent when the statement had errors. */
  analyzed?: AnalyzedStatement;
  /** For statements that run a query (CSAS, CTAS, INSERT INTO, SELECT): the plan before rewrites. */
  logical?: LogicalPlan;
  /** The plan after each rewrite rule, in order (for `explain --verbose`). */
  steps?: readonly RuleStep[];
  /** The optimized logical plan. */
  optimized?: LogicalPlan;
  physical?: PhysicalPlan;
  /**
   * For statements that start a persistent query (CSAS, CTAS, INSERT INTO): the topology plan the runtime
   * runs, with the partition counts the catalog knows (an engine plans with its topics' actual counts).
   * Absent when the query cannot run as asked (the engine reports why when it is executed).
   */
  topology?: TopologyPlan;
  /** Diagnostics of this statement. */
  diagnostics: Diagnostic[];
}

export interface CompileResult {
  statements: CompiledStatement[];
  /** Every diagnostic: syntax errors and each statement's. */
  diagnostics: Diagnostic[];
  /** The catalog after the script. */
  catalog: Catalog;
}

/** Parses and analyzes a whole script, statement by statement, each against the catalog the previous ones built. */
export function compileScript(text: string, options: CompileOptions = {}): CompileResult {
  let parsed: ParseResult;
  try {
    parsed = parseScript(text, options.variables ? { variables: options.variables } : {});
  } catch (e) {
    // parseScript reports its own statements' failures; this is the last net (a bug), never a throw.
    const diagnostic = internalError(e, NO_SPAN);
    return { statements: [], diagnostics: [diagnostic], catalog: options.catalog ?? Catalog.empty() };
  }
  return compileParsed(parsed, options);
}

/**
 * Analyzes and plans statements `parseScript` has parsed (`options.variables` is not used: the parse
 * substituted them). Diagnostics keep the parse's positions. The engine compiles the statements of a script
 * it has parsed this way, so a long statement is not parsed twice on its event loop.
 */
export function compileParsed(parsed: ParseResult, options: CompileOptions = {}): CompileResult {
  let catalog = options.catalog ?? Catalog.empty();
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  let errors = diagnostics.filter((d) => d.severity === "error").length;
  let stopped = diagnostics.some((d) => d.code === "SYN007");
  const properties: Record<string, string> = { ...(options.properties ?? {}) };
  const functions = options.functions ?? defaultFunctions;
  const statements: CompiledStatement[] = [];
  for (const p of parsed.statements) {
    const st = p.statement;
    if (errors >= MAX_ERRORS) {
      if (!stopped) diagnostics.push(tooManyErrors(st.span));
      break;
    }
    if (st.kind === "SetProperty") properties[st.name] = st.value;
    if (st.kind === "UnsetProperty") delete properties[st.name];
    const compiled: CompiledStatement = {
      text: p.text,
      statement: st,
      diagnostics: [],
    };
    try {
      const r = analyzeStatement(st, p.text, catalog, {
        functions,
        properties: { ...properties },
        strictTopics: options.strictTopics ?? false,
      });
      // One statement can have thousands (a select list of misspelt names): keep the script's budget.
      const budget = MAX_ERRORS - errors;
      compiled.diagnostics.push(...r.diagnostics.slice(0, budget));
      if (r.diagnostics.length > budget) {
        compiled.diagnostics.push(tooManyErrors(r.diagnostics[budget]!.span));
        stopped = true;
      }
      const before = catalog;
      catalog = r.catalog;
      if (r.analyzed) {
        compiled.analyzed = r.analyzed;
        const logical = buildLogicalPlan(r.analyzed, p.text);
        if (logical) {
          const { plan, steps } = optimize(logical);
          compiled.logical = logical;
          compiled.steps = steps;
          compiled.optimized = plan;
          compiled.physical = buildPhysicalPlan(plan, { properties });
        }
        const topology = topologyOf(r.analyzed, before, properties);
        if (topology) compiled.topology = topology;
      }
    } catch (e) {
      // An internal bug: report it against the statement instead of losing the rest of the script.
      compiled.diagnostics.push(internalError(e, st.span));
    }
    errors += compiled.diagnostics.filter((d) => d.severity === "error").length;
    for (const d of compiled.diagnostics) diagnostics.push(d);
    statements.push(compiled);
  }
  return { statements, diagnostics, catalog };
}

/** The topology plan of a statement that starts a persistent query, planned against `catalog` (before it). */
function topologyOf(
  a: AnalyzedStatement,
  catalog: Catalog,
  properties: Readonly<Record<string, string>>,
): TopologyPlan | undefined {
  // EXPLAIN <statement>: the plan the statement would run.
  if (a.kind === "Explain") return topologyOf(a.inner, catalog, properties);
  if (a.kind !== "CreateAsSelect" && a.kind !== "InsertInto") return undefined;
  const partitions = new Map<string, number>();
  for (const name of a.query.sources) {
    const src = catalog.source(name);
    if (src) partitions.set(src.topic, src.partitions ?? catalog.topics.get(src.topic)?.partitions ?? 1);
  }
  const inputPartitions = Math.max(1, ...partitions.values());
  const sinkPartitions =
    catalog.source(a.sink.name)?.partitions ??
    a.sink.partitions ??
    catalog.topics.get(a.sink.topic)?.partitions ??
    inputPartitions;
  try {
    const execution = executionSettings(properties);
    return buildTopology(a.queryId, a.query, a.sink, (t) => partitions.get(t) ?? 1, sinkPartitions, execution);
  } catch (e) {
    if (e instanceof UnsupportedQueryError) return undefined;
    throw e;
  }
}
