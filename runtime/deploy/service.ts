/**
 * Deploying to a running service (`esql serve`): plan, apply in the background while the service keeps answering
 * queries, roll back, and report what runs. The REST routes (`runtime/http/routes/deploy.ts`) call this; the CLI's
 * `plan|apply|rollback|status --server` call those.
 *
 * - One deployment runs at a time (another apply gets {@link DeployConflict}); it is the in-process apply
 *   (`apply.ts`) with the server's {@link DeployRunner}: statements and steps under the server's exclusive lock,
 *   the versions replayed by the server's background loop while pull and push queries keep being answered.
 * - Progress of each version being built: records replayed of its source inputs (positions of its tasks from the
 *   topics' beginning offsets) against the records they hold now, the rate measured since the rebuild began and
 *   the time left at that rate.
 * - Crash safety: the steps are in the command topic. A service that restarts with a version still building (its
 *   `begin` recorded, no `switch`) replays it from its stored offsets and switches to it when it has caught up
 *   ({@link DeployService.resumeInterrupted}); the CLI waiting for it may die at any time without stopping it.
 * - Cost: `plan` counts the records each rebuild replays (its inputs' offsets now) and estimates the time from the
 *   service's measured rate (the last rebuild's, else its background processing rate).
 */
import type { Engine } from "../engine/engine.ts";
import type { EventLog } from "../log/types.ts";
import type { SourceFile } from "../../src/diagnostics/render.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import { applyPlan, DEFAULT_KEEP, DeployError, rollback, switchTo, type DeployRunner } from "./apply.ts";
import { PROCESSING_LOG_NAME, readLedger, versionAlias } from "./ledger.ts";
import { hasChanges, planFolder, type DeployPlan, type PlanItem } from "./plan.ts";

/** What a rebuild costs: the records its inputs hold, and the time at the service's measured rate. */
export interface RebuildCost {
  readonly events: number;
  /** Absent when the service has not measured a rate yet. */
  readonly seconds?: number;
}

export type CostedItem = Omit<PlanItem, "text"> & { readonly cost?: RebuildCost };

/** `POST /deploy/plan`'s answer (and the plan part of `POST /deploy/apply`'s). */
export interface PlanAnswer {
  readonly changes: boolean;
  readonly items: readonly CostedItem[];
  readonly errors: readonly { readonly file: string; readonly diagnostic: Diagnostic }[];
  readonly notes: readonly string[];
  /** Records per second the estimates use (absent: none measured yet). */
  readonly rate?: number;
}

export interface VersionProgress {
  readonly name: string;
  readonly version: number;
  readonly queryId?: string;
  /** Records of its source inputs folded so far. */
  readonly replayed: number;
  /** Records its source inputs hold now. */
  readonly total: number;
  /** Records per second since the rebuild began (or since this service started it again). */
  readonly rate: number;
  /** At that rate; absent while no rate is known. */
  readonly secondsLeft?: number;
  readonly switched: boolean;
}

export interface DeploymentStatus {
  readonly id: string;
  /** `apply`, or `resume`: a service that restarted finishing the versions an interrupted deployment was building. */
  readonly kind: "apply" | "resume";
  readonly state: "running" | "done" | "failed";
  readonly started: string;
  readonly finished?: string;
  /** The steps as they happened, one line each. */
  readonly log: readonly string[];
  /** What was done, one line per object (when done). */
  readonly done: readonly string[];
  /** Objects the folder no longer defines, left running (no `allowDrop`). */
  readonly keptRemoved: readonly string[];
  readonly error?: string;
  readonly versions: readonly VersionProgress[];
}

export interface ObjectStatus {
  readonly name: string;
  readonly type: "STREAM" | "TABLE";
  /** The version serving the name. */
  readonly serving: number;
  readonly topic: string;
  readonly versions: readonly {
    readonly version: number;
    readonly state: "serving" | "kept" | "building";
    readonly alias: string;
    readonly queryId?: string;
    readonly topic?: string;
  }[];
}

export interface ServiceStatus {
  /** The running deployment first, then the finished ones of this service's life, newest first. */
  readonly deployments: readonly DeploymentStatus[];
  readonly objects: readonly ObjectStatus[];
}

/** Another deployment is running: its id. */
export class DeployConflict extends Error {
  constructor(readonly running: string) {
    super(`deployment ${running} is running: wait for it (esql status) before applying again`);
  }
}

export interface ApplyRequest {
  readonly files: readonly SourceFile[];
  readonly keep?: number;
  readonly allowDrop?: boolean;
  /** Compiled plans by normalized statement text (`esql apply --plan`). */
  readonly plans?: ReadonlyMap<string, TopologyPlan>;
}

export interface ServiceRunner {
  /** Runs `f` with nothing else changing or draining the engine (the server's statement lock). */
  exclusive<T>(f: () => Promise<T>): Promise<T>;
  /** Whether a background loop drains the engine (else catching up drains under {@link exclusive}). */
  readonly draining: boolean;
  /** Records folded per second by the background loop, when measured. */
  processingRate(): number | undefined;
}

interface Tracked {
  readonly name: string;
  readonly version: number;
  readonly queryId: string | undefined;
  first?: { readonly at: number; readonly replayed: number };
  last?: { at: number; replayed: number; total: number };
  switched: boolean;
}

interface Job {
  readonly id: string;
  readonly kind: "apply" | "resume";
  state: "running" | "done" | "failed";
  readonly started: Date;
  finished?: Date;
  readonly log: string[];
  done: readonly string[];
  keptRemoved: readonly string[];
  error?: string;
  readonly versions: Tracked[];
  promise?: Promise<void>;
}

/** Finished deployments remembered for `status`. */
const HISTORY = 10;
/** How often catching up looks at the version's progress. */
const POLL_MS = 100;

export class DeployService {
  private readonly jobs: Job[] = [];
  private running: Job | undefined;
  private stopped = false;
  private sequence = 0;
  /** Records per second of the last finished rebuild. */
  private rebuildRate: number | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly runner: ServiceRunner,
  ) {}

  /** The plan of a folder against what this service runs, with each rebuild's cost. */
  async plan(files: readonly SourceFile[]): Promise<{ plan: DeployPlan; answer: PlanAnswer }> {
    const plan = planFolder(files, this.engine, { functions: this.engine.functions });
    const rate = this.rate();
    const items: CostedItem[] = [];
    for (const { text: _t, ...item } of plan.items) {
      const events =
        item.action === "rebuild" && item.inputTopics ? await recordsIn(this.engine.log, item.inputTopics) : undefined;
      items.push(
        events === undefined
          ? item
          : { ...item, cost: { events, ...(rate ? { seconds: Math.round((10 * events) / rate) / 10 } : {}) } },
      );
    }
    const answer: PlanAnswer = {
      changes: hasChanges(plan),
      items,
      errors: plan.errors.map((e) => ({ file: e.file.path, diagnostic: e.diagnostic })),
      notes: plan.notes,
      ...(rate ? { rate: Math.round(rate) } : {}),
    };
    return { plan, answer };
  }

  /**
   * Plans and, without errors, starts applying in the background: resolves the plan and the deployment's
   * id at once (no id: errors, or nothing to do). Throws {@link DeployConflict} while another one runs.
   */
  async apply(request: ApplyRequest): Promise<{ answer: PlanAnswer; deployment?: string }> {
    if (this.running) throw new DeployConflict(this.running.id);
    const { plan, answer } = await this.plan(request.files);
    if (plan.errors.length > 0) return { answer };
    if (this.running) throw new DeployConflict((this.running as Job).id);
    const job = this.start("apply", async (j) => {
      const result = await applyPlan(this.engine, plan, {
        keep: request.keep ?? DEFAULT_KEEP,
        allowDrop: request.allowDrop === true,
        ...(request.plans ? { plans: request.plans } : {}),
        onProgress: (line) => j.log.push(line),
        runner: this.deployRunner(j),
      });
      j.done = result.done;
      j.keptRemoved = result.keptRemoved;
    });
    return { answer, deployment: job.id };
  }

  /** Switches `name` back to its previous kept version at once (a kept version runs: no replay). */
  async rollback(name: string): Promise<number> {
    if (this.running) throw new DeployConflict(this.running.id);
    return rollback(this.engine, name, () => {}, this.deployRunner(undefined));
  }

  /**
   * Finishes the versions an interrupted deployment was building (the service was stopped or killed before
   * their switch): each catches up from its stored offsets, then its name switches to it. Resolves the
   * deployment's id, or undefined when nothing was being built.
   */
  resumeInterrupted(): string | undefined {
    const building = [...readLedger(this.engine.catalog, this.engine.deploySteps).values()].flatMap((o) =>
      o.versions.filter((v) => v.state === "building").map((v) => ({ name: o.name, version: v.version })),
    );
    if (building.length === 0 || this.running) return undefined;
    const job = this.start("resume", async (j) => {
      const runner = this.deployRunner(j);
      for (const b of building) {
        const begin = this.engine.deploySteps.findLast(
          (s) => s.op === "begin" && s.name === b.name && s.version === b.version,
        );
        const keep = begin?.op === "begin" && begin.keep !== undefined ? begin.keep : DEFAULT_KEEP;
        j.log.push(`${b.name}: finishing version ${b.version} (the service restarted during its rebuild)`);
        runner.onVersion!(b.name, b.version, this.engine.catalog.source(versionAlias(b.name, b.version))?.writtenBy);
        await switchTo(this.engine, b.name, b.version, keep, (line) => j.log.push(line), runner);
      }
      j.done = building.map((b) => `${b.name}: rebuilt as version ${b.version}`);
    });
    return job.id;
  }

  async status(): Promise<ServiceStatus> {
    const deployments: DeploymentStatus[] = [];
    for (const j of [...this.jobs].reverse()) deployments.push(await this.describe(j));
    const objects: ObjectStatus[] = [];
    for (const o of readLedger(this.engine.catalog, this.engine.deploySteps).values()) {
      if (o.name === PROCESSING_LOG_NAME) continue;
      objects.push({
        name: o.name,
        type: o.sourceType,
        serving: o.current,
        topic: this.engine.catalog.source(o.name)?.topic ?? "",
        versions: o.versions.map((v) => {
          // Version 1 has no alias of its own before its first switch away: the name is it.
          const topic = (this.engine.catalog.source(v.alias) ?? this.engine.catalog.source(o.name))?.topic;
          return {
            version: v.version,
            state: v.state,
            alias: v.alias,
            ...(v.queryId ? { queryId: v.queryId } : {}),
            ...(topic ? { topic } : {}),
          };
        }),
      });
    }
    return { deployments, objects };
  }

  /** One deployment's status, or undefined when this service knows no such id. */
  async deployment(id: string): Promise<DeploymentStatus | undefined> {
    const j = this.jobs.find((x) => x.id === id);
    return j ? this.describe(j) : undefined;
  }

  /** Stops following the running deployment (the server is stopping); its recorded steps stay. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.running?.promise?.catch(() => undefined);
  }

  private rate(): number | undefined {
    return this.rebuildRate ?? this.runner.processingRate();
  }

  private start(kind: Job["kind"], work: (j: Job) => Promise<void>): Job {
    const job: Job = {
      id: `${kind}-${Date.now().toString(36)}-${++this.sequence}`,
      kind,
      state: "running",
      started: new Date(),
      log: [],
      done: [],
      keptRemoved: [],
      versions: [],
    };
    this.running = job;
    this.jobs.push(job);
    if (this.jobs.length > HISTORY) this.jobs.shift();
    job.promise = work(job).then(
      () => {
        job.state = "done";
      },
      (e: unknown) => {
        job.state = "failed";
        job.error = e instanceof DeployError ? e.message : `internal: ${(e as Error)?.message ?? String(e)}`;
      },
    );
    void job.promise.finally(() => {
      job.finished = new Date();
      if (this.running === job) this.running = undefined;
    });
    return job;
  }

  private deployRunner(job: Job | undefined): DeployRunner {
    return {
      exclusive: (f) => this.runner.exclusive(f),
      catchUp: async (queryId) => {
        const tracked = job?.versions.find((v) => v.queryId === queryId);
        for (;;) {
          if (this.stopped)
            throw new DeployError("the service is stopping: it finishes the rebuild when it starts again");
          if (!queryId || !this.engine.queries.has(queryId)) return;
          const p = await sourceProgress(this.engine, queryId);
          if (tracked) this.sample(tracked, p);
          if (p.replayed >= p.total) return;
          if (!this.runner.draining) await this.runner.exclusive(() => this.engine.drain());
          else await new Promise((r) => setTimeout(r, POLL_MS));
        }
      },
      onVersion: (name, version, queryId) => {
        job?.versions.push({ name, version, queryId, switched: false });
      },
      onSwitched: (name, version) => {
        const t = job?.versions.find((v) => v.name === name && v.version === version);
        if (!t) return;
        t.switched = true;
        if (t.first && t.last && t.last.at > t.first.at && t.last.replayed > t.first.replayed)
          this.rebuildRate = ((t.last.replayed - t.first.replayed) * 1000) / (t.last.at - t.first.at);
      },
    };
  }

  private sample(t: Tracked, p: { replayed: number; total: number }): void {
    const now = Date.now();
    t.first ??= { at: now, replayed: p.replayed };
    t.last = { at: now, replayed: p.replayed, total: p.total };
  }

  private async describe(j: Job): Promise<DeploymentStatus> {
    const versions: VersionProgress[] = [];
    for (const t of j.versions) {
      let p = t.last ? { replayed: t.last.replayed, total: t.last.total } : { replayed: 0, total: 0 };
      if (!t.switched && t.queryId && this.engine.queries.has(t.queryId)) {
        p = await sourceProgress(this.engine, t.queryId).catch(() => p);
        this.sample(t, p);
      }
      const rate =
        t.first && t.last && t.last.at > t.first.at
          ? ((t.last.replayed - t.first.replayed) * 1000) / (t.last.at - t.first.at)
          : 0;
      const left = Math.max(0, p.total - p.replayed);
      versions.push({
        name: t.name,
        version: t.version,
        ...(t.queryId ? { queryId: t.queryId } : {}),
        replayed: p.replayed,
        total: p.total,
        rate: Math.round(rate),
        ...(t.switched ? { secondsLeft: 0 } : rate > 0 ? { secondsLeft: Math.round((10 * left) / rate) / 10 } : {}),
        switched: t.switched,
      });
    }
    return {
      id: j.id,
      kind: j.kind,
      state: j.state,
      started: j.started.toISOString(),
      ...(j.finished ? { finished: j.finished.toISOString() } : {}),
      log: [...j.log],
      done: [...j.done],
      keptRemoved: [...j.keptRemoved],
      ...(j.error !== undefined ? { error: j.error } : {}),
      versions,
    };
  }
}

/**
 * How far query `queryId` is through its source inputs on this instance: records folded since each partition's
 * beginning offset, and the records the partitions hold now.
 */
export async function sourceProgress(engine: Engine, queryId: string): Promise<{ replayed: number; total: number }> {
  const q = engine.queries.get(queryId);
  let replayed = 0;
  let total = 0;
  for (const t of q?.tasks ?? []) {
    for (let i = 0; i < t.stage.inputs.length; i++) {
      if (t.stage.inputs[i]!.kind !== "source") continue;
      const topic = t.inputTopics[i]!;
      const begin = await engine.log.beginningOffset(topic, t.partition);
      const end = await engine.log.endOffset(topic, t.partition);
      const at = await t.currentPosition(i);
      replayed += Math.max(0, Math.min(at, end) - begin);
      total += Math.max(0, end - begin);
    }
  }
  return { replayed, total };
}

/** The records `topics` hold now (end minus beginning offset, every partition): what a replay from the earliest reads. */
export async function recordsIn(log: EventLog, topics: readonly string[]): Promise<number> {
  let n = 0;
  for (const topic of new Set(topics)) {
    const partitions = (await log.describeTopic(topic))?.partitions ?? 0;
    for (let p = 0; p < partitions; p++)
      n += Math.max(0, (await log.endOffset(topic, p)) - (await log.beginningOffset(topic, p)));
  }
  return n;
}
