/**
 * Transient queries: a SELECT run with the same stages as a persistent query (its plan, a `TransientSelect`
 * from `planTransient` in `src/compile.ts`), but its last stage hands its rows to memory instead of a sink topic. Its stores live in a temporary folder that is removed when
 * the query closes, and it is never recorded in the command topic.
 *
 * Push queries (`SELECT ... EMIT CHANGES`) are transient queries read as an async iterator; pull queries
 * on streams are transient queries drained once up to the topics' current end.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { QueryColumn, TransientSelect } from "../../src/plan/select.ts";
import type { EventLog } from "../log/types.ts";
import type { StageOutput } from "../processors/sink.ts";
import type { ProcessingError, Row } from "../processors/types.ts";
import { instantiate } from "../query/topology.ts";
import { PersistentQuery } from "../query/query.ts";

export type { QueryColumn } from "../../src/plan/select.ts";

/** What a transient query needs from the engine. */
export interface TransientEnv {
  readonly log: EventLog;
  readonly functions: FunctionRegistry;
  readonly onError: (e: ProcessingError) => void;
  /** Called once a push query has freed its resources. */
  readonly onClose?: (q: PushQuery) => void;
}

/** Rows of push queries that stand for a deleted key (a table's tombstone). */
const tombstones = new WeakSet<unknown[]>();

/** Whether a row a push query yielded is a tombstone: the key was deleted (non-key columns are null). */
export function isTombstone(row: unknown[]): boolean {
  return tombstones.has(row);
}

/** Hands the last stage's rows to a callback; produces no records. */
class CollectOutput implements StageOutput {
  constructor(
    readonly topic: string,
    private readonly onRows: (rows: readonly Row[]) => void,
  ) {}
  init(): void {}
  toRecords(rows: readonly Row[]) {
    this.onRows(rows);
    return [];
  }
}

/**
 * A running transient query. `drain()` processes what its inputs hold now and returns the rows produced
 * (tombstones of table results are left out: a push query shows the new rows).
 */
export class TransientQuery {
  private buffer: unknown[][] = [];
  private constructor(
    readonly id: string,
    private readonly query: PersistentQuery,
    private readonly dir: string,
    /** Which result columns a tombstone keeps: key columns and window bounds. */
    private readonly keeps: readonly boolean[],
  ) {}

  static async start(env: TransientEnv, select: TransientSelect): Promise<TransientQuery> {
    const id = select.topology.queryId;
    const plan = instantiate(select.topology);
    const out = select.topology.stages[select.topology.stages.length - 1]!.output;
    const sinkTopic = out.kind === "Sink" ? out.sink.topic : out.topic;
    let self: TransientQuery | undefined;
    const last = plan.stages.length - 1;
    const collecting = {
      ...plan,
      stages: plan.stages.map((s, i) =>
        i === last ? { ...s, output: () => new CollectOutput(sinkTopic, (rows) => self?.take(rows)) } : s,
      ),
    };
    const dir = await mkdtemp(join(tmpdir(), "esql-transient-"));
    try {
      const query = await PersistentQuery.start(id, collecting, {
        queryId: id,
        log: env.log,
        dataDir: dir,
        functions: env.functions,
        onError: env.onError,
      });
      self = new TransientQuery(id, query, dir, select.keeps);
      // Fix the start positions now, so "latest" means the end when the query was issued.
      for (const t of query.tasks) for (let i = 0; i < t.inputTopics.length; i++) await t.currentPosition(i);
      return self;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private take(rows: readonly Row[]): void {
    for (const r of rows) {
      if (!r.tombstone) this.buffer.push(r.values);
      else {
        // A deleted key: its key columns and window bounds, nothing else (as ksqlDB shows a tombstone).
        const row = r.values.map((v, i) => (this.keeps[i] ? (v ?? null) : null));
        tombstones.add(row);
        this.buffer.push(row);
      }
    }
  }

  /** Processes everything available now; returns the rows produced since the last call. */
  async drain(): Promise<unknown[][]> {
    await this.query.drain();
    const out = this.buffer;
    this.buffer = [];
    return out;
  }

  /** Resolves when an input may have new records, after `timeoutMs`, or when `signal` aborts. */
  async waitForInput(log: EventLog, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const waits = this.query.tasks
        .filter((t) => t.stage.id === "0")
        .flatMap((t) =>
          t.inputTopics.map(async (topic, i) =>
            log.waitForData(topic, [{ partition: t.partition, offset: await t.currentPosition(i) }], ac.signal),
          ),
        );
      await Promise.race([...waits, new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }))]);
    } catch {
      // a wait that fails (topic deleted) just ends the wait; the next drain reports what is wrong
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  /** Stops the query, deletes its internal topics and its temporary stores. */
  async close(): Promise<void> {
    try {
      await this.query.destroy();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** A push query's rows as an async iterator; `return()` or `close()` stops the query and frees it. */
export interface PushQuery extends AsyncIterableIterator<unknown[]> {
  readonly id: string;
  readonly columns: readonly QueryColumn[];
  close(): Promise<void>;
}

/**
 * Runs `select` as a push query. Rows come as the inputs change; the iterator ends after `limit` rows or
 * when closed. `pollMs` bounds how long it waits between looks at its inputs.
 */
export async function startPush(env: TransientEnv, select: TransientSelect, pollMs = 200): Promise<PushQuery> {
  const tq = await TransientQuery.start(env, select);
  const limit = select.limit;
  const ac = new AbortController();
  const pending: unknown[][] = [];
  let emitted = 0;
  let closed: Promise<void> | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  /** Frees the query; only from inside `next` or once no `next` runs. */
  const shutdown = () => (closed ??= tq.close().finally(() => env.onClose?.(it)));
  const close = async () => {
    ac.abort();
    await busy;
    await shutdown();
  };
  const done = (): IteratorResult<unknown[]> => ({ done: true, value: undefined });
  const next = async (): Promise<IteratorResult<unknown[]>> => {
    for (;;) {
      if (closed) return done();
      if (limit !== undefined && emitted >= limit) {
        await shutdown();
        return done();
      }
      const row = pending.shift();
      if (row) {
        emitted++;
        // The last row LIMIT allows frees the query at once, even if nobody asks for more.
        if (limit !== undefined && emitted >= limit) await shutdown();
        return { done: false, value: row };
      }
      if (ac.signal.aborted) {
        await shutdown();
        return done();
      }
      const rows = await tq.drain();
      pending.push(...rows);
      if (rows.length === 0) await tq.waitForInput(env.log, pollMs, ac.signal);
    }
  };
  const it: PushQuery = {
    id: tq.id,
    columns: select.resultColumns,
    // Calls are serialized: a task must never run two batches at once.
    next: () => {
      const r = busy.then(next);
      busy = r.catch(() => undefined);
      return r;
    },
    return: async () => {
      await close();
      return done();
    },
    close,
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}

/** Runs `select` over what its inputs hold now (from the beginning) and returns the rows, at most `limit`. */
export async function runToEnd(env: TransientEnv, select: TransientSelect, limit = select.limit): Promise<unknown[][]> {
  const tq = await TransientQuery.start(env, select);
  try {
    const rows = await tq.drain();
    return limit === undefined ? rows : rows.slice(0, limit);
  } finally {
    await tq.close();
  }
}
