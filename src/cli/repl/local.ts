/**
 * The REPL's backend on an engine in this process: the embedded log in a data folder, or Kafka.
 *
 * The engine validates and runs every statement (`Engine.execute`); SHOW, DESCRIBE and EXPLAIN are answered
 * with the engine's entities (`runtime/engine/entities.ts`, what `POST /ksql` sends), rendered as the server
 * backend renders them; this module adds PRINT. Persistent queries are drained after each statement, so a pull query right after an INSERT
 * sees its effect, and in the background while a push query or PRINT runs.
 */
import type { Print } from "../../ast/nodes.ts";
import type { FunctionRegistry } from "../../functions/types.ts";
import { parseScript } from "../../parse.ts";
import { Engine } from "../../../runtime/engine/engine.ts";
import { describeEntity } from "../../../runtime/engine/entities.ts";
import type { EventLog, LogRecord } from "../../../runtime/log/types.ts";
import { withReplayProgress } from "../progress.ts";
import type { CompletionNames, Output, ReplBackend, RunningQuery } from "./backend.ts";
import { renderEntity } from "./entities.ts";
import { positionMessage } from "./backend.ts";

export class LocalBackend implements ReplBackend {
  /** One engine operation at a time: statements, queries' starts and the background drain. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Background drains wanted by running push queries / PRINTs. */
  private drainers = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly engine: Engine,
    readonly description: string,
    private readonly ownedLog: EventLog | undefined,
  ) {}

  /** Opens the engine on `dataDir` (the embedded log there, or `log` when given; the REPL then owns `log`). */
  static async open(
    dataDir: string,
    description: string,
    log?: EventLog,
    functions?: FunctionRegistry,
  ): Promise<LocalBackend> {
    const engine = await Engine.open({ dataDir, ...(log ? { log } : {}), ...(functions ? { functions } : {}) });
    const backend = new LocalBackend(engine, description, log);
    // Deployed queries catch up on what their topics hold before the first prompt.
    await backend.serial(() => engine.drain());
    return backend;
  }

  get variables(): ReadonlyMap<string, string> {
    return this.engine.variables;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const r = this.chain.then(f);
    this.chain = r.catch(() => undefined);
    return r;
  }

  /** Drains persistent queries every 100 ms while `f` runs (their output feeds push queries). */
  private async drainingWhile<T>(f: () => Promise<T>): Promise<T> {
    if (this.drainers++ === 0) {
      this.timer = setInterval(() => void this.serial(() => this.engine.drain()).catch(() => undefined), 100);
    }
    try {
      return await f();
    } finally {
      if (--this.drainers === 0) clearInterval(this.timer);
    }
  }

  async execute(text: string): Promise<Output[]> {
    const st = parseScript(text, { variables: this.engine.variables }).statements[0]?.statement;
    return this.serial(async () => {
      const r = await this.engine.execute(text);
      if (r.diagnostics.some((d) => d.severity === "error"))
        return [{ kind: "diagnostics", diagnostics: r.diagnostics }];
      const result = r.results[0];
      const outputs: Output[] = [];
      if (r.diagnostics.length > 0) outputs.push({ kind: "diagnostics", diagnostics: r.diagnostics });
      if (!st || !result || result.kind !== "ok") return outputs;
      switch (st.kind) {
        case "Show":
        case "Describe":
        case "Explain": {
          // The engine's answer, as the REST API sends it.
          const entity = result.compiled ? await describeEntity(this.engine, result.compiled, result.text) : undefined;
          if (entity) outputs.push(...renderEntity(entity));
          else if (st.kind === "Explain")
            outputs.push({ kind: "message", text: "the statement runs no query: nothing to explain" });
          break;
        }
        default:
          outputs.push({ kind: "message", text: result.message });
      }
      if (result.position) outputs.push({ kind: "message", text: positionMessage(result.position) });
      // A new query catching up on a long topic shows how far it is (on stderr, like esql run).
      await withReplayProgress(this.engine, "replaying", { stream: process.stderr }, () => this.engine.drain());
      return outputs;
    });
  }

  async query(text: string): Promise<{ ok: true; query: RunningQuery } | { ok: false; outputs: Output[] }> {
    const r = await this.serial(async () => {
      await this.engine.drain();
      return this.engine.subscribe(text);
    });
    if (!r.ok) return { ok: false, outputs: [{ kind: "diagnostics", diagnostics: r.diagnostics }] };
    const q = r.query;
    if (r.pull) return { ok: true, query: { columns: q.columns, pull: true, rows: q, close: () => q.close() } };
    // Rows of a push query come as upstream queries move: drain them until the query ends.
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    void this.drainingWhile(() => finished);
    const rows: AsyncIterator<unknown[]> = {
      next: async () => {
        const n = await q.next();
        if (n.done) finish();
        return n;
      },
    };
    return {
      ok: true,
      query: {
        columns: q.columns,
        pull: false,
        rows,
        close: async () => {
          finish();
          await q.close();
        },
      },
    };
  }

  async print(p: Print, signal: AbortSignal): Promise<AsyncIterable<string> | Output> {
    const log = this.engine.log;
    const topic = await log.describeTopic(p.topic);
    if (!topic) {
      const topics = (await log.listTopics()).filter((t) => !t.startsWith("_"));
      return {
        kind: "failure",
        message: `no topic '${p.topic}' (topic names are case-sensitive); topics: ${topics.join(", ") || "none"}`,
      };
    }
    // The generator below is a plain function: it reaches the session through this arrow.
    const drainingWhile = <T>(f: () => Promise<T>): Promise<T> => this.drainingWhile(f);
    return (async function* () {
      const positions: number[] = [];
      for (let i = 0; i < topic.partitions; i++)
        positions.push(p.fromBeginning ? await log.beginningOffset(p.topic, i) : await log.endOffset(p.topic, i));
      let printed = 0;
      // INTERVAL n: every n-th record.
      let seen = 0;
      const every = Math.max(1, p.interval ?? 1);
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      void drainingWhile(() => done);
      try {
        while (!signal.aborted) {
          let got = 0;
          for (let i = 0; i < topic.partitions; i++) {
            const batch = await log.read(p.topic, i, positions[i]!, 500);
            for (const r of batch) {
              positions[i] = r.offset + 1;
              got++;
              if (seen++ % every !== 0) continue;
              yield printLine(r, i);
              if (p.limit !== undefined && ++printed >= p.limit) return;
            }
          }
          if (got > 0) continue;
          // Nothing new: wait for records (or a moment, to notice Ctrl-C).
          const ac = new AbortController();
          const t = setTimeout(() => ac.abort(), 500);
          const onAbort = () => ac.abort();
          signal.addEventListener("abort", onAbort, { once: true });
          try {
            await log.waitForData(
              p.topic,
              positions.map((offset, partition) => ({ partition, offset })),
              ac.signal,
            );
          } catch {
            // the wait ends either way; the next read tells what is wrong
          } finally {
            clearTimeout(t);
            signal.removeEventListener("abort", onAbort);
          }
        }
      } finally {
        resolveDone();
      }
    })();
  }

  async names(): Promise<CompletionNames> {
    const sources = [...this.engine.catalog.sources.values()];
    return {
      sources: sources.map((s) => s.name),
      columns: new Map(sources.map((s) => [s.name, s.columns.map((c) => c.name)])),
      functions: this.engine.functions.all().map((f) => f.name),
      topics: (await this.engine.log.listTopics()).filter((t) => !t.startsWith("_")),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
    await this.engine.close();
    await this.ownedLog?.close();
  }
}

/** ksqlDB's PRINT line: `rowtime: ..., key: ..., value: ..., partition: n`. */
function printLine(r: LogRecord, partition: number): string {
  const time = new Date(r.timestamp).toISOString().replace("T", " ").replace("Z", " Z");
  return `rowtime: ${time}, key: ${bytesText(r.key)}, value: ${bytesText(r.value)}, partition: ${partition}`;
}

/** Bytes as text when they are printable UTF-8, else as hex; `<null>` for none. */
function bytesText(b: Uint8Array | null | undefined): string {
  if (b === null || b === undefined) return "<null>";
  const text = Buffer.from(b).toString("utf8");
  return /^[^\u0000-\u0008\u000e-\u001f\ufffd]*$/.test(text) ? text : `0x${Buffer.from(b).toString("hex")}`;
}
