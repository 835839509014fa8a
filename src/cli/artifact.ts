/**
 * The deployable plan artifact (`esql compile --out plans.json`): every file's statements in deploy order,
 * each persistent query with the topology plan it runs. `esql run --plan` and `esql serve --plan` deploy
 * the statements with those plans, so CI can check and test once and deploy exactly what it tested.
 */
import { readFileSync } from "node:fs";
import { normalizeStatement } from "../../runtime/engine/engine.ts";
import { functionChanges, usedUserFunctions, type UsedFunction } from "../../runtime/engine/functions.ts";
import type { Catalog } from "../semantic/catalog.ts";
import { compileScript } from "../compile.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { TOPOLOGY_VERSION, type TopologyPlan } from "../plan/topology.ts";
import type { SourceFile } from "../diagnostics/render.ts";
import { readSource, UsageError } from "./files.ts";

export const ARTIFACT_FORMAT = "esql-plans";
export const ARTIFACT_VERSION = 1;

export interface PlanArtifact {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly version: number;
  /** The topology plan format of the plans inside. */
  readonly topologyVersion: number;
  readonly files: readonly {
    /** The file as it was given to `esql compile`. */
    readonly path: string;
    /**
     * Its statements, in order; `plan` for those that start a persistent query, and `functions`: the user
     * functions that plan calls, with their module's SHA-256 when it was compiled.
     */
    readonly statements: readonly {
      readonly text: string;
      readonly plan?: TopologyPlan;
      readonly functions?: readonly UsedFunction[];
    }[];
  }[];
}

/** Compiles `paths` in order, each file against the catalog the previous ones built. */
export function compileArtifact(
  paths: readonly string[],
  functions?: FunctionRegistry,
): {
  artifact: PlanArtifact;
  errors: { file: SourceFile; diagnostics: Diagnostic[] }[];
} {
  let catalog: Catalog | undefined;
  const files: PlanArtifact["files"][number][] = [];
  const errors: { file: SourceFile; diagnostics: Diagnostic[] }[] = [];
  for (const path of paths) {
    const file = readSource(path);
    const r = compileScript(file.text, { ...(functions ? { functions } : {}), ...(catalog ? { catalog } : {}) });
    catalog = r.catalog;
    const bad = r.diagnostics.filter((d) => d.severity === "error");
    if (bad.length > 0) errors.push({ file, diagnostics: bad });
    files.push({
      path,
      statements: r.statements.map((s) => {
        const used = s.topology && functions ? usedUserFunctions(s.topology, functions) : [];
        return {
          text: s.text,
          ...(s.topology ? { plan: s.topology } : {}),
          ...(used.length > 0 ? { functions: used } : {}),
        };
      }),
    });
  }
  return {
    artifact: { format: ARTIFACT_FORMAT, version: ARTIFACT_VERSION, topologyVersion: TOPOLOGY_VERSION, files },
    errors,
  };
}

/** Reads an artifact; a file that is not one (or of another version) is a usage error that says so. */
export function readArtifact(path: string): PlanArtifact {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`cannot read the plan file ${path}: ${(e as Error).message}`);
  }
  const a = doc as Partial<PlanArtifact>;
  if (a?.format !== ARTIFACT_FORMAT || !Array.isArray(a.files)) {
    throw new UsageError(`${path} is not a plan file written by esql compile`);
  }
  // Topology plans of version 2 (before plans carried their execution settings) run with the session's.
  if (a.version !== ARTIFACT_VERSION || (a.topologyVersion !== TOPOLOGY_VERSION && a.topologyVersion !== 2)) {
    throw new UsageError(
      `${path} has plan file version ${String(a.version)} with topology plans v${String(a.topologyVersion)}; ` +
        `this esql reads version ${ARTIFACT_VERSION} with v${TOPOLOGY_VERSION}: compile it again with this release`,
    );
  }
  return a as PlanArtifact;
}

/** The artifact's plans by normalized statement text (what `Engine.execute`'s `plans` option takes). */
export function plansOf(artifact: PlanArtifact): Map<string, TopologyPlan> {
  const plans = new Map<string, TopologyPlan>();
  for (const f of artifact.files)
    for (const s of f.statements) if (s.plan) plans.set(normalizeStatement(s.text), s.plan);
  return plans;
}

/**
 * How the user functions loaded now differ from those the artifact's plans were compiled with: one line per
 * statement and function that is missing or whose module changed (empty when none did). Deploying such an
 * artifact would not run what was tested.
 */
export function artifactFunctionChanges(artifact: PlanArtifact, registry: FunctionRegistry): string[] {
  const out: string[] = [];
  for (const f of artifact.files)
    for (const s of f.statements)
      for (const change of functionChanges(s.functions ?? [], registry))
        out.push(`${normalizeStatement(s.text).slice(0, 80)}: ${change}`);
  return out;
}

/** The artifact's files as sources to deploy: the statements of each, one per line group. */
export function artifactSources(artifact: PlanArtifact): SourceFile[] {
  return artifact.files.map((f) => ({
    path: f.path,
    text: f.statements.map((s) => (s.text.trimEnd().endsWith(";") ? s.text : `${s.text};`)).join("\n"),
  }));
}
