/**
 * What a command topic deploys, read without an engine: the catalog its statements build and its deploy steps,
 * compiled in order (nothing started, no state opened or restored). `esql plan --brokers [--service-id]` plans
 * against it, and `esql rollback --brokers --service-id` records its switch there, which every instance of the
 * service follows in its next drain (a kept version runs: the switch needs no replay).
 */
import { Catalog, compileScript } from "../../src/compile.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { CommandLog, commandTopicOf, isStatement } from "../engine/command-log.ts";
import type { EventLog } from "../log/types.ts";
import { DeployError } from "./apply.ts";
import { readLedger, versionAlias } from "./ledger.ts";
import type { DeployedState } from "./plan.ts";
import { applyStep, type DeployStep } from "./steps.ts";

export interface RecordedDeployment extends DeployedState {
  /** The command topic, positioned at its end (for appending a step). */
  readonly commands: CommandLog;
}

/** Reads the command topic of `serviceId` (or a single instance's) on `log`. */
export async function readDeployed(
  log: EventLog,
  serviceId: string | undefined,
  functions?: FunctionRegistry,
): Promise<RecordedDeployment> {
  const commands = new CommandLog(log, commandTopicOf(serviceId));
  await commands.open();
  let catalog = Catalog.empty();
  const deploySteps: DeployStep[] = [];
  for (const c of await commands.readNew()) {
    if (!isStatement(c)) {
      catalog = applyStep(catalog, c);
      deploySteps.push(c);
      continue;
    }
    const r = compileScript(c.statement, {
      catalog,
      properties: { ...(c.properties ?? {}) },
      ...(functions ? { functions } : {}),
    });
    // A statement the engine refused was never recorded; one that no longer compiles leaves the catalog as it was.
    if (!r.diagnostics.some((d) => d.severity === "error")) catalog = r.catalog;
  }
  return { catalog, deploySteps, commands };
}

/**
 * Records the switch of `name` back to the version that served before (still kept and running); resolves it.
 * Throws {@link DeployError} when there is none.
 */
export async function recordRollback(deployed: RecordedDeployment, name: string): Promise<number> {
  const ledger = readLedger(deployed.catalog, deployed.deploySteps);
  const obj = ledger.get(name.toUpperCase()) ?? ledger.get(name);
  if (!obj) throw new DeployError(`no deployed stream or table named ${name}`);
  const previous = obj.served
    .filter((v) => v !== obj.current && obj.versions.some((x) => x.version === v && x.state === "kept"))
    .at(-1);
  if (previous === undefined)
    throw new DeployError(`${obj.name} has no earlier version kept (serving version ${obj.current})`);
  const serving = obj.versions.find((v) => v.state === "serving")!;
  const previousAlias = deployed.catalog.source(serving.alias) ? {} : { previousAlias: serving.alias };
  await deployed.commands.appendStep({
    op: "switch",
    name: obj.name,
    version: previous,
    alias: versionAlias(obj.name, previous),
    ...previousAlias,
  });
  return previous;
}
