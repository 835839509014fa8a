/**
 * The engine: executes statements against a catalog, runs persistent queries on an event log, and keeps
 * what it deployed in a command topic so a restarted engine resumes the same queries.
 *
 * Statement lifecycle: each statement of a script is compiled against the current catalog; when it has
 * no errors its effect is applied (topics created, queries started, rows inserted, queries terminated)
 * and only then does the catalog move on and the statement get recorded in the command topic `_esql_commands`.
 * On open, the recorded statements are compiled again in order, which rebuilds the catalog, and the
 * queries are started from their recorded plans, from the offsets their stores hold.
 *
 * Its parts: the command log (`command-log.ts`), carrying out a statement and starting queries
 * (`statements.ts`), the processing log (`processing-log.ts`), cluster alignment (`cluster-sync.ts`),
 * table snapshots (`snapshot.ts`), pull and push queries (`queries.ts`).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Catalog, compileParsed, UnsupportedQueryError, type CompiledStatement } from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { error as diagError } from "../../src/diagnostics/diagnostic.ts";
import { functions as builtinFunctions } from "../../src/functions/registry.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { functionChanges, loadFunctions, usedUserFunctions } from "./functions.ts";
import { parseScript, type ParseResult } from "../../src/parse.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import { EmbeddedLog } from "../log/embedded.ts";
import { supportsGroups, type EventLog } from "../log/types.ts";
import { ClusterMember, type ClusterOptions } from "../cluster/member.ts";
import type { ProcessingError } from "../processors/types.ts";
import type { DropSummary } from "../query/drops.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import { PlanVersionError } from "../query/topology.ts";
import type { PersistentQuery } from "../query/query.ts";
import type { RestoreProgress } from "../state/changelog.ts";
import type { PullResult } from "./pull.ts";
import {
  closeSubscriptions,
  pullQuery,
  pullSql,
  subscribeSql,
  type PullOutcome,
  type QueryEngineEnv,
  type SubscribeOutcome,
  type SubscribeOptions,
} from "./queries.ts";
import type { DeployStep } from "../deploy/steps.ts";
import { applyStep as applyDeployStep } from "../deploy/steps.ts";
import {
  CommandLog,
  commandTopicOf,
  isRecorded,
  isStatement,
  normalizeStatement,
  type RecordedStatement,
} from "./command-log.ts";
import {
  dropsOf,
  processingSummaryOf,
  migrateProcessingLog,
  PROCESSING_LOG_DDL,
  PROCESSING_LOG_STREAM,
  PROCESSING_LOG_TOPIC,
  ProcessingLog,
  recordsInOf,
} from "./processing-log.ts";
import { appendRows, applyStatement, type StatementHost, type StatementPlan } from "./statements.ts";
import { CONSISTENCY_TIMEOUT, CONSISTENCY_TOKEN } from "./consistency.ts";
import { ClusterSync, heldSlots } from "./cluster-sync.ts";
import { tableSnapshot, type TableSnapshot } from "./snapshot.ts";

export { normalizeStatement } from "./command-log.ts";
export { PROCESSING_ERROR_SAMPLES, PROCESSING_LOG_STREAM, PROCESSING_LOG_TOPIC } from "./processing-log.ts";
export type { TableSnapshot } from "./snapshot.ts";

export interface EngineOptions {
  /** Folder for state stores (and for the embedded log when `log` is not given). */
  readonly dataDir: string;
  /** The event log; default: the embedded log in `<dataDir>/log`. */
  readonly log?: EventLog;
  /** Session properties (`auto.offset.reset`, `ksql.*`). */
  readonly properties?: Record<string, string>;
  /**
   * The functions statements may call: a registry, or user-function modules to add to the built-ins (a
   * file or folder, or several; see `runtime/engine/functions.ts`). Default: the built-ins.
   */
  readonly functions?: FunctionRegistry | string | readonly string[];
  /** Record deployed statements and resume them on open (default true). */
  readonly persistent?: boolean;
  /** Define the stream KSQL_PROCESSING_LOG over the processing log topic (default true). */
  readonly processingLogStream?: boolean;
  /**
   * Copy every query's state to compacted changelog topics and restore missing or stale stores from them
   * (see `runtime/state/changelog.ts`). Default: on for a log other than the embedded one (on the embedded
   * log, state and log share one disk: a changelog would only double the writes).
   */
  readonly changelogs?: boolean;
  /** Progress of changelog restores when queries start. */
  readonly onRestore?: (p: RestoreProgress) => void;
  /**
   * Run as one of several instances sharing a deployment (needs a log with groups: Kafka). Instances with
   * the same service id follow one command topic and split the queries' partitions between them (see
   * `runtime/cluster`); `Engine.open` resolves once this instance has its first assignment.
   */
  readonly cluster?: ClusterOptions;
  /** Log lines about the cluster (takeovers, fencing); default: none. */
  readonly onClusterEvent?: (message: string) => void;
}

export type StatementResult =
  | { readonly kind: "error"; readonly text: string; readonly diagnostics: readonly Diagnostic[] }
  | {
      readonly kind: "ok";
      readonly text: string;
      readonly message: string;
      readonly compiled?: CompiledStatement;
      /** A pull query's result (bare SELECT). */
      readonly rows?: PullResult;
      /** The statement's offset in the command topic, when it changed state and was recorded there. */
      readonly commandOffset?: number;
      /** INSERT ... VALUES: the position token of the row written (see `consistency.ts`: read your writes). */
      readonly position?: string;
    };

export interface ExecuteResult {
  readonly results: StatementResult[];
  /** Diagnostics with spans in the executed text (syntax errors and each failed statement's). */
  readonly diagnostics: Diagnostic[];
}

export interface ExecuteOptions {
  /**
   * Plans compiled beforehand (`esql compile`), by statement text (see {@link normalizeStatement}): a
   * statement found here runs this plan instead of one planned now, so what runs is what was tested.
   */
  readonly plans?: ReadonlyMap<string, TopologyPlan>;
  /**
   * The script already parsed by `parseScript` with the engine's variables (the server parses long texts on a
   * worker thread): the engine analyzes these statements instead of parsing the text again.
   */
  readonly parsed?: ParseResult;
}

export class Engine {
  catalog: Catalog = Catalog.empty();
  readonly queries = new Map<string, PersistentQuery>();
  readonly properties: Record<string, string>;
  readonly variables = new Map<string, string>();
  /**
   * Things to tell whoever opened the engine, found while resuming: e.g. a deployed query whose user
   * functions' code changed since it was deployed (the CLI prints them).
   */
  readonly warnings: string[] = [];
  /** The built-in and user functions this engine's statements may call (SHOW FUNCTIONS lists them). */
  readonly functions: FunctionRegistry;
  /** Where deployed statements are recorded (one per service id). */
  readonly commandTopic: string;
  /** This instance's membership when it runs as one of several (`options.cluster`). */
  readonly member: ClusterMember | undefined;
  /** The deploy steps recorded in the command topic, in order (replayed on open); `runtime/deploy/ledger.ts` reads them. */
  readonly deploySteps: DeployStep[] = [];

  private readonly commands: CommandLog;
  private readonly processing = new ProcessingLog();
  private readonly cluster: ClusterSync | undefined;
  private readonly onClusterEvent: ((message: string) => void) | undefined;
  private readonly changelogs: boolean;
  private readonly onRestore: ((p: RestoreProgress) => void) | undefined;
  /** Column names of each query's output rows (its projection), by query id: how `table()` reads them. */
  private readonly outputColumns = new Map<string, readonly string[]>();
  /** Whether executed statements are appended to the command topic. */
  private recording = true;
  /** While replaying the command topic: the plan recorded with the statement being executed. */
  private replayPlan: TopologyPlan | undefined;
  /** While executing with `ExecuteOptions.plans`: the compiled plan of the statement being executed. */
  private compiledPlan: TopologyPlan | undefined;

  private constructor(
    readonly log: EventLog,
    readonly dataDir: string,
    private readonly ownsLog: boolean,
    options: EngineOptions,
  ) {
    this.properties = { ...(options.properties ?? {}) };
    this.functions = (options.functions as FunctionRegistry | undefined) ?? builtinFunctions;
    this.changelogs = options.changelogs ?? !(log instanceof EmbeddedLog);
    this.onRestore = options.onRestore;
    this.onClusterEvent = options.onClusterEvent;
    this.commandTopic = commandTopicOf(options.cluster?.serviceId);
    this.commands = new CommandLog(log, this.commandTopic);
    if (options.cluster) {
      if (!supportsGroups(log)) throw new Error("running as a cluster needs a log with consumer groups (Kafka)");
      if (!this.changelogs)
        throw new Error("running as a cluster needs changelogs (partitions move between instances)");
      this.member = new ClusterMember(log, options.cluster, dataDir, () => heldSlots(this.queries, this.member));
      this.cluster = new ClusterSync(this.member, this.queries, this.onClusterEvent);
    }
  }

  /**
   * The latest records that could not be decoded or evaluated since this engine opened (at most
   * {@link PROCESSING_ERROR_SAMPLES}; drops for an error reason included; late and NULL-key drops are not errors:
   * see {@link drops} and {@link droppedSamples}). All of them are in the processing log; their number is
   * {@link processingErrorCount}.
   */
  get processingErrors(): readonly ProcessingError[] {
    return this.processing.errors;
  }

  /** How many records could not be decoded or evaluated since this engine opened (a flood summary counts for its records). */
  get processingErrorCount(): number {
    return this.processing.errorCount;
  }

  /** The first processing-log entries of dropped records since this engine opened (at most {@link PROCESSING_ERROR_SAMPLES}). */
  get droppedSamples(): readonly ProcessingError[] {
    return this.processing.dropped;
  }

  static async open(options: EngineOptions): Promise<Engine> {
    if (typeof options.functions === "string" || Array.isArray(options.functions)) {
      const paths = typeof options.functions === "string" ? [options.functions] : (options.functions as string[]);
      options = { ...options, functions: await loadFunctions(paths) };
    }
    mkdirSync(options.dataDir, { recursive: true });
    const log = options.log ?? (await EmbeddedLog.open(join(options.dataDir, "log")));
    const engine = new Engine(log, options.dataDir, options.log === undefined, options);
    await log.createTopic(PROCESSING_LOG_TOPIC, { partitions: 1 });
    await migrateProcessingLog(log);
    if (options.persistent ?? true) await engine.resume();
    else engine.recording = false;
    if (options.processingLogStream ?? true) await engine.defineProcessingLog();
    if (engine.member) {
      try {
        await engine.member.join();
        await engine.syncCluster();
      } catch (e) {
        await engine.close();
        throw e;
      }
    }
    return engine;
  }

  /**
   * The processing log as a stream (ksqlDB's name), so failed records can be queried like any other events:
   * `SELECT * FROM KSQL_PROCESSING_LOG EMIT CHANGES;`. Defined on every open, never recorded.
   */
  private async defineProcessingLog(): Promise<void> {
    if (this.catalog.source(PROCESSING_LOG_STREAM)) return;
    const recording = this.recording;
    this.recording = false;
    try {
      const r = await this.execute(PROCESSING_LOG_DDL);
      if (r.diagnostics.length > 0) throw new Error(`internal: processing log stream: ${r.diagnostics[0]!.message}`);
    } finally {
      this.recording = recording;
    }
  }

  /** Replays the command topic: rebuilds the catalog and restarts the queries it deployed. */
  private async resume(): Promise<void> {
    await this.commands.open();
    await this.followCommands(true);
    this.resumed = true;
  }

  /**
   * Applies what the command topic holds after the position read so far (statements and deploy steps, in their
   * recorded order) except what this engine appended itself. On open that is everything; with several
   * instances, it is how a statement deployed through one instance reaches the others.
   */
  private async followCommands(resuming = false): Promise<void> {
    const commands = await this.commands.readNew();
    if (commands.length === 0) return;
    const recording = this.recording;
    this.recording = false;
    try {
      for (const entry of commands) {
        if (!isStatement(entry)) await this.recordDeployStep(entry);
        else await this.replayStatement(entry, resuming);
      }
    } finally {
      this.recording = recording;
    }
  }

  /** Executes a statement of the command topic with the properties and the plan recorded with it. */
  private async replayStatement(entry: RecordedStatement, resuming: boolean): Promise<void> {
    const t = entry.statement;
    if (entry.functions) {
      const changes = functionChanges(entry.functions, this.functions);
      if (changes.length > 0) {
        const missing = changes.find((c) => c.endsWith("is not loaded"));
        const message = `the query of ${normalizeStatement(t).slice(0, 80)}: ${changes.join("; ")}`;
        if (missing) throw new Error(`cannot resume ${message} (load its functions: --functions or functions/)`);
        // It runs with the new code; what it folded before ran with the old one.
        this.warnings.push(
          `${message}: rows folded before the change came from the old code (rebuild it to fold the history again)`,
        );
      }
    }
    const run = () => {
      this.replayPlan = entry.plan;
      return this.execute(t).finally(() => (this.replayPlan = undefined));
    };
    const r = entry.properties ? await this.withProperties(entry.properties, run) : await run();
    if (r.diagnostics.length > 0) {
      const message = `cannot ${resuming ? "resume" : "apply"} statement: ${t}\n${r.diagnostics[0]!.message}`;
      if (resuming) throw new Error(message);
      this.onClusterEvent?.(message);
    }
  }

  /**
   * Runs `f` with `properties` over the session's (as the statement being replayed ran: a query keeps the
   * properties it was created with, e.g. `auto.offset.reset` or `processing.guarantee`), then restores them.
   */
  private async withProperties<T>(properties: Readonly<Record<string, string>>, f: () => Promise<T>): Promise<T> {
    const saved = { ...this.properties };
    Object.assign(this.properties, properties);
    try {
      return await f();
    } finally {
      for (const k of Object.keys(this.properties)) if (!(k in saved)) delete this.properties[k];
      Object.assign(this.properties, saved);
    }
  }

  /**
   * With several instances: applies statements other instances deployed, then aligns the queries' tasks
   * with the latest membership map (takeovers restore and claim; lost partitions stop). Between batches.
   */
  private async syncCluster(): Promise<void> {
    if (!this.cluster) return this.followAlone();
    await this.followCommands();
    await this.cluster.align();
  }

  /**
   * A single instance on a shared log (Kafka) follows its command topic too, at most once a second: a switch or
   * rollback another process records (`esql apply|rollback --brokers`) serves here at once, not after a restart.
   * The embedded log belongs to this process alone: nothing else appends there.
   */
  private async followAlone(): Promise<void> {
    if (!this.resumed || this.log instanceof EmbeddedLog || Date.now() - this.followedAt < 1000) return;
    this.followedAt = Date.now();
    await this.followCommands();
  }

  private followedAt = 0;
  /** Whether the command topic was replayed on open (a persistent engine), so following it continues from there. */
  private resumed = false;

  /**
   * Records a deploy step (runtime/deploy: esql apply / rollback) in the command topic, then applies it to the
   * catalog in one assignment, so a pull query sees the catalog before or after it, never between.
   */
  async recordDeployStep(step: DeployStep): Promise<void> {
    const next = applyDeployStep(this.catalog, step);
    if (this.recording) await this.commands.appendStep(step);
    this.catalog = next;
    this.deploySteps.push(step);
  }

  /**
   * Executes a script. Statements run in order; one that fails is reported and skipped, the rest still run
   * (as a ksqlDB CLI running a script with errors does not: here each statement stands on its own).
   */
  async execute(text: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    // With several instances, statements compile against what every instance has deployed.
    if (this.member && this.recording) await this.followCommands();
    const parsed = options.parsed ?? parseScript(text, { variables: this.variables });
    const results: StatementResult[] = [];
    const diagnostics: Diagnostic[] = [...parsed.diagnostics];
    for (const p of parsed.statements) {
      const st = p.statement;
      // Each statement with its own plan, if one was given (and only that statement).
      if (options.plans) this.compiledPlan = options.plans.get(normalizeStatement(p.text));
      switch (st.kind) {
        case "Define":
          this.variables.set(st.name, st.value);
          results.push({ kind: "ok", text: p.text, message: `Defined ${st.name}` });
          continue;
        case "Undefine":
          this.variables.delete(st.name);
          results.push({ kind: "ok", text: p.text, message: `Undefined ${st.name}` });
          continue;
        case "SetProperty":
          this.properties[st.name] = st.value;
          results.push({ kind: "ok", text: p.text, message: `Property ${st.name} set to ${st.value}` });
          continue;
        case "UnsetProperty":
          delete this.properties[st.name];
          results.push({ kind: "ok", text: p.text, message: `Property ${st.name} unset` });
          continue;
        default:
          break;
      }
      // The statement as parsed above (not its text again: a long one would be parsed twice on the event loop).
      const compiled = compileParsed(
        { statements: [p], diagnostics: [] },
        {
          catalog: this.catalog,
          properties: { ...this.properties },
          functions: this.functions,
        },
      );
      const c = compiled.statements[0];
      const errs = compiled.diagnostics.filter((d) => d.severity === "error");
      if (!c || errs.length > 0) {
        diagnostics.push(...compiled.diagnostics);
        results.push({ kind: "error", text: p.text, diagnostics: compiled.diagnostics });
        continue;
      }
      if (c.analyzed?.kind === "Query") {
        // Bare SELECTs: pull queries answer here; push queries stream through subscribe().
        const q = c.analyzed.query;
        const r = q.pull
          ? await pullQuery(this.queryEnv(), q, st.span)
          : {
              columns: [],
              rows: [],
              diagnostics: [
                diagError(
                  "RUN003",
                  "a push query (EMIT CHANGES) streams its rows: run it with subscribe() or POST /query",
                  st.span,
                ),
              ],
            };
        diagnostics.push(...r.diagnostics);
        results.push(
          r.diagnostics.length > 0
            ? { kind: "error", text: p.text, diagnostics: [...r.diagnostics] }
            : { kind: "ok", text: p.text, message: `${r.rows.length} rows`, compiled: c, rows: r },
        );
        continue;
      }
      try {
        const plan: StatementPlan | undefined = this.compiledPlan
          ? { plan: this.compiledPlan, from: "compiled" }
          : this.replayPlan && { plan: this.replayPlan, from: "recorded" };
        this.replayPlan = this.compiledPlan = undefined;
        const { message, topology, position } = await applyStatement(this.statementHost(), c, compiled.catalog, plan);
        this.catalog = compiled.catalog;
        let commandOffset: number | undefined;
        if (this.recording && isRecorded(c)) {
          commandOffset = await this.commands.appendStatement({
            statement: p.text,
            properties: this.properties,
            ...(topology ? { plan: topology, functions: usedUserFunctions(topology, this.functions) } : {}),
          });
        }
        results.push({
          kind: "ok",
          text: p.text,
          message,
          compiled: c,
          ...(commandOffset !== undefined ? { commandOffset } : {}),
          ...(position !== undefined ? { position } : {}),
        });
      } catch (e) {
        const code =
          e instanceof UnsupportedQueryError ? "RUN001" : e instanceof PlanVersionError ? "RUN011" : "RUN002";
        const d = diagError(code, (e as Error).message, st.span);
        diagnostics.push(d);
        results.push({ kind: "error", text: p.text, diagnostics: [d] });
      }
    }
    if (options.plans) this.compiledPlan = undefined;
    return { results, diagnostics };
  }

  private statementHost(): StatementHost {
    return {
      log: this.log,
      dataDir: this.dataDir,
      functions: this.functions,
      properties: this.properties,
      catalog: this.catalog,
      queries: this.queries,
      outputColumns: this.outputColumns,
      changelogs: this.changelogs,
      onRestore: this.onRestore,
      member: this.member,
      onClusterEvent: this.onClusterEvent,
      onError: (e) => this.processing.record(e),
    };
  }

  /**
   * Writes rows (runtime values by column name; `ROWTIME` sets the record's timestamp, missing columns are
   * NULL) to a source's topic in its formats, in one append: `POST /inserts-stream`. Throws when a value
   * cannot be serialized. Resolves the position token of the rows written (read your writes: `consistency.ts`).
   */
  appendRows(target: CatalogSource, rows: readonly ReadonlyMap<string, unknown>[]): Promise<string> {
    return appendRows(this.log, target, rows);
  }

  /**
   * The records query `queryId` dropped (late, NULL key, undecodable, ...), by reason and by operator, as
   * counted by its tasks on this instance. The counts live in the tasks' stores: they survive restarts.
   */
  drops(queryId: string): DropSummary {
    return dropsOf(this.queries.get(queryId));
  }

  /**
   * Records read from the query's inputs (its stages that read streams or tables, not its internal
   * topics), counted like {@link drops}.
   */
  recordsIn(queryId: string): number {
    return recordsInOf(this.queries.get(queryId));
  }

  /** One line on what query `queryId` read and dropped: "12 records in, 1 dropped (1 late)". */
  processingSummary(queryId: string): string {
    return processingSummaryOf(this.queries.get(queryId));
  }

  /** Runs every query until none has input left; flushes processing errors to the processing log. */
  async drain(): Promise<number> {
    // One drain at a time (see PersistentQuery.drain): overlapping calls wait for the one running.
    const run = this.draining.then(() => this.drainNow());
    this.draining = run.catch(() => undefined);
    return run;
  }

  private draining: Promise<unknown> = Promise.resolve();

  private async drainNow(): Promise<number> {
    let total = 0;
    for (;;) {
      let round = 0;
      await this.syncCluster();
      for (const q of this.queries.values()) round += await q.drain();
      for (const q of this.queries.values()) await q.followStandbys();
      total += round;
      await this.processing.flush(this.log);
      if (round === 0) return total;
    }
  }

  /**
   * The current rows of a table a query materializes (CTAS), read from the query's stores. Windowed
   * tables have one row per key and window, with the window bounds as `WINDOWSTART`/`WINDOWEND`.
   */
  table(name: string): Promise<TableSnapshot> {
    return tableSnapshot(this.catalog, this.queries, (id) => this.outputColumns.get(id), this.functions, name);
  }

  /**
   * Runs a pull query (`SELECT` without EMIT CHANGES) on the current state; errors come as diagnostics. With
   * `consistencyToken` (from a write), it first waits up to `timeoutMs` until the table has folded that write.
   */
  pull(sql: string, options: { consistencyToken?: string; timeoutMs?: number } = {}): Promise<PullOutcome> {
    return pullSql(this.queryEnv(), sql, {
      ...(options.consistencyToken !== undefined ? { [CONSISTENCY_TOKEN]: options.consistencyToken } : {}),
      ...(options.timeoutMs !== undefined ? { [CONSISTENCY_TIMEOUT]: String(options.timeoutMs) } : {}),
    });
  }

  /**
   * Starts a push query (`SELECT ... EMIT CHANGES`) as a transient query; its rows arrive through the
   * returned async iterator, which frees the query when returned or closed. `properties` (e.g.
   * `auto.offset.reset`) override the session's for this query. Persistent queries feeding it move only
   * as `drain()` (or a runner) runs them.
   */
  subscribe(
    sql: string,
    properties: Readonly<Record<string, string>> = {},
    options: SubscribeOptions = {},
  ): Promise<SubscribeOutcome> {
    return subscribeSql(this.queryEnv(), sql, properties, options);
  }

  private queryEnv(): QueryEngineEnv {
    const cluster = this.cluster;
    return {
      log: this.log,
      catalog: this.catalog,
      functions: this.functions,
      properties: this.properties,
      variables: this.variables,
      onError: (e) => this.processing.record(e),
      queries: this.queries,
      outputColumns: (id) => this.outputColumns.get(id),
      drain: () => this.drain(),
      ...(cluster
        ? { remote: { peers: (queryId: string, only?: readonly number[]) => cluster.peersOf(queryId, only) } }
        : {}),
    };
  }

  async close(): Promise<void> {
    // Leave first: the others take this instance's partitions over once its last commits are written.
    await this.member?.leave().catch(() => undefined);
    await closeSubscriptions(this.log);
    await this.processing.flush(this.log);
    for (const q of this.queries.values()) await q.close();
    this.queries.clear();
    if (this.ownsLog) await this.log.close();
  }
}
