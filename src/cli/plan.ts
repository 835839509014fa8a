/**
 * `esql plan <folder>`: what `esql apply` would change, against the engine's deployed catalog (its command
 * topic, on the embedded log in `--data` or on a Kafka cluster). Also the engine opening the deploy
 * commands share.
 */
import { resolve } from "node:path";
import { Engine } from "../../runtime/engine/engine.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { LogError } from "../../runtime/log/types.ts";
import { readDeployed } from "../../runtime/deploy/deployed.ts";
import {
  hasChanges,
  planFolder,
  type DeployedState,
  type DeployPlan,
  type PlanItem,
} from "../../runtime/deploy/plan.ts";
import type { EventLog } from "../../runtime/log/types.ts";
import type { SourceFile } from "../diagnostics/render.ts";
import { artifactSources, readArtifact, type PlanArtifact } from "./artifact.ts";
import { openKafkaLog } from "./kafka.ts";
import { recordsIn, type CostedItem, type RebuildCost } from "../../runtime/deploy/service.ts";
import { renderDiagnostic } from "../diagnostics/render.ts";
import { collectEsqlFiles, readSource, UsageError } from "./files.ts";
import { colors, EXIT, useColor } from "./output.ts";

export interface TargetOptions {
  /** State stores (and the embedded log without `brokers`). */
  readonly data: string;
  readonly brokers?: readonly string[];
  /** With `brokers`: the service whose deployment (command topic `_esql-<id>-commands`) is meant. */
  readonly serviceId?: string;
  /** The built-in and user functions (default: the built-ins). */
  readonly functions?: FunctionRegistry;
}

/**
 * Opens the engine the deploy commands work on; resolves undefined after printing why it cannot (a data
 * folder in use by another process, an unreachable cluster). The caller closes the engine, then `close`.
 */
export async function openTarget(
  options: TargetOptions,
): Promise<{ engine: Engine; close: () => Promise<void> } | undefined> {
  const err = process.stderr;
  // Loaded only when asked for: kafkajs is not needed on the embedded log.
  const kafka = options.brokers
    ? new (await import("../../runtime/log/kafka.ts")).KafkaEventLog({ brokers: [...options.brokers] })
    : undefined;
  try {
    const engine = await Engine.open({
      dataDir: resolve(options.data),
      ...(kafka ? { log: kafka } : {}),
      ...(options.functions ? { functions: options.functions } : {}),
      onRestore: (p) => {
        if (p.done) err.write(`restored ${p.topic}[${p.partition}] from ${p.read} changelog records\n`);
      },
    });
    for (const w of engine.warnings) err.write(`esql: warning: ${w}\n`);
    return {
      engine,
      close: async () => {
        await engine.close();
        await kafka?.close();
      },
    };
  } catch (e) {
    await kafka?.close().catch(() => {});
    if (e instanceof LogError && e.code === "LOCKED")
      err.write(`esql: the data folder ${options.data} is in use by another esql process\n`);
    else
      err.write(
        `esql: cannot open ${options.brokers ? `the cluster ${options.brokers.join(",")}` : `the data folder ${options.data}`}: ${(e as Error).message}\n`,
      );
    return undefined;
  }
}

/**
 * What `esql apply` deploys: the folders' `.esql` files, or a compiled artifact (`--plan`) and the statement
 * texts it was compiled from.
 */
export function deploySources(
  paths: readonly string[],
  planPath: string | undefined,
): { artifact: PlanArtifact | undefined; files: SourceFile[] } {
  const artifact = planPath ? readArtifact(planPath) : undefined;
  if (artifact && paths.length > 0) throw new UsageError("give folders or --plan, not both");
  if (!artifact && paths.length === 0) throw new UsageError("give the folder(s) to deploy, or --plan");
  return { artifact, files: artifact ? artifactSources(artifact) : folderFiles(paths) };
}

/** The folder's `.esql` files in path order, read. */
export function folderFiles(paths: readonly string[]) {
  const files = collectEsqlFiles(paths);
  if (files.length === 0) throw new UsageError(`no .esql files in ${paths.join(", ")}`);
  return files.map(readSource);
}

const MARK: Record<PlanItem["action"], string> = {
  new: "+",
  unchanged: "=",
  "in-place": "~",
  rebuild: "~",
  resume: "~",
  switch: "~",
  remove: "-",
};

const thousands = new Intl.NumberFormat("en-US");

/** What a rebuild costs, as the plan line says it. */
function costText(cost: RebuildCost | undefined): string {
  if (!cost) return "";
  const time = cost.seconds === undefined ? "" : `, about ${cost.seconds < 1 ? "<1" : Math.round(cost.seconds)}s`;
  return ` (replays ${thousands.format(cost.events)} events${time})`;
}

/** The plan as text: one line per object (a rebuild with its cost when known), then a summary line. */
export function formatPlan(
  plan: { readonly items: readonly CostedItem[]; readonly notes: readonly string[] },
  out: NodeJS.WriteStream,
): string {
  const c = colors(out);
  const paint: Record<PlanItem["action"], (s: string) => string> = {
    new: c.green,
    unchanged: c.dim,
    "in-place": c.yellow,
    rebuild: c.yellow,
    resume: c.yellow,
    switch: c.yellow,
    remove: c.red,
  };
  const width = Math.max(0, ...plan.items.map((i) => i.name.length));
  const lines = plan.items.map((i) => {
    const what = `${i.action}${i.action === "remove" ? " (only with apply --allow-drop)" : ""}${i.reason && i.action !== "remove" ? `: ${i.reason}` : ""}`;
    const abandon = i.abandons !== undefined ? ` (abandons the unfinished version ${i.abandons})` : "";
    const start = i.start !== undefined ? ` (starts from ${i.start})` : "";
    return paint[i.action](
      `${MARK[i.action]} ${i.objectType.padEnd(6)} ${i.name.padEnd(width)}  ${what}${abandon}${start}${costText(i.cost)}`,
    );
  });
  const count = (a: PlanItem["action"]) => plan.items.filter((i) => i.action === a).length;
  const changes = plan.items.length - count("unchanged");
  lines.push(
    changes === 0 && !hasChanges(plan)
      ? "No changes."
      : `${changes} to change: ${count("new")} new, ${count("rebuild") + count("resume")} to rebuild, ${count("in-place")} in place, ${count("switch")} switched back, ${count("remove")} to remove.`,
  );
  for (const n of plan.notes) lines.push(c.dim(`note: ${n}`));
  return lines.join("\n") + "\n";
}

/** Prints the plan's errors (with code frames); true when there were any. */
export function printPlanErrors(plan: Pick<DeployPlan, "errors">): boolean {
  const color = useColor(process.stderr);
  for (const e of plan.errors) process.stderr.write(renderDiagnostic(e.diagnostic, e.file, { color }) + "\n\n");
  return plan.errors.length > 0;
}

export async function runPlan(
  paths: readonly string[],
  options: TargetOptions & { json?: boolean },
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const files = folderFiles(paths);
  // On Kafka the command topic says what is deployed: read it, start nothing, restore no state.
  if (options.brokers) {
    const kafka = await openKafkaLog({ brokers: options.brokers });
    try {
      const deployed = await readDeployed(kafka!, options.serviceId, options.functions).catch((e: unknown) => {
        process.stderr.write(`esql: cannot read the deployment on ${options.brokers!.join(",")}: ${(e as Error).message}
`);
        return undefined;
      });
      if (!deployed) return EXIT.failed;
      return await printPlan(files, deployed, kafka!, options, out);
    } finally {
      await kafka!.close();
    }
  }
  const target = await openTarget(options);
  if (!target) return EXIT.failed;
  try {
    return await printPlan(files, target.engine, target.engine.log, options, out);
  } finally {
    await target.close();
  }
}

async function printPlan(
  files: readonly SourceFile[],
  deployed: DeployedState,
  log: EventLog,
  options: TargetOptions & { json?: boolean },
  out: NodeJS.WriteStream,
): Promise<number> {
  const plan = planFolder(files, deployed, options.functions ? { functions: options.functions } : {});
  // Each rebuild's cost: the records it replays (no rate to estimate the time with: nothing runs here).
  const items: CostedItem[] = [];
  for (const { text: _t, ...i } of plan.items)
    items.push(
      i.action === "rebuild" && i.inputTopics ? { ...i, cost: { events: await recordsIn(log, i.inputTopics) } } : i,
    );
  if (options.json) {
    out.write(
      JSON.stringify(
        {
          changes: hasChanges(plan),
          items,
          errors: plan.errors.map((e) => ({ file: e.file.path, ...e.diagnostic })),
          notes: plan.notes,
        },
        null,
        2,
      ) + "\n",
    );
  } else if (!printPlanErrors(plan)) out.write(formatPlan({ items, notes: plan.notes }, out));
  if (plan.errors.length > 0) return EXIT.failed;
  return hasChanges(plan) ? PLAN_CHANGES : EXIT.ok;
}

/** `esql plan`'s exit code when applying would change something (as `terraform plan -detailed-exitcode`). */
export const PLAN_CHANGES = 2;
