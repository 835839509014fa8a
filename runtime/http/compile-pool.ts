/**
 * Parses request SQL off the event loop. The compiler's time is linear in its input, but a request of a
 * megabyte (a million parentheses, a literal of a million digits) still costs a second of lexing and parsing,
 * and the server's event loop must never stall that long: `/healthcheck`, running push queries and every
 * other request would wait. So the server parses long texts on worker threads (short ones, a few
 * milliseconds at most, inline: a worker's round trip costs more) and answers syntax errors, over-limit
 * statements and read-only refusals from the worker's result, exactly as it would from an inline parse.
 *
 * A job that runs longer than its time limit ends its worker (a new one takes its place) and fails with
 * {@link ParseTimeout}; a worker that dies (out of memory) fails its job with {@link ParseFailed}.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { parseScript, type ParseResult } from "../../src/parse.ts";
import { ERR, errorBody, HttpError } from "./protocol.ts";

/**
 * A parse, as `parseScript` answers it (syntax trees are plain data: they cross threads). From a worker asked
 * without trees, each statement's `statement` holds only its kind and span: use it only for those.
 */
export type ParsedSql = ParseResult;

/** A job sent to a worker (`compile-worker.ts`). */
export interface ParseJob {
  readonly id: number;
  readonly text: string;
  readonly variables: readonly (readonly [string, string])[];
  /** Whether the reply carries the statements' syntax trees (else each statement's kind and span only). */
  readonly trees: boolean;
}

/** A worker's answer to {@link ParseJob}. */
export type ParseReply = { readonly id: number; readonly error: string } | ({ readonly id: number } & ParsedSql);

/** What a worker posts once it has loaded the parser, before any reply. */
export const WORKER_READY = "ready";

/** The job ran longer than the pool's time limit. */
export class ParseTimeout extends Error {}
/** The worker failed (out of memory, or it could not start). */
export class ParseFailed extends Error {}

export interface CompilePoolOptions {
  /** Workers at most (default: the cores less one, 1 to 4). Started when first needed. */
  readonly size?: number;
  /** Texts up to this many characters are parsed inline (default 4096: a few milliseconds at worst). */
  readonly inlineLength?: number;
  /**
   * Longest a job may run (default 60 s), counted once its worker has loaded the parser (starting a worker is
   * not the text's cost: from the sources, through tsx on a busy machine, it can take many seconds).
   */
  readonly timeoutMs?: number;
  /** Heap (old generation) of each worker, in MB (default 1024). */
  readonly maxHeapMb?: number;
}

interface Pending {
  readonly job: ParseJob;
  readonly resolve: (r: ParsedSql) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** Whether the worker has loaded the parser (it says so once): a job's time limit runs from then. */
  ready: boolean;
  job?: Pending;
  timer?: NodeJS.Timeout;
}

/** The worker's module, and how to load it: the sources are TypeScript that tsx compiles on load. */
function workerScript(): { code: string; eval: true } | { url: URL } {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return { url: new URL("./compile-worker.js", self) };
  const tsx = import.meta.resolve("tsx/esm/api");
  const worker = new URL("./compile-worker.ts", self).href;
  return {
    eval: true,
    code: `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(worker)}); });`,
  };
}

export class CompilePool {
  private readonly size: number;
  private readonly inlineLength: number;
  private readonly timeoutMs: number;
  private readonly maxHeapMb: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: CompilePoolOptions = {}) {
    this.size = options.size ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    this.inlineLength = options.inlineLength ?? 4096;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxHeapMb = options.maxHeapMb ?? 1024;
  }

  /** Whether {@link parse} parses `text` on a worker (it is long), not inline. */
  offloads(text: string): boolean {
    return text.length > this.inlineLength && !this.closed;
  }

  /** Parses `text` as `parseScript` does, on a worker thread when it is long. */
  parse(text: string, variables: ReadonlyMap<string, string>, trees = false): Promise<ParsedSql> {
    if (!this.offloads(text)) return Promise.resolve(parseScript(text, { variables }));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, text, variables: [...variables], trees }, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends the workers; jobs still queued or running fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new ParseFailed("the server is closing"));
    await Promise.all(this.slots.splice(0).map((s) => this.end(s, new ParseFailed("the server is closing"))));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const p = this.queue.shift()!;
      slot.job = p;
      if (slot.ready) this.startClock(slot);
      slot.worker.postMessage(p.job);
    }
  }

  /** Starts the time limit of the slot's job. */
  private startClock(slot: Slot): void {
    slot.timer = setTimeout(() => {
      void this.end(slot, new ParseTimeout(`the SQL text took longer than ${this.timeoutMs} ms to parse`)).then(() =>
        this.dispatch(),
      );
    }, this.timeoutMs);
  }

  private spawn(): Slot {
    const script = workerScript();
    const resourceLimits = { maxOldGenerationSizeMb: this.maxHeapMb };
    const worker =
      "url" in script
        ? new Worker(script.url, { resourceLimits })
        : new Worker(script.code, { eval: true, resourceLimits });
    // The server's own handles keep the process alive; an idle worker must not.
    worker.unref();
    const slot: Slot = { worker, ready: false };
    this.slots.push(slot);
    worker.on("message", (reply: ParseReply | typeof WORKER_READY) => {
      if (reply === WORKER_READY) {
        slot.ready = true;
        if (slot.job) this.startClock(slot);
        return;
      }
      const p = slot.job;
      if (p === undefined || p.job.id !== reply.id) return;
      clearTimeout(slot.timer);
      slot.job = undefined;
      if ("error" in reply) p.reject(new ParseFailed(reply.error));
      else p.resolve({ statements: reply.statements, diagnostics: reply.diagnostics });
      this.dispatch();
    });
    const failed = (e: Error) => {
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      clearTimeout(slot.timer);
      slot.job?.reject(new ParseFailed(`the SQL text could not be parsed: ${e.message}`));
      slot.job = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on("error", failed);
    worker.on("exit", (code) => failed(new Error(`the parser's worker exited (${code})`)));
    return slot;
  }

  /** Ends a worker, failing its job with `reason`. */
  private async end(slot: Slot, reason: Error): Promise<void> {
    const at = this.slots.indexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
    clearTimeout(slot.timer);
    const p = slot.job;
    slot.job = undefined;
    p?.reject(reason);
    await slot.worker.terminate();
  }
}

/** Parses a request's SQL as the engine will (on a worker when it is long); a failed or timed-out parse is a 400. */
export async function parseRequestSql(
  pool: CompilePool,
  sql: string,
  variables: ReadonlyMap<string, string>,
  /** The syntax trees too (a route that hands the parse to the engine); receiving them costs the event loop. */
  trees = false,
): Promise<ParsedSql> {
  try {
    return await pool.parse(sql, variables, trees);
  } catch (e) {
    throw new HttpError(400, errorBody("generic_error", ERR.badRequest, (e as Error).message));
  }
}
