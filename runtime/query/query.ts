/**
 * A running persistent query: its stages, one task per stage and input partition, each with its own
 * LevelDB store under `<dataDir>/state/<queryId>/<stage>-<partition>`.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Changelog, changelogTopic, isFenced, type RestoreProgress } from "../state/changelog.ts";
import { PartitionStore } from "../state/store.ts";
import type { PlannedQuery } from "./topology.ts";
import type { ProduceRecord } from "../log/types.ts";
import { mergeRecordsByTime, StageTask, taskTransactions, type TakenBatch, type TaskEnv } from "./stage.ts";

/** What a query needs from the engine; how it runs (`TaskEnv.execution`) comes from its plan. */
export interface QueryEnv extends Omit<TaskEnv, "execution"> {
  readonly dataDir: string;
  /**
   * Keep a changelog topic per stage (see `state/changelog.ts`): each commit is copied there first, and a
   * task whose local store is missing or behind restores it from there before processing. Default false.
   */
  readonly changelogs?: boolean;
  /** Progress of changelog restores (one call per read, and one with `done` per restored task). */
  readonly onRestore?: (p: RestoreProgress) => void;
  /**
   * Which partitions run here (several instances, `runtime/cluster`): `active` runs the task (after
   * claiming its changelog partition), `standby` keeps a warm copy of its stores by following the changelog,
   * `none` closes them. Default: every partition is active and nothing is claimed (one instance).
   */
  readonly roleOf?: (partition: number) => "active" | "standby" | "none";
  /** Something worth a log line (a task fenced, a takeover). */
  readonly onEvent?: (message: string) => void;
}

/** A standby copy of a task's stores, kept current from the changelog. */
interface Standby {
  readonly stageIndex: number;
  readonly partition: number;
  readonly store: PartitionStore;
  readonly changelog: Changelog;
}

export class PersistentQuery {
  readonly tasks: StageTask[] = [];
  readonly standbys: Standby[] = [];
  /** Changelog records read to bring stores up to date when this instance took tasks over. */
  restoredOnTakeover = 0;
  /** Tasks that took a partition over (this instance ran or had nothing of it before). */
  takeovers = 0;
  private closed = false;
  /** Reads in flight (pull queries, table snapshots) and the stores waiting for them to end before closing. */
  private readers = 0;
  private readonly retired = new Map<PartitionStore, () => Promise<void>>();

  private readonly env: QueryEnv & TaskEnv;

  private constructor(
    readonly id: string,
    readonly plan: PlannedQuery,
    env: QueryEnv,
  ) {
    this.env = { ...env, execution: plan.topology.execution };
  }

  /** Creates the internal topics, opens the stores and builds the tasks this instance runs. */
  static async start(id: string, plan: PlannedQuery, env: QueryEnv): Promise<PersistentQuery> {
    const q = new PersistentQuery(id, plan, env);
    for (const t of plan.internalTopics) await env.log.createTopic(t.name, { partitions: t.partitions });
    for (const t of q.changelogTopics())
      await env.log.createTopic(t.name, { partitions: t.partitions, config: { cleanupPolicy: "compact" } });
    try {
      await q.reassign();
    } catch (e) {
      await q.close();
      throw e;
    }
    return q;
  }

  /** The partition count of every stage's inputs, at most. */
  get partitions(): number {
    return Math.max(1, ...this.plan.stages.map((s) => this.plan.stagePartitions.get(s.id) ?? 1));
  }

  /**
   * Brings the tasks and standby copies in line with `env.roleOf`: stops tasks this instance no longer
   * owns, takes over newly owned ones (restoring and claiming their changelog partitions), and opens or
   * closes standby copies. Called between batches only. A takeover that another instance beat is skipped
   * (logged) and tried again at the next call.
   */
  async reassign(): Promise<void> {
    const roleOf = this.env.roleOf ?? (() => "active" as const);
    for (let si = 0; si < this.plan.stages.length; si++) {
      const stage = this.plan.stages[si]!;
      const partitions = this.plan.stagePartitions.get(stage.id) ?? 1;
      for (let p = 0; p < partitions; p++) {
        if (this.closed) return;
        const want = roleOf(p);
        const ti = this.tasks.findIndex((t) => t.stage === stage && t.partition === p);
        const sbi = this.standbys.findIndex((s) => s.stageIndex === si && s.partition === p);
        const have = ti >= 0 ? "active" : sbi >= 0 ? "standby" : "none";
        if (want === have) continue;
        let store: PartitionStore | undefined;
        let changelog: Changelog | undefined;
        if (have === "active") {
          const [task] = this.tasks.splice(ti, 1);
          // A lost task's store may still be read by a pull query; kept open as a standby copy, or closed after the readers.
          if (want === "standby") store = task!.stateStore;
          else await this.retire(task!.stateStore, () => task!.close());
        }
        if (have === "standby") {
          const [sb] = this.standbys.splice(sbi, 1);
          if (want === "none") await sb!.store.close();
          else ({ store, changelog } = sb!);
        }
        if (want === "none") continue;
        if (!store && this.retired.size > 0) {
          // Its store may be the one still open for readers: wait for them (the next call tries again).
          if (this.readers > 0) continue;
          await this.closeRetired();
        }
        store ??= await PartitionStore.open(stateDir(this.env.dataDir, this.env.topicId ?? this.id, stage.id, p));
        changelog ??= this.env.changelogs
          ? new Changelog(this.env.log, changelogTopic(this.env.topicId ?? this.id, stage.id), p)
          : undefined;
        if (want === "standby") {
          if (changelog) this.standbys.push({ stageIndex: si, partition: p, store, changelog });
          else await store.close();
          continue;
        }
        try {
          // Exactly-once: take the transactional id over first. That aborts a transaction the previous holder
          // left open (a crash), which would otherwise hide everything after it from read-committed reads,
          // this restore included, until the broker times it out.
          const tx = taskTransactions(this.env, stage.id, p);
          if (tx) await (await tx.log.beginTransaction(tx.id)).abort();
          if (changelog) {
            const read = this.env.roleOf
              ? await changelog.claim(store, this.env.onRestore)
              : await changelog.restore(store, this.env.onRestore);
            if (this.env.roleOf) {
              this.takeovers++;
              this.restoredOnTakeover += read;
              this.env.onEvent?.(
                `${this.id}: took over ${stage.id}-${p}${have === "standby" ? " from a standby copy" : ""}, ${read} changelog records read`,
              );
            }
          }
          const task = new StageTask(stage, p, store, this.env, changelog);
          await task.start();
          this.tasks.push(task);
        } catch (e) {
          await store.close();
          if (!isFenced(e)) throw e;
          this.env.onEvent?.(`${this.id}: not taking ${stage.id}-${p} over yet: ${(e as Error).message}`);
        }
      }
    }
  }

  /**
   * Runs `read` over the tasks' stores while no store it may touch gets closed: a store of a task this
   * instance lost meanwhile (`reassign`) stays open until the last reader is done. Pull queries run
   * concurrently with the processing loop, so their reads go through here.
   */
  async reading<T>(read: () => Promise<T>): Promise<T> {
    this.readers++;
    try {
      return await read();
    } finally {
      this.readers--;
      if (this.readers === 0 && this.retired.size > 0) await this.closeRetired();
    }
  }

  private async retire(store: PartitionStore, close: () => Promise<void>): Promise<void> {
    if (this.readers === 0) await close();
    else this.retired.set(store, close);
  }

  private async closeRetired(): Promise<void> {
    const closes = [...this.retired.values()];
    this.retired.clear();
    for (const c of closes) await c();
  }

  /** Brings the standby copies up to their changelogs' ends; resolves the records read. */
  async followStandbys(): Promise<number> {
    let read = 0;
    for (const sb of this.standbys) {
      if (this.closed) break;
      read += await sb.changelog.restore(sb.store);
    }
    return read;
  }

  /**
   * Processes everything available now until no task has input left. Resolves the number of input
   * records consumed.
   *
   * Each round runs the stages in order, and a stage's tasks advance together in event time: every task
   * reads ahead, the stage folds only rows up to the smallest frontier of its tasks' inputs (see
   * `StageTask.frontier`), and the tasks' outputs are appended merged by timestamp. So a topic written by
   * several tasks (a repartition topic, a sink read by another query) receives records in event-time order
   * when the inputs are, however many partitions there are and however far behind the query is: catching
   * up through a repartition does not make the next stage drop other partitions' records as late.
   * (Exactly-once tasks append in their own transactions, task by task, so there the order holds per round.)
   */
  async drain(batchSize = 20_000): Promise<number> {
    // One drain at a time: overlapping calls (a server's background drain, a deploy, a caller) would
    // otherwise read the same uncommitted positions and fold the same records twice.
    const run = this.draining.then(() => this.drainNow(batchSize));
    this.draining = run.catch(() => undefined);
    return run;
  }

  private draining: Promise<unknown> = Promise.resolve();

  private async drainNow(batchSize: number): Promise<number> {
    let total = 0;
    for (;;) {
      let round = 0;
      for (const stage of this.plan.stages) {
        if (this.closed) return total;
        const tasks = this.tasks.filter((t) => t.stage === stage);
        if (tasks.length > 0) round += await this.stepStage(tasks, batchSize);
      }
      total += round;
      if (round === 0) return total;
    }
  }

  /** One round of one stage's tasks (see `drain`); resolves the input records consumed. */
  private async stepStage(tasks: StageTask[], batchSize: number): Promise<number> {
    for (const t of tasks) await t.fill(batchSize);
    const horizon = Math.min(...tasks.map((t) => t.frontier()));
    const batches: { task: StageTask; batch: TakenBatch; produce: ProduceRecord[] }[] = [];
    for (const task of tasks) {
      const batch = task.take(horizon);
      if (batch) batches.push({ task, batch, produce: await task.process(batch) });
    }
    if (batches.length === 0) return 0;
    const together = !batches.some((b) => b.task.isTransactional);
    if (together) {
      const merged = mergeRecordsByTime(batches.map((b) => b.produce));
      if (merged.length > 0) await this.env.log.append(batches[0]!.task.outputTopic, merged);
    }
    let consumed = 0;
    for (const { task, batch, produce } of batches) {
      try {
        await task.commit(batch, together ? undefined : produce);
        consumed += batch.consumed;
      } catch (e) {
        if (!isFenced(e)) throw e;
        // Another instance owns this partition now; our last batch was not committed here.
        this.tasks.splice(this.tasks.indexOf(task), 1);
        await task.close();
        this.env.onEvent?.(`${this.id}: stopped ${task.stage.id}-${task.partition}: ${(e as Error).message}`);
      }
    }
    return consumed;
  }

  /** The changelog topics of the query's stages (none without `changelogs`). */
  changelogTopics(): { name: string; partitions: number }[] {
    if (!this.env.changelogs) return [];
    return this.plan.stages.map((s) => ({
      name: changelogTopic(this.env.topicId ?? this.id, s.id),
      partitions: this.plan.stagePartitions.get(s.id) ?? 1,
    }));
  }

  /** Input topics and the partitions this query reads (for waiting on new data). */
  inputs(): { topic: string; partitions: number[] }[] {
    const m = new Map<string, number[]>();
    for (const t of this.tasks) {
      for (const topic of t.inputTopics) {
        const list = m.get(topic) ?? [];
        list.push(t.partition);
        m.set(topic, list);
      }
    }
    return [...m].map(([topic, partitions]) => ({ topic, partitions }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tasks) await t.close();
    this.tasks.length = 0;
    for (const s of this.standbys) await s.store.close();
    this.standbys.length = 0;
    await this.closeRetired();
  }

  /** Closes the query and deletes its state (TERMINATE / DROP). */
  async destroy(): Promise<void> {
    await this.close();
    // Off the event loop: a store folder holds many files, and the server keeps answering meanwhile.
    await rm(join(this.env.dataDir, "state", this.env.topicId ?? this.id), { recursive: true, force: true });
    for (const t of [...this.plan.internalTopics, ...this.changelogTopics()]) {
      try {
        await this.env.log.deleteTopic(t.name);
      } catch {
        // already gone
      }
    }
  }
}

export function stateDir(dataDir: string, queryId: string, stage: string, partition: number): string {
  return join(dataDir, "state", queryId, `${stage}-${partition}`);
}
