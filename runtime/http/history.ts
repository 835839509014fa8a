/**
 * The recent history of each persistent query for the web console: records read, errors, drops and the lag of
 * each input partition, sampled every few seconds over the last minutes (in memory, this server only). The
 * console charts it; `/metrics` has the same counters for a Prometheus that keeps history itself.
 */
import type { Engine } from "../engine/engine.ts";

/** How long a sample's lag reads may take (a broker call each on Kafka) before they count as unknown. */
const LAG_DEADLINE_MS = 1_000;

/** One sample of one query. */
export interface QuerySample {
  /** Epoch ms. */
  readonly t: number;
  /** Records read from its inputs (streams and tables it reads, not its internal topics). */
  readonly recordsIn: number;
  /** Records that failed to decode or evaluate, this session. */
  readonly errors: number;
  /** Records dropped by reason (late, null-key, undecodable, ...); kept across restarts. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Records not processed yet, by input `topic/partition` (absent: unknown at that moment). */
  readonly lag: Readonly<Record<string, number>>;
}

export class QueryHistory {
  private readonly samples = new Map<string, QuerySample[]>();
  private readonly timer: NodeJS.Timeout;
  private sampling = false;

  constructor(
    private readonly engine: Engine,
    /** Time between samples (ms). */
    readonly intervalMs = 5_000,
    /** How many samples are kept per query (default: ten minutes' worth). */
    private readonly keep = Math.ceil(600_000 / intervalMs),
  ) {
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
    void this.sample();
  }

  /** The samples of query `id`, oldest first. */
  of(id: string): readonly QuerySample[] {
    return this.samples.get(id) ?? [];
  }

  /** Takes a sample of every running query now (one at a time: a slow broker does not pile them up). */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const t = Date.now();
      const reads: Promise<void>[] = [];
      const taken = new Map<string, QuerySample>();
      for (const [id, q] of this.engine.queries) {
        let errors = 0;
        const lag: Record<string, number> = {};
        for (const task of q.tasks) {
          errors += task.metrics.errors;
          if (!task.stage.inputs.some((i) => i.kind === "source")) continue;
          task.inputTopics.forEach((topic, i) =>
            reads.push(
              (async () => {
                const behind =
                  (await this.engine.log.endOffset(topic, task.partition)) - (await task.currentPosition(i));
                lag[`${topic}/${task.partition}`] = Math.max(0, behind);
              })().catch(() => {
                // a topic that is gone (or a broker away) has no lag to show in this sample
              }),
            ),
          );
        }
        const dropped: Record<string, number> = {};
        for (const [reason, n] of this.engine.drops(id).byReason) dropped[reason] = n;
        taken.set(id, { t, recordsIn: this.engine.recordsIn(id), errors, dropped, lag });
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(reads),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, LAG_DEADLINE_MS))),
      ]).finally(() => clearTimeout(timer));
      for (const id of this.samples.keys()) if (!taken.has(id)) this.samples.delete(id);
      for (const [id, s] of taken) {
        const list = this.samples.get(id) ?? [];
        list.push({ ...s, lag: { ...s.lag } });
        if (list.length > this.keep) list.splice(0, list.length - this.keep);
        this.samples.set(id, list);
      }
    } finally {
      this.sampling = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** Records per second between the last two samples (0 with fewer than two). */
export function rateOf(samples: readonly QuerySample[]): number {
  const a = samples[samples.length - 2];
  const b = samples[samples.length - 1];
  if (!a || !b || b.t <= a.t) return 0;
  return Math.max(0, ((b.recordsIn - a.recordsIn) * 1000) / (b.t - a.t));
}
