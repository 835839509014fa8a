/**
 * `esql apply` and `esql rollback` on an open engine: carry out a {@link DeployPlan}, recording every step in
 * the command topic so that an interrupted apply is finished (or abandoned) by the next one.
 *
 * A rebuild of `NAME` to version n:
 * 1. step `begin` (n, alias `NAME__V<n>`, the user's statement);
 * 2. the statement as `CREATE ... NAME__V<n> WITH (KAFKA_TOPIC = '<topic>__v<n>') AS SELECT ...` (recorded as
 *    any statement): the new version starts from the earliest offsets, with its own stores and topic, while
 *    the serving version keeps answering pull queries and writing its topic;
 * 3. catch up: the engine's queries run until none has input left (lag 0), the serving version included;
 * 4. step `switch`: one record, one catalog assignment; pull queries on `NAME` now read version n;
 * 5. versions beyond the kept number (current included; default {@link DEFAULT_KEEP}) are terminated
 *    (`TERMINATE`, which deletes their state) and then leave the catalog (step `retire`).
 * Kept versions keep running, so `rollback` is a switch back without a replay.
 *
 * By default this module drains the engine itself and runs each statement at once (`esql apply` in process). A
 * server passes a {@link DeployRunner}: its background loop drains while the version replays, and statements and
 * steps run under its exclusive lock, so pull and push queries keep being answered throughout.
 */
import { normalizeStatement, type Engine } from "../engine/engine.ts";
import { parseScript } from "../../src/parse.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import { readLedger, versionAlias, type DeployedObject } from "./ledger.ts";
import type { DeployPlan, PlanItem } from "./plan.ts";

/** Versions kept per name, the serving one included (so 2 = one to roll back to). */
export const DEFAULT_KEEP = 2;

export interface ApplyOptions {
  /**
   * Plans compiled beforehand (`esql apply --plan`), by normalized statement text (see `Engine.execute`): the
   * query a statement starts runs its plan, also when it is deployed as a rebuilt version (`NAME__V<n>`) or
   * replaced in place (the engine binds the plan to the query id, names and topics of the deployment).
   */
  readonly plans?: ReadonlyMap<string, TopologyPlan>;
  /** Drop deployed objects the folder no longer defines (default: keep them and say so). */
  readonly allowDrop?: boolean;
  /** Versions kept per name, the serving one included (≥ 1; default {@link DEFAULT_KEEP}). */
  readonly keep?: number;
  /** One line per step, for a progress display. */
  readonly onProgress?: (line: string) => void;
  /** How statements run and versions catch up (default: {@link inProcess}). */
  readonly runner?: DeployRunner;
}

/** How a deploy shares the engine with whoever else uses it (a server answering queries meanwhile). */
export interface DeployRunner {
  /** Runs `f` (statements, deploy steps) with nothing else changing or draining the engine. */
  exclusive<T>(f: () => Promise<T>): Promise<T>;
  /**
   * Resolves when the queries (the new version `queryId` among them) have (nearly) caught up; the switch then
   * drains what is left inside {@link exclusive}, so the version it switches to has read everything.
   */
  catchUp(queryId: string | undefined): Promise<void>;
  /** Told when a version starts replaying (its query id), so progress can be shown. */
  onVersion?(name: string, version: number, queryId: string | undefined): void;
  /** Told when a name has switched to a version it built or resumed. */
  onSwitched?(name: string, version: number): void;
}

/** The engine is this deploy's alone: statements run at once, catching up is draining. */
export const inProcess: DeployRunner = {
  exclusive: (f) => f(),
  catchUp: async () => {},
};

export interface ApplyResult {
  /** What was done, one line per object. */
  readonly done: readonly string[];
  /** Objects the folder no longer defines, left running because `allowDrop` was not given. */
  readonly keptRemoved: readonly string[];
}

/** A statement the engine refused while applying (a bug or a race with another deployer). */
export class DeployError extends Error {}

/** Applies a plan without errors (see `planFolder`). Throws {@link DeployError} when the engine refuses a step. */
export async function applyPlan(engine: Engine, plan: DeployPlan, options: ApplyOptions = {}): Promise<ApplyResult> {
  if (plan.errors.length > 0) throw new DeployError("internal: applying a plan with errors");
  const progress = options.onProgress ?? (() => {});
  const keep = Math.max(1, options.keep ?? DEFAULT_KEEP);
  const runner = options.runner ?? inProcess;
  const x = <T>(f: () => Promise<T>) => runner.exclusive(f);
  const done: string[] = [];
  const keptRemoved: string[] = [];
  for (const s of plan.statements) {
    if (s.kind === "session") {
      await x(() => run(engine, s.text, options.plans));
      continue;
    }
    const item = s.item;
    if (item.abandons !== undefined) {
      await x(() => retire(engine, item.name, item.abandons!));
      progress(`${item.name}: abandoned the unfinished version ${item.abandons}`);
    }
    switch (item.action) {
      case "unchanged":
        continue;
      case "new":
        progress(`${item.name}: creating`);
        await x(() => run(engine, item.text!, options.plans));
        done.push(`${item.name}: created`);
        break;
      case "in-place":
        progress(`${item.name}: replacing in place`);
        await x(() => run(engine, orReplace(item.text!), planFor(options.plans, item.text!, orReplace(item.text!))));
        done.push(`${item.name}: replaced in place`);
        break;
      case "rebuild": {
        const { version, alias } = await x(async () => {
          const version = object(engine, item.name).maxVersion + 1;
          const alias = versionAlias(item.name, version);
          progress(`${item.name}: building version ${version} (${alias})`);
          await engine.recordDeployStep({ op: "begin", name: item.name, version, alias, text: item.text!, keep });
          const text = versioned(item.text!, alias, version, sinkTopic(item));
          await run(engine, text, planFor(options.plans, item.text!, text));
          return { version, alias };
        });
        runner.onVersion?.(item.name, version, engine.catalog.source(alias)?.writtenBy);
        progress(`${item.name}: version ${version} is replaying the history`);
        await switchTo(engine, item.name, version, keep, progress, runner);
        done.push(`${item.name}: rebuilt as version ${version}`);
        break;
      }
      case "resume":
      case "switch":
        progress(
          `${item.name}: ${item.action === "resume" ? "finishing" : "switching back to"} version ${item.version}`,
        );
        if (item.action === "resume")
          runner.onVersion?.(
            item.name,
            item.version!,
            engine.catalog.source(versionAlias(item.name, item.version!))?.writtenBy,
          );
        await switchTo(engine, item.name, item.version!, keep, progress, runner);
        done.push(
          `${item.name}: ${item.action === "resume" ? "rebuilt as" : "switched back to"} version ${item.version}`,
        );
        break;
      case "remove":
        break;
    }
  }
  for (const item of plan.items) {
    if (item.action !== "remove") continue;
    if (!options.allowDrop) {
      keptRemoved.push(item.name);
      continue;
    }
    progress(`${item.name}: dropping`);
    await x(() => drop(engine, item));
    done.push(`${item.name}: dropped`);
  }
  // Versions beyond `keep` left by an apply interrupted after its switch.
  await x(async () => {
    for (const obj of readLedger(engine.catalog, engine.deploySteps).values())
      await retireBeyond(engine, obj.name, keep, progress);
  });
  if (runner === inProcess) await engine.drain();
  return { done, keptRemoved };
}

/**
 * Switches `name` back to the version that served before the current one (still kept and running).
 * Resolves the version switched to; throws {@link DeployError} when no earlier version is kept.
 */
export async function rollback(
  engine: Engine,
  name: string,
  onProgress: (line: string) => void = () => {},
  runner: DeployRunner = inProcess,
): Promise<number> {
  return runner.exclusive(() => rollbackNow(engine, name, onProgress));
}

async function rollbackNow(engine: Engine, name: string, onProgress: (line: string) => void): Promise<number> {
  const ledger = readLedger(engine.catalog, engine.deploySteps);
  // Unquoted names are upper case in the catalog; a quoted one is found as written.
  const obj = ledger.get(name.toUpperCase()) ?? ledger.get(name);
  if (!obj) throw new DeployError(`no deployed stream or table named ${name}`);
  const previous = obj.served
    .filter((v) => v !== obj.current && obj.versions.some((x) => x.version === v && x.state === "kept"))
    .at(-1);
  if (previous === undefined)
    throw new DeployError(`${obj.name} has no earlier version kept (serving version ${obj.current})`);
  onProgress(`${obj.name}: switching back from version ${obj.current} to version ${previous}`);
  // A kept version runs: no catching up before the switch (the drain in switchNow is what is left of a batch).
  await switchNow(engine, obj.name, previous, Number.POSITIVE_INFINITY, onProgress);
  return previous;
}

function object(engine: Engine, name: string): DeployedObject {
  const o = readLedger(engine.catalog, engine.deploySteps).get(name);
  if (!o) throw new DeployError(`internal: ${name} is not deployed`);
  return o;
}

/** Catches up, switches the name to `version`, then retires what is beyond `keep`. */
export async function switchTo(
  engine: Engine,
  name: string,
  version: number,
  keep: number,
  progress: (line: string) => void,
  runner: DeployRunner = inProcess,
): Promise<void> {
  await runner.catchUp(engine.catalog.source(versionAlias(name, version))?.writtenBy);
  await runner.exclusive(() => switchNow(engine, name, version, keep, progress));
  runner.onSwitched?.(name, version);
}

/** Drains what is left (with nothing else draining), switches, retires beyond `keep`. */
async function switchNow(
  engine: Engine,
  name: string,
  version: number,
  keep: number,
  progress: (line: string) => void,
): Promise<void> {
  const consumed = await engine.drain();
  progress(`${name}: version ${version} caught up (${consumed} records read)`);
  const before = object(engine, name);
  const serving = before.versions.find((v) => v.state === "serving")!;
  const alias = versionAlias(name, version);
  // The serving definition gets its own name first (version 1 has none until its first switch away).
  const previousAlias = engine.catalog.source(serving.alias) ? undefined : serving.alias;
  await engine.recordDeployStep({ op: "switch", name, version, alias, ...(previousAlias ? { previousAlias } : {}) });
  progress(`${name}: switched to version ${version}`);
  await retireBeyond(engine, name, keep, progress);
}

/** Retires the kept versions of `name` beyond the `keep` most recently serving ones. */
async function retireBeyond(
  engine: Engine,
  name: string,
  keep: number,
  progress: (line: string) => void,
): Promise<void> {
  const obj = object(engine, name);
  const keepSet = new Set(obj.served.slice(-keep));
  for (const v of obj.versions) {
    if (v.state === "kept" && !keepSet.has(v.version)) {
      await retire(engine, name, v.version);
      progress(`${name}: retired version ${v.version}`);
    }
  }
}

/** Stops a version and deletes its state (TERMINATE), then takes its name out of the catalog (step `retire`). */
async function retire(engine: Engine, name: string, version: number): Promise<void> {
  const alias = versionAlias(name, version);
  const queryId = engine.catalog.source(alias)?.writtenBy;
  // TERMINATE first: a crash between the two leaves a version without a query, which the next apply retires
  // again; the other order could leave a query running that no name leads to.
  if (queryId && engine.catalog.queries.has(queryId)) await run(engine, `TERMINATE ${queryId};`);
  await engine.recordDeployStep({ op: "retire", name, version, alias });
}

async function drop(engine: Engine, item: PlanItem): Promise<void> {
  const obj = object(engine, item.name);
  for (const v of obj.versions) if (engine.catalog.source(v.alias)) await retire(engine, item.name, v.version);
  const current = engine.catalog.source(item.name);
  if (current?.writtenBy && engine.catalog.queries.has(current.writtenBy))
    await run(engine, `TERMINATE ${current.writtenBy};`);
  await run(engine, `DROP ${item.objectType === "TABLE" ? "TABLE" : "STREAM"} ${quote(item.name)};`);
}

/** The compiled plan of the user's statement `text`, for the statement `rewritten` that deploys it. */
function planFor(
  plans: ReadonlyMap<string, TopologyPlan> | undefined,
  text: string,
  rewritten: string,
): ReadonlyMap<string, TopologyPlan> | undefined {
  const plan = plans?.get(normalizeStatement(text));
  return plan ? new Map([[normalizeStatement(rewritten), plan]]) : undefined;
}

async function run(engine: Engine, text: string, plans?: ReadonlyMap<string, TopologyPlan>): Promise<void> {
  const r = await engine.execute(text, plans ? { plans } : {});
  const e = r.diagnostics.find((d) => d.severity === "error");
  if (e) throw new DeployError(`${e.message}\n  in: ${text.trim().split("\n")[0]}`);
}

const quote = (name: string) => `\`${name.replace(/`/g, "``")}\``;

/** The topic the folder's statement names (KAFKA_TOPIC), else ksqlDB's default, the object's name. */
function sinkTopic(item: PlanItem): string {
  const st = parseScript(item.text!).statements[0]?.statement;
  const p = st?.kind === "CreateAsSelect" ? st.properties.find((x) => x.name === "KAFKA_TOPIC") : undefined;
  return p && typeof p.value.value === "string" ? p.value.value : item.name;
}

/** The user's CREATE ... AS SELECT with the version's name and topic (text edits at the parser's spans). */
export function versioned(text: string, alias: string, version: number, baseTopic: string): string {
  const st = parseScript(text).statements[0]?.statement;
  if (st?.kind !== "CreateAsSelect") throw new DeployError(`internal: not a CREATE ... AS SELECT: ${text}`);
  const topic = `'${`${baseTopic}__v${version}`.replace(/'/g, "''")}'`;
  const edits: { start: number; end: number; with: string }[] = [
    { start: st.name.span.start, end: st.name.span.end, with: quote(alias) },
  ];
  const p = st.properties.find((x) => x.name === "KAFKA_TOPIC");
  if (p) edits.push({ start: p.value.span.start, end: p.value.span.end, with: topic });
  else if (st.properties.length > 0)
    edits.push({
      start: st.properties[0]!.span.start,
      end: st.properties[0]!.span.start,
      with: `KAFKA_TOPIC = ${topic}, `,
    });
  else edits.push({ start: st.name.span.end, end: st.name.span.end, with: ` WITH (KAFKA_TOPIC = ${topic})` });
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.with + out.slice(e.end);
  return out;
}

/** The statement as CREATE OR REPLACE (same query id: it continues from its offsets). */
export function orReplace(text: string): string {
  const st = parseScript(text).statements[0]?.statement;
  if (st?.kind !== "CreateAsSelect" && st?.kind !== "CreateSource")
    throw new DeployError(`internal: not a CREATE STREAM/TABLE: ${text}`);
  if (st.orReplace) return text;
  const at = st.span.start + "CREATE".length;
  return `${text.slice(0, at)} OR REPLACE${text.slice(at)}`;
}
