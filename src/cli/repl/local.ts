/**
 * The REPL's backend on an engine in this process: the embedded log in a data folder, or Kafka.
 *
 * The engine validates and runs every statement (`Engine.execute`); this module adds what the engine
 * answers only with "ok": the listings of SHOW, the descriptions of DESCRIBE, the plans of EXPLAIN, and
 * PRINT. Persistent queries are drained after each statement, so a pull query right after an INSERT
 * sees its effect, and in the background while a push query or PRINT runs.
 */
import type { Describe, Print, Show } from "../../ast/nodes.ts";
import { functions as builtinFunctions } from "../../functions/registry.ts";
import type { FunctionDef } from "../../functions/types.ts";
import { formatLogicalPlan } from "../../logical/index.ts";
import { formatPhysicalPlan } from "../../physical/format.ts";
import { formatTopology } from "../../physical/topology-format.ts";
import { parseScript } from "../../parse.ts";
import type { CatalogSource } from "../../semantic/catalog.ts";
import { formatType } from "../../types/sqltype.ts";
import type { CompiledStatement } from "../../compile.ts";
import { Engine } from "../../../runtime/engine/engine.ts";
import { describeDrops } from "../../../runtime/query/drops.ts";
import type { EventLog, LogRecord } from "../../../runtime/log/types.ts";
import { withReplayProgress } from "../progress.ts";
import type { CompletionNames, Output, ReplBackend, RunningQuery } from "./backend.ts";

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
  static async open(dataDir: string, description: string, log?: EventLog): Promise<LocalBackend> {
    const engine = await Engine.open({ dataDir, ...(log ? { log } : {}) });
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
          outputs.push(...(await this.show(st)));
          break;
        case "Describe":
          outputs.push(...this.describe(st));
          break;
        case "Explain":
          outputs.push(...this.explain(st.queryId, result.compiled));
          break;
        default:
          outputs.push({ kind: "message", text: result.message });
      }
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
      functions: builtinFunctions.all().map((f) => f.name),
      topics: (await this.engine.log.listTopics()).filter((t) => !t.startsWith("_")),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.chain;
    await this.engine.close();
    await this.ownedLog?.close();
  }

  private async show(st: Show): Promise<Output[]> {
    const catalog = this.engine.catalog;
    switch (st.what) {
      case "STREAMS":
      case "TABLES": {
        const type = st.what === "STREAMS" ? "STREAM" : "TABLE";
        const list = [...catalog.sources.values()].filter((s) => s.sourceType === type);
        return [
          table(
            [`${type === "STREAM" ? "Stream" : "Table"} Name`, "Kafka Topic", "Key Format", "Value Format", "Windowed"],
            list.map((s) => [
              s.name,
              s.topic,
              s.keyFormat.format,
              s.valueFormat.format,
              s.window ? s.window.type : "false",
            ]),
          ),
        ];
      }
      case "QUERIES":
        return [
          table(
            ["Query ID", "Status", "Sink Name", "Query String"],
            [...catalog.queries.values()].map((q) => [
              q.id,
              this.engine.queries.has(q.id) ? "RUNNING" : "NOT RUNNING",
              q.sink ?? "",
              oneLine(q.sql),
            ]),
          ),
        ];
      case "TOPICS": {
        const rows: unknown[][] = [];
        for (const name of (await this.engine.log.listTopics()).sort()) {
          if (name.startsWith("_") && !st.extended) continue;
          const d = await this.engine.log.describeTopic(name);
          const partitions = d?.partitions ?? 0;
          rows.push([name, partitions, await recordCount(this.engine.log, name, partitions)]);
        }
        return [table(["Kafka Topic", "Partitions", "Records"], rows)];
      }
      case "FUNCTIONS":
        return [
          table(
            ["Function Name", "Category", "Type"],
            [...builtinFunctions.all()]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((f) => [f.name, f.category, f.kind.toUpperCase()]),
          ),
        ];
      case "PROPERTIES":
        return [
          table(
            ["Property", "Value"],
            Object.entries(this.engine.properties).sort(([a], [b]) => a.localeCompare(b)),
            "no properties set in this session (SET 'name' = 'value';)",
          ),
        ];
      case "VARIABLES":
        return [
          table(
            ["Variable Name", "Value"],
            [...this.engine.variables].sort(([a], [b]) => a.localeCompare(b)),
            "no variables defined (DEFINE name = 'value';)",
          ),
        ];
      case "TYPES":
        return [
          table(
            ["Type Name", "Schema"],
            [...catalog.types].map(([n, t]) => [n, formatType(t)]),
          ),
        ];
    }
  }

  private describe(st: Describe): Output[] {
    const t = st.target;
    switch (t.kind) {
      case "Source": {
        const s = this.engine.catalog.source(t.name.value);
        return s ? this.describeSource(s, st.extended) : [];
      }
      case "AllSources":
        return [...this.engine.catalog.sources.values()]
          .filter((s) => s.sourceType === t.sourceType)
          .flatMap((s) => this.describeSource(s, st.extended));
      case "Function": {
        const f = builtinFunctions.get(t.name.value);
        return f ? describeFunction(f) : [];
      }
    }
  }

  private describeSource(s: CatalogSource, extended: boolean): Output[] {
    const lines: [string, string][] = [
      ["Name", s.name],
      ["Type", s.sourceType],
      ["Kafka topic", `${s.topic}${s.partitions ? ` (partitions: ${s.partitions})` : ""}`],
      ["Key format", s.keyFormat.format],
      ["Value format", s.valueFormat.format],
      [
        "Timestamp field",
        s.timestamp
          ? `${s.timestamp.column}${s.timestamp.format ? ` (format '${s.timestamp.format}')` : ""}`
          : "Not set - using <ROWTIME>",
      ],
    ];
    if (s.window) lines.push(["Windowed", `${s.window.type}${s.window.sizeMs ? ` (${s.window.sizeMs} ms)` : ""}`]);
    const out: Output[] = [];
    const columns = table(
      ["Field", "Type"],
      s.columns.map((c) => [
        c.name,
        `${formatType(c.type)}${c.namespace === "KEY" ? (s.sourceType === "TABLE" ? " (primary key)" : " (key)") : c.namespace === "HEADER" ? ` (header${c.headerKey ? ` '${c.headerKey}'` : "s"})` : ""}`,
      ]),
    );
    if (!extended) {
      out.push({ kind: "text", text: keyValues(lines) }, columns);
      return out;
    }
    const writer = s.writtenBy;
    if (writer)
      lines.push(["Written by", `${writer} (${this.engine.queries.has(writer) ? "RUNNING" : "NOT RUNNING"})`]);
    const readers = this.engine.catalog.queriesReading(s.name).map((q) => q.id);
    lines.push(["Read by", readers.join(", ") || "no query"]);
    lines.push(["Statement", oneLine(s.sql)]);
    out.push({ kind: "text", text: keyValues(lines) }, columns);
    // Processing statistics of the query that writes the source, and its latest failed records.
    const q = writer ? this.engine.queries.get(writer) : undefined;
    if (q) {
      const m = { recordsOut: 0, errors: 0 };
      for (const task of q.tasks) {
        m.recordsOut += task.metrics.recordsOut;
        m.errors += task.metrics.errors;
      }
      const drops = this.engine.drops(q.id);
      const stats: [string, string][] = [
        ["Records in", String(this.engine.recordsIn(q.id))],
        ["Records dropped", describeDrops(drops) || "0"],
        ...[...drops.byOperator].map(([k, n]): [string, string] => [`  ${k.replace("/", ": ")}`, String(n)]),
        ["Records out", `${m.recordsOut} (since this session started)`],
        ["Processing errors", `${m.errors} (since this session started)`],
      ];
      out.push({ kind: "text", text: `Processing (${writer}):\n${keyValues(stats)}` });
      // Processing-log entries of this session: the first dropped records, the latest errors.
      const dropped = this.engine.droppedSamples.filter((e) => e.queryId === writer).slice(0, 5);
      const errors = this.engine.processingErrors.filter((e) => e.queryId === writer && !e.reason).slice(-5);
      for (const [title, entries] of [
        ["First dropped records (this session):", dropped],
        ["Latest processing errors:", errors],
      ] as const) {
        if (entries.length === 0) continue;
        out.push({ kind: "text", text: title });
        out.push(
          table(
            ["Topic", "Partition", "Offset", "Where", "Reason", "Message"],
            entries.map((e) => [e.topic, e.partition, e.offset, e.where, e.reason ?? "", e.message]),
          ),
        );
      }
    }
    return out;
  }

  private explain(queryId: string | undefined, compiled: CompiledStatement | undefined): Output[] {
    if (queryId !== undefined) {
      const q = this.engine.catalog.queries.get(queryId);
      if (!q) return [];
      const running = this.engine.queries.get(q.id);
      return [
        {
          kind: "text",
          text: keyValues([
            ["Query ID", q.id],
            ["Status", this.engine.queries.has(q.id) ? "RUNNING" : "NOT RUNNING"],
            ["Sources", q.sources.join(", ")],
            ["Sink", q.sink ?? ""],
            ["Statement", oneLine(q.sql)],
          ]),
        },
        ...(running
          ? [{ kind: "text" as const, text: `Topology (what runs)\n${indent(formatTopology(running.plan.topology))}` }]
          : []),
      ];
    }
    if (!compiled?.optimized || !compiled.physical)
      return [{ kind: "message", text: "the statement runs no query: nothing to explain" }];
    const what = compiled.topology
      ? `Topology (what runs)\n${indent(formatTopology(compiled.topology))}`
      : `Physical plan\n${indent(formatPhysicalPlan(compiled.physical))}`;
    return [{ kind: "text", text: `${what}\nLogical plan\n${indent(formatLogicalPlan(compiled.optimized))}` }];
  }
}

function describeFunction(f: FunctionDef): Output[] {
  return [
    {
      kind: "text",
      text: keyValues([
        ["Name", f.name],
        ["Type", f.kind.toUpperCase()],
        ["Category", f.category],
        ["Description", f.description],
      ]),
    },
    table(
      ["Signature"],
      f.signatures.map((s) => [s]),
    ),
  ];
}

function table(head: readonly string[], rows: readonly (readonly unknown[])[], empty?: string): Output {
  return { kind: "table", columns: head.map((name) => ({ name })), rows, ...(empty ? { empty } : {}) };
}

/** `Name   : value` lines with the colons aligned. */
function keyValues(pairs: readonly (readonly [string, string])[]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)} : ${v}`).join("\n");
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

async function recordCount(log: EventLog, topic: string, partitions: number): Promise<number> {
  let n = 0;
  for (let p = 0; p < partitions; p++) n += (await log.endOffset(topic, p)) - (await log.beginningOffset(topic, p));
  return n;
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
