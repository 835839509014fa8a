/** `esql apply <folder>`: make the deployed objects match the folder (see runtime/deploy/apply.ts). */
import { applyPlan, DeployError } from "../../runtime/deploy/apply.ts";
import { planFolder } from "../../runtime/deploy/plan.ts";
import { artifactFunctionChanges, plansOf } from "./artifact.ts";
import { EXIT } from "./output.ts";
import { deploySources, formatPlan, openTarget, printPlanErrors, type TargetOptions } from "./plan.ts";

export interface ApplyCliOptions extends TargetOptions {
  readonly allowDrop: boolean;
  /**
   * A plan file of `esql compile`: its statements are the desired definitions, and the queries they start run
   * the plans it holds (what was compiled and tested), not plans made now.
   */
  readonly plan?: string;
  /** Versions kept per object, the serving one included. */
  readonly keep: number;
}

export async function runApply(
  paths: readonly string[],
  options: ApplyCliOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const { artifact, files } = deploySources(paths, options.plan);
  const target = await openTarget(options);
  if (!target) return EXIT.failed;
  const err = process.stderr;
  try {
    // What was compiled (and tested) with other function code is not what would run.
    const changed = artifact ? artifactFunctionChanges(artifact, target.engine.functions) : [];
    if (changed.length > 0) {
      err.write(
        `esql: ${options.plan} was compiled with other user functions than those loaded:\n${changed.map((c) => `  ${c}\n`).join("")}` +
          `(load the functions it was compiled with, or compile it again)\n`,
      );
      return EXIT.failed;
    }
    const plan = planFolder(files, target.engine, { functions: target.engine.functions });
    if (printPlanErrors(plan)) return EXIT.failed;
    out.write(formatPlan(plan, out));
    // Progress goes to stderr, one line per step, as it happens (a CI log shows where a long rebuild is).
    const result = await applyPlan(target.engine, plan, {
      allowDrop: options.allowDrop,
      keep: options.keep,
      ...(artifact ? { plans: plansOf(artifact) } : {}),
      onProgress: (line) => err.write(`${line}\n`),
    });
    for (const line of result.done) out.write(`${line}\n`);
    if (result.keptRemoved.length > 0) out.write(`not dropped (no --allow-drop): ${result.keptRemoved.join(", ")}\n`);
    out.write(result.done.length === 0 ? "Nothing to apply.\n" : "Applied.\n");
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof DeployError)) throw e;
    err.write(
      `esql: apply failed: ${e.message}\n(the steps done so far are recorded: run esql apply again to finish, or change the folder back)\n`,
    );
    return EXIT.failed;
  } finally {
    await target.close();
  }
}
