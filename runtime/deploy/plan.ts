/**
 * `esql plan`: what applying a folder would change, object by object, against what an engine has deployed.
 *
 * The folder is the whole desired state. Its files are compiled in path order from an empty catalog (as
 * `esql check` does). Each stream or table is then compared with the deployed one by compiling the deployed
 * statement (as the user wrote it) in the same place of the folder, i.e. against the catalog the folder's
 * earlier statements build, and comparing the two analyzed statements without positions and texts. So
 * formatting and comments never count as changes, and both sides see the same inputs.
 *
 * Rules (also in src/ARCHITECTURE.md, "Deploying"):
 * - a changed definition that `CREATE OR REPLACE` accepts (src/semantic/replace.ts, ksqlDB's rules: filters,
 *   HAVING and projections that only add value columns at the end, over the same source, key, GROUP BY and
 *   aggregates) is replaced in place (`in-place`): it keeps its query id, state and offsets;
 * - any other change of a CREATE ... AS SELECT is a `rebuild` (a new version replays the history), and so is
 *   any change of an object that already has versions;
 * - an object reading an object that is rebuilt is rebuilt too (its input becomes the new version's topic);
 * - a declared source (plain CREATE STREAM/TABLE) may only gain columns at the end (in place); any other
 *   change of it, or of STREAM into TABLE, is an error: declare a new source under a new name.
 */
import {
  Catalog,
  compileScript,
  fingerprint,
  replaceIncompatibility,
  type AnalyzedStatement,
  type Definition,
} from "../../src/compile.ts";
import { error, type Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import type { SourceFile } from "../../src/diagnostics/render.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { parseScript } from "../../src/parse.ts";
import { formatStartPosition } from "../../src/plan/topology.ts";
import type { DeployStep } from "./steps.ts";
import { PROCESSING_LOG_NAME, readLedger, type DeployedObject } from "./ledger.ts";

export type PlanAction =
  /** Not deployed: created, reading its inputs from the earliest offsets. */
  | "new"
  | "unchanged"
  /** Replaced in place: the query keeps its offsets (a stateless stream). */
  | "in-place"
  /** A new version replays the history, then the name switches to it. */
  | "rebuild"
  /** An unfinished new version with this very definition exists (an interrupted apply): finish it. */
  | "resume"
  /** A kept older version has this very definition: the name switches back to it (no replay). */
  | "switch"
  /** Deployed but not in the folder: dropped by `apply --allow-drop`. */
  | "remove";

export interface PlanItem {
  readonly name: string;
  readonly objectType: "STREAM" | "TABLE" | "TYPE";
  readonly action: PlanAction;
  /** Why: what changed and why that needs a rebuild or not. */
  readonly reason?: string;
  /** The statement as written in the folder (absent for `remove`). */
  readonly text?: string;
  /** The file that defines it. */
  readonly file?: string;
  /** An unfinished version (from an interrupted apply) that applying abandons. */
  readonly abandons?: number;
  /** For `resume` and `switch`: the version it goes to. */
  readonly version?: number;
  /** Where the query of a new object or version starts reading (its `START_FROM`), when given. */
  readonly start?: string;
  /** The topics the query of a CREATE ... AS SELECT reads (with the folder's definitions): what a rebuild replays. */
  readonly inputTopics?: readonly string[];
}

/** Actions that start a new query (where `START_FROM` applies). */
const STARTS: ReadonlySet<PlanAction> = new Set(["new", "rebuild"]);

/** A statement of the folder that apply runs in order: an object's definition or a session statement. */
export type FolderStatement =
  | { readonly kind: "object"; readonly item: PlanItem }
  /** SET / UNSET / DEFINE / UNDEFINE: executed (not recorded) so later statements compile as in the folder. */
  | { readonly kind: "session"; readonly text: string };

export interface PlanError {
  readonly file: SourceFile;
  readonly diagnostic: Diagnostic;
}

export interface DeployPlan {
  /** Objects in folder order, then the removed ones (dependents first). */
  readonly items: readonly PlanItem[];
  /** The folder's statements in order, for apply. */
  readonly statements: readonly FolderStatement[];
  /** Compile errors and unsupported statements; when not empty, nothing may be applied. */
  readonly errors: readonly PlanError[];
  /** Statements that apply skips (INSERT ... VALUES is data, not a definition). */
  readonly notes: readonly string[];
}

export interface DeployedState {
  readonly catalog: Catalog;
  readonly deploySteps: readonly DeployStep[];
}

export interface PlanOptions {
  readonly functions?: FunctionRegistry;
  readonly properties?: Readonly<Record<string, string>>;
}

/** True when applying the plan would change something (`esql plan` exits 2). */
export function hasChanges(plan: { readonly items: readonly Pick<PlanItem, "action" | "abandons">[] }): boolean {
  return plan.items.some((i) => i.action !== "unchanged" || i.abandons !== undefined);
}

/** Compares the folder (`files`, in order) with what is deployed. Never throws for bad input. */
export function planFolder(
  files: readonly SourceFile[],
  deployed: DeployedState,
  options: PlanOptions = {},
): DeployPlan {
  const errors: PlanError[] = [];
  const notes: string[] = [];
  const functions = options.functions;
  const base = { ...(functions ? { functions } : {}) };
  // 1. The folder compiles as a whole (same order and catalog as `esql check`).
  let catalog = Catalog.empty();
  for (const file of files) {
    const r = compileScript(file.text, { ...base, catalog, properties: { ...(options.properties ?? {}) } });
    catalog = r.catalog;
    for (const d of r.diagnostics) if (d.severity === "error") errors.push({ file, diagnostic: d });
  }
  if (errors.length > 0) return { items: [], statements: [], errors, notes };

  // 2. Statement by statement, with the catalog before each one (where the deployed text is compiled too).
  const ledger = readLedger(deployed.catalog, deployed.deploySteps);
  const items: PlanItem[] = [];
  const statements: FolderStatement[] = [];
  const rebuilt = new Set<string>();
  const defined = new Set<string>();
  const properties: Record<string, string> = { ...(options.properties ?? {}) };
  let ctx = Catalog.empty();
  for (const file of files) {
    const parsed = parseScript(file.text);
    for (const p of parsed.statements) {
      const st = p.statement;
      const compile = (text: string) => compileScript(text, { ...base, catalog: ctx, properties: { ...properties } });
      switch (st.kind) {
        case "SetProperty":
          properties[st.name] = st.value;
          statements.push({ kind: "session", text: p.text });
          continue;
        case "UnsetProperty":
          delete properties[st.name];
          statements.push({ kind: "session", text: p.text });
          continue;
        case "Define":
        case "Undefine":
          statements.push({ kind: "session", text: p.text });
          continue;
        case "InsertValues":
          notes.push(`${file.path}:${st.span.line}: INSERT ... VALUES is data, not a definition: apply skips it`);
          continue;
        case "CreateSource":
        case "CreateAsSelect":
        case "CreateType":
          break;
        default:
          errors.push({
            file,
            diagnostic: error(
              "DEPLOY001",
              `a deployed folder holds definitions (CREATE STREAM/TABLE [AS SELECT], CREATE TYPE, SET, DEFINE), found ${st.kind}`,
              st.span,
              "apply makes the deployed objects match the folder: remove a definition from the folder to drop it (with --allow-drop)",
            ),
          });
          continue;
      }
      const desired = compile(p.text);
      const next = desired.catalog;
      const analyzed = desired.statements[0]?.analyzed;
      if (st.kind === "CreateType") {
        const name = st.name.value;
        const had = deployed.catalog.type(name);
        const action: PlanAction = !had
          ? "new"
          : fingerprint(had) === fingerprint(next.type(name))
            ? "unchanged"
            : "rebuild";
        if (action === "rebuild")
          errors.push(
            unsupported(file, st.span, `changing the type ${name} is not supported: create a type with a new name`),
          );
        else {
          const item: PlanItem = { name, objectType: "TYPE", action, text: p.text, file: file.path };
          items.push(item);
          statements.push({ kind: "object", item });
        }
        ctx = next;
        continue;
      }
      if (!analyzed || (analyzed.kind !== "CreateSource" && analyzed.kind !== "CreateAsSelect")) {
        ctx = next;
        continue;
      }
      const name = st.name.value;
      defined.add(name);
      const sink = analyzed.kind === "CreateSource" ? analyzed.source : analyzed.sink;
      const item = compare(name, sink.sourceType, analyzed, ledger.get(name), compile, rebuilt);
      if ("error" in item) errors.push(unsupported(file, st.name.span, item.error));
      else {
        const start =
          analyzed.kind === "CreateAsSelect" && analyzed.query.start && STARTS.has(item.action)
            ? { start: formatStartPosition(analyzed.query.start) }
            : {};
        const inputTopics =
          analyzed.kind === "CreateAsSelect"
            ? {
                inputTopics: analyzed.query.sources
                  .map((s) => next.source(s)?.topic)
                  .filter((t): t is string => t !== undefined),
              }
            : {};
        const full: PlanItem = { ...item, ...start, ...inputTopics, text: p.text, file: file.path };
        // Its topic changes: readers must rebuild too.
        if (full.action === "rebuild" || full.action === "resume" || full.action === "switch") rebuilt.add(name);
        items.push(full);
        statements.push({ kind: "object", item: full });
      }
      ctx = next;
    }
  }
  // 3. Deployed objects the folder no longer defines: dependents (created later) first.
  for (const obj of [...ledger.values()].reverse()) {
    if (defined.has(obj.name) || obj.name === PROCESSING_LOG_NAME) continue;
    items.push({ name: obj.name, objectType: obj.sourceType, action: "remove", reason: "not defined in the folder" });
  }
  return { items, statements, errors, notes };
}

type Compared = Omit<PlanItem, "text" | "file"> | { error: string };

function compare(
  name: string,
  sourceType: "STREAM" | "TABLE",
  desired: Extract<AnalyzedStatement, { kind: "CreateSource" | "CreateAsSelect" }>,
  deployed: DeployedObject | undefined,
  compile: (text: string) => ReturnType<typeof compileScript>,
  rebuilt: ReadonlySet<string>,
): Compared {
  if (!deployed) return { name, objectType: sourceType, action: "new" };
  if (deployed.sourceType !== sourceType) {
    return {
      error: `${name} is deployed as a ${deployed.sourceType} and defined as a ${sourceType}: remove it (apply --allow-drop), then add it back`,
    };
  }
  const serving = deployed.versions.find((v) => v.state === "serving");
  const building = deployed.versions.find((v) => v.state === "building");
  const analyzedOf = (text: string) => {
    const a = compile(text).statements[0]?.analyzed;
    return a && (a.kind === "CreateSource" || a.kind === "CreateAsSelect") ? a : undefined;
  };
  const want = definitionPrint(desired);
  const old = serving ? analyzedOf(serving.text) : undefined;
  const base = { name, objectType: sourceType } as const;
  if (desired.kind === "CreateSource") {
    if (old && old.kind === "CreateSource" && definitionPrint(old) === want) return { ...base, action: "unchanged" };
    // A declared source has no history to replay: a compatible change (columns added at the end) runs in
    // place, as `CREATE OR REPLACE` does; anything else needs a new name.
    const problem =
      old?.kind === "CreateSource" ? replaceIncompatibility(definition(old), definition(desired), false) : undefined;
    if (old?.kind === "CreateSource" && !problem)
      return {
        ...base,
        action: "in-place",
        reason:
          "columns added at the end: queries created from now on read them; rows written before read them as NULL",
      };
    const detail = problem ? ` (${problem.what}: ${problem.change})` : "";
    return {
      error: `changing the declaration of the source ${name}${detail} is not supported in place: declare a new source under a new name`,
    };
  }
  if (old && old.kind !== "CreateAsSelect") {
    return {
      error: `${name} is deployed as a declared source and defined by a query: remove it (apply --allow-drop), then add it back`,
    };
  }
  const inputs = desired.query.sources.filter((s) => rebuilt.has(s));
  const unfinished = building ? analyzedOf(building.text) : undefined;
  if (building && unfinished && definitionPrint(unfinished) === want && inputs.length === 0) {
    return {
      ...base,
      action: "resume",
      version: building.version,
      reason: `version ${building.version} was being built by an interrupted apply: it catches up, then ${name} switches to it`,
    };
  }
  const abandons = building ? { abandons: building.version } : {};
  if (inputs.length > 0) {
    return {
      ...base,
      action: "rebuild",
      reason: `reads ${inputs.join(", ")}, which ${inputs.length === 1 ? "is" : "are"} rebuilt`,
      ...abandons,
    };
  }
  if (old && definitionPrint(old) === want) return { ...base, action: "unchanged", ...abandons };
  const kept = deployed.versions.find((v) => v.state === "kept" && definitionPrint(analyzedOf(v.text)) === want);
  if (kept)
    return {
      ...base,
      action: "switch",
      version: kept.version,
      reason: `version ${kept.version} is kept, running and has this definition: ${name} switches back to it`,
      ...abandons,
    };
  if (!old) {
    return {
      ...base,
      action: "rebuild",
      reason: "the deployed statement no longer compiles against the folder's sources",
      ...abandons,
    };
  }
  const changed = changedParts(old, desired);
  const problem = replaceIncompatibility(definition(old), definition(desired), true);
  if (!problem && deployed.maxVersion > 1)
    return {
      ...base,
      action: "rebuild",
      reason: `${changed.join(", ")} changed; ${name} has had versions, and a change of a versioned object goes to a new version`,
      ...abandons,
    };
  if (!problem)
    return {
      ...base,
      action: "in-place",
      reason: `${changed.join(", ")} changed, which it can take in place: it keeps its state and offsets; rows already written keep their old columns`,
      ...abandons,
    };
  return {
    ...base,
    action: "rebuild",
    reason: `${changed.join(", ")} changed; ${problem.what}: ${problem.change} (${problem.why}): a new version rebuilds it`,
    ...abandons,
  };
}

/**
 * An object's definition as `esql plan` compares it: without `START_FROM`, which decides where a new query
 * starts and is nothing a running one could change.
 */
function definitionPrint(a: AnalyzedStatement | undefined): string {
  if (a?.kind !== "CreateAsSelect" || !a.query.start) return fingerprint(a);
  const { start: _start, ...query } = a.query;
  return fingerprint({ ...a, query });
}

/** What `replace.ts` compares: the sink and the query that writes it. */
function definition(a: Extract<AnalyzedStatement, { kind: "CreateSource" | "CreateAsSelect" }>): Definition {
  return a.kind === "CreateSource" ? { sink: a.source } : { sink: a.sink, query: a.query };
}

type Cas = Extract<AnalyzedStatement, { kind: "CreateAsSelect" }>;

/** The parts of a CREATE ... AS SELECT that differ, named as the user writes them. */
function changedParts(a: Cas, b: Cas): string[] {
  const parts: [string, (c: Cas) => unknown][] = [
    ["FROM", (c) => c.query.from],
    ["WHERE", (c) => c.query.where],
    ["GROUP BY", (c) => c.query.aggregation?.groupBy],
    ["aggregates", (c) => c.query.aggregation?.aggregates],
    ["WINDOW", (c) => c.query.window ?? c.query.aggregation?.window],
    ["HAVING", (c) => c.query.aggregation?.having],
    ["PARTITION BY", (c) => c.query.partitionBy],
    ["table functions", (c) => c.query.tableFunctions],
    ["SELECT columns", (c) => c.query.projection],
    ["EMIT", (c) => c.query.emit],
    ["WITH properties", (c) => ({ ...c.sink, columns: undefined })],
  ];
  const out = parts.filter(([, f]) => fingerprint(f(a)) !== fingerprint(f(b))).map(([n]) => n);
  return out.length > 0 ? out : ["the query"];
}

function unsupported(file: SourceFile, span: Diagnostic["span"], message: string): PlanError {
  return { file, diagnostic: error("DEPLOY002", message, span) };
}
