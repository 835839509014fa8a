/**
 * Accounting of the records a task drops (late, NULL key, undecodable, ...): counters per operator and
 * reason that live in the task's store next to its offsets, and processing-log entries that stay bounded
 * when a whole batch is dropped.
 *
 * Counters move with the offsets: a drop is pending until a commit moves its input's offset past the dropped
 * record (a record dropped while decoding ahead of the fold waits for the commit that covers it), and joins
 * the totals once that commit (state, offsets and these counters, in one atomic write) succeeded. A record
 * read again after a crash therefore never counts twice, and a store restored from its changelog brings its
 * counters back with its offsets. Records in are counted the same way: the input offsets commits consume.
 */
import {
  DROP_REASONS,
  isErrorReason,
  type DropReason,
  type ProcessingError,
  type RecordRef,
  type TaskMetrics,
} from "../processors/types.ts";
import type { PartitionStore } from "../state/store.ts";

/** Entries written one by one per commit, operator and reason; the rest get one summary entry. */
export const DROPS_LOGGED_PER_BATCH = 20;

/** Store offset keys of the counters: `__dropped:<operator>:<reason>/<partition>`, and records in. */
const DROP_KEY = "__dropped:";
const RECORDS_IN_KEY = "__recordsin";

interface PendingDrop {
  readonly key: string;
  readonly topic: string;
  readonly offset: number;
}

interface Flood {
  readonly first: RecordRef;
  last: RecordRef;
  count: number;
  operation: string;
  message: () => string;
}

/** The text of a drop's `error` (an Error, a message, or a function giving it). */
function messageOf(error: unknown): string {
  if (typeof error === "function") return String((error as () => unknown)());
  return error instanceof Error ? error.message : String(error);
}

export class DropLedger {
  /** Committed totals by `operator/reason`. */
  private readonly committed = new Map<string, number>();
  /** Drops not committed yet, in the order they happened. */
  private pending: PendingDrop[] = [];
  /** Drops since the last commit by `operator/reason` (the first few of each are logged one by one). */
  private readonly logged = new Map<string, number>();
  private readonly floods = new Map<string, Flood>();
  /** What the commit in flight adds (see {@link endBatch}). */
  private committing: { readonly drops: Map<string, number>; readonly records: number } | undefined;

  constructor(
    private readonly queryId: string,
    private readonly partition: number,
    private readonly metrics: TaskMetrics,
    private readonly log: (e: ProcessingError) => void,
  ) {}

  /** Reads the counters a store holds (written by earlier commits, or restored from a changelog). */
  restore(store: PartitionStore): void {
    const suffix = `/${this.partition}`;
    for (const [k, v] of store.allOffsets()) {
      if (!k.startsWith(DROP_KEY) || !k.endsWith(suffix)) continue;
      const [operator, reason] = k.slice(DROP_KEY.length, -suffix.length).split(":");
      this.committed.set(`${operator}/${reason}`, v);
    }
    this.metrics.recordsIn = store.offset(RECORDS_IN_KEY, this.partition) ?? 0;
    this.show();
  }

  drop(operator: string, reason: DropReason, error: unknown, operation: string, at: RecordRef): void {
    const key = `${operator}/${reason}`;
    this.pending.push({ key, topic: at.topic, offset: at.offset });
    this.metrics.dropped.set(key, (this.metrics.dropped.get(key) ?? 0) + 1);
    if (isErrorReason(reason)) this.metrics.errors++;
    const n = (this.logged.get(key) ?? 0) + 1;
    this.logged.set(key, n);
    const origin = (at as { origin?: { partition: number; offset: number } }).origin;
    const message = () =>
      messageOf(error) +
      (origin
        ? ` (a re-keyed record: it came from partition ${origin.partition}, offset ${origin.offset} of the previous stage's input)`
        : "");
    if (n <= DROPS_LOGGED_PER_BATCH) {
      this.log({
        queryId: this.queryId,
        topic: at.topic,
        partition: at.partition,
        offset: at.offset,
        where: operation,
        message: message(),
        reason,
      });
      return;
    }
    const f = this.floods.get(key);
    const ref = { topic: at.topic, partition: at.partition, offset: at.offset };
    if (f) {
      f.count++;
      f.last = ref;
      f.message = message;
    } else this.floods.set(key, { first: ref, last: ref, count: 1, operation, message });
  }

  /**
   * Before a commit: writes one summary entry per flood (the drops beyond the first
   * {@link DROPS_LOGGED_PER_BATCH} since the last commit), and returns the counters to commit with the
   * offsets. `covered(topic, offset)`: whether the commit moves the offset of input `topic` past `offset`;
   * `records`: the input offsets the commit consumes.
   */
  endBatch(covered: (topic: string, offset: number) => boolean, records: number): Map<string, number> {
    for (const [key, f] of this.floods) {
      const reason = key.slice(key.indexOf("/") + 1) as DropReason;
      const span =
        f.first.topic === f.last.topic && f.first.partition === f.last.partition
          ? `${f.first.topic}[${f.first.partition}] offsets ${f.first.offset}..${f.last.offset}`
          : `from ${f.first.topic}[${f.first.partition}]@${f.first.offset} to ${f.last.topic}[${f.last.partition}]@${f.last.offset}`;
      this.log({
        queryId: this.queryId,
        ...f.first,
        where: f.operation,
        reason,
        more: f.count,
        message:
          `${f.count} more record(s) of this batch dropped (${reason}), ${span}; only the first ` +
          `${DROPS_LOGGED_PER_BATCH} per batch are logged one by one (the last: ${f.message()})`,
      });
    }
    this.floods.clear();
    this.logged.clear();
    const drops = new Map<string, number>();
    const rest: PendingDrop[] = [];
    for (const d of this.pending) {
      if (d.offset >= 0 && !covered(d.topic, d.offset)) rest.push(d);
      else drops.set(d.key, (drops.get(d.key) ?? 0) + 1);
    }
    this.pending = rest;
    this.committing = { drops, records };
    const out = new Map<string, number>();
    for (const [key, n] of drops) {
      const [operator, reason] = key.split("/");
      out.set(`${DROP_KEY}${operator}:${reason}/${this.partition}`, (this.committed.get(key) ?? 0) + n);
    }
    if (records > 0) out.set(`${RECORDS_IN_KEY}/${this.partition}`, this.metrics.recordsIn + records);
    return out;
  }

  /** The commit succeeded: what it covered is part of the totals now. */
  committedBatch(): void {
    const c = this.committing;
    if (!c) return;
    this.committing = undefined;
    for (const [key, n] of c.drops) this.committed.set(key, (this.committed.get(key) ?? 0) + n);
    this.metrics.recordsIn += c.records;
    this.show();
  }

  /** `metrics.dropped`: the committed totals plus the drops pending. */
  private show(): void {
    this.metrics.dropped.clear();
    for (const [k, v] of this.committed) this.metrics.dropped.set(k, v);
    for (const d of this.pending) this.metrics.dropped.set(d.key, (this.metrics.dropped.get(d.key) ?? 0) + 1);
  }
}

/** Drop counts of several tasks summed by reason (and by `operator/reason` in `byOperator`). */
export interface DropSummary {
  total: number;
  readonly byReason: Map<DropReason, number>;
  readonly byOperator: Map<string, number>;
}

export function summarizeDrops(metrics: Iterable<TaskMetrics>): DropSummary {
  const s: DropSummary = { total: 0, byReason: new Map(), byOperator: new Map() };
  for (const m of metrics) {
    for (const [key, n] of m.dropped) {
      if (n === 0) continue;
      const reason = key.slice(key.indexOf("/") + 1) as DropReason;
      s.total += n;
      s.byReason.set(reason, (s.byReason.get(reason) ?? 0) + n);
      s.byOperator.set(key, (s.byOperator.get(key) ?? 0) + n);
    }
  }
  return s;
}

/** "3 dropped (2 late, 1 null-key)", or "" when nothing was dropped. */
export function describeDrops(s: DropSummary): string {
  if (s.total === 0) return "";
  const parts = DROP_REASONS.filter((r) => s.byReason.has(r)).map((r) => `${s.byReason.get(r)!} ${r}`);
  return `${s.total} dropped (${parts.join(", ")})`;
}
