/** `esql explain`: the topology each query runs (and its logical plans) for every query in a file. */
import { compileScript } from "../compile.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { renderDiagnostic } from "../diagnostics/render.ts";
import { formatLogicalPlan } from "../logical/index.ts";
import { formatPhysicalPlan } from "../physical/format.ts";
import { formatTopology } from "../physical/topology-format.ts";
import { readSource } from "./files.ts";
import { EXIT, colors, useColor } from "./output.ts";

export interface ExplainOptions {
  readonly verbose: boolean;
  readonly json: boolean;
  readonly functions?: FunctionRegistry;
}

/**
 * Compiles the file and prints, for each statement that runs a query, the topology it runs (the plan the
 * runtime instantiates; pull and push SELECTs, which run no persistent topology, show their physical plan),
 * and its logical plan (with `--verbose` also the plan after each rewrite rule). `--json` prints the plans
 * as a JSON array instead: the topology plans of persistent queries, the physical plans of the others.
 */
export function runExplain(path: string, options: ExplainOptions, out = process.stdout): number {
  const file = readSource(path);
  const result = compileScript(file.text, options.functions ? { functions: options.functions } : {});
  if (result.diagnostics.some((d) => d.severity === "error")) {
    const color = useColor(process.stderr);
    for (const d of result.diagnostics) process.stderr.write(renderDiagnostic(d, file, { color }) + "\n\n");
    return EXIT.failed;
  }
  const planned = result.statements.filter((s) => s.physical !== undefined && s.logical !== undefined);
  if (options.json) {
    out.write(
      JSON.stringify(
        planned.map((s) => s.topology ?? s.physical),
        null,
        2,
      ) + "\n",
    );
    return EXIT.ok;
  }
  const c = colors(out);
  if (planned.length === 0) {
    out.write(`${file.path}: no statement runs a query\n`);
    return EXIT.ok;
  }
  for (const s of planned) {
    out.write(`${c.bold(c.cyan("──"))} ${c.bold(oneLine(s.text))}\n\n`);
    if (s.topology) out.write(`${c.bold("Topology (what runs)")}\n${indent(formatTopology(s.topology))}\n\n`);
    out.write(`${c.bold("Logical plan")}\n${indent(formatLogicalPlan(s.logical!))}\n`);
    if (options.verbose) {
      for (const step of s.steps ?? []) {
        out.write(`${c.bold(`After rule ${step.rule}`)}${step.changed ? "" : c.dim(" (no change)")}\n`);
        if (step.changed) out.write(`${indent(formatLogicalPlan(step.plan))}\n`);
      }
    }
    if (!s.topology) out.write(`${c.bold("Physical plan")}\n${indent(formatPhysicalPlan(s.physical!))}\n\n`);
    else out.write("\n");
  }
  return EXIT.ok;
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, " ").trim();
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
