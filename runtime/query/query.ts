/**
 * A running persistent query: its stages, one task per stage and input partition, each with its own
 * LevelDB store under `<dataDir>/state/<queryId>/<stage>-<partition>`.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { EventLog } from "../log/types.ts";
import { Changelog, changelogTopic, type RestoreProgress } from "../state/changelog.ts";
import { PartitionStore } from "../state/store.ts";
import type { PlannedQuery } from "./plan.ts";
import { StageTask, type TaskEnv } from "./stage.ts";

export interface QueryEnv extends TaskEnv {
  readonly dataDir: string;
  /**
   * Keep a changelog topic per stage (see `state/changelog.ts`): each commit is copied there first, and a
   * task whose local store is missing or behind restores it from there before processing. Default false.
   */
  readonly changelogs?: boolean;
  /** Progress of changelog restores (one call per read, and one with `done` per restored task). */
  readonly onRestore?: (p: RestoreProgress) => void;
}

export class PersistentQuery {
  readonly tasks: StageTask[] = [];
  private closed = false;

  private constructor(
    readonly id: string,
    readonly plan: PlannedQuery,
    private readonly env: QueryEnv,
  ) {}

  /** Creates the internal topics, opens the stores and builds the tasks. */
  static async start(id: string, plan: PlannedQuery, env: QueryEnv): Promise<PersistentQuery> {
    const q = new PersistentQuery(id, plan, env);
    for (const t of plan.internalTopics) await env.log.createTopic(t.name, { partitions: t.partitions });
    for (const t of q.changelogTopics()) await env.log.createTopic(t.name, { partitions: t.partitions, config: { cleanupPolicy: "compact" } });
    try {
      for (const stage of plan.stages) {
        const partitions = plan.stagePartitions.get(stage.id) ?? 1;
        for (let p = 0; p < partitions; p++) {
          const store = await PartitionStore.open(stateDir(env.dataDir, id, stage.id, p));
          try {
            const changelog = env.changelogs ? new Changelog(env.log, changelogTopic(id, stage.id), p) : undefined;
            if (changelog) await changelog.restore(store, env.onRestore);
            q.tasks.push(new StageTask(stage, p, store, env, changelog));
          } catch (e) {
            await store.close();
            throw e;
          }
        }
      }
    } catch (e) {
      await q.close();
      throw e;
    }
    return q;
  }

  /**
   * Processes everything available now, stage by stage, until no task has input left. Resolves the
   * number of input records consumed.
   */
  async drain(batchSize = 20_000): Promise<number> {
    let total = 0;
    for (;;) {
      let round = 0;
      for (const task of this.tasks) {
        if (this.closed) return total;
        for (let n = await task.step(batchSize); n > 0; n = await task.step(batchSize)) round += n;
      }
      total += round;
      if (round === 0) return total;
    }
  }

  /** The changelog topics of the query's stages (none without `changelogs`). */
  changelogTopics(): { name: string; partitions: number }[] {
    if (!this.env.changelogs) return [];
    return this.plan.stages.map((s) => ({ name: changelogTopic(this.id, s.id), partitions: this.plan.stagePartitions.get(s.id) ?? 1 }));
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
  }

  /** Closes the query and deletes its state (TERMINATE / DROP). */
  async destroy(): Promise<void> {
    await this.close();
    rmSync(join(this.env.dataDir, "state", this.id), { recursive: true, force: true });
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
