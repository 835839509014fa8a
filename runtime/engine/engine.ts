/**
 * The engine: executes statements against a catalog, runs persistent queries on an event log, and keeps
 * what it deployed in a command topic so a restarted engine resumes the same queries.
 *
 * Statement lifecycle: each statement of a script is compiled against the current catalog; when it has
 * no errors its effect is applied (topics created, queries started, rows inserted, queries terminated)
 * and only then does the catalog move on and the statement get recorded in the command topic `_esql_commands`.
 * On open, the recorded statements are compiled again in order, which rebuilds the catalog, and the
 * queries are started from the offsets their stores hold.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  buildTopology,
  Catalog,
  compileScript,
  UnsupportedQueryError,
  type CompiledStatement,
} from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { error as diagError, relocateDiagnostic } from "../../src/diagnostics/diagnostic.ts";
import { functions as builtinFunctions } from "../../src/functions/registry.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { functionChanges, loadFunctions, usedUserFunctions, type UsedFunction } from "./functions.ts";
import { parseScript } from "../../src/parse.ts";
import { BIGINT, type SqlType } from "../../src/types/sqltype.ts";
import { decodeKey } from "../state/keycodec.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import type { TExpr } from "../../src/plan/expr.ts";
import { compileExpr } from "../expr/compile.ts";
import { EmbeddedLog } from "../log/embedded.ts";
import { supportsGroups, type EventLog, type ProduceRecord, type TopicConfig } from "../log/types.ts";
import { ClusterMember, type ClusterOptions } from "../cluster/member.ts";
import { TABLE_STORE } from "../processors/sink.ts";
import { isErrorReason, type ProcessingError } from "../processors/types.ts";
import { describeDrops, summarizeDrops, type DropSummary } from "../query/drops.ts";
import { executionSettings, migrateTopology, type TopologyPlan } from "../../src/plan/topology.ts";
import { instantiate, PlanVersionError } from "../query/topology.ts";
import { PersistentQuery } from "../query/query.ts";
import type { RestoreProgress } from "../state/changelog.ts";
import { safeName } from "../state/names.ts";
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
import { sourceSerdes } from "../serde/formats.ts";
import { applyStep as applyDeployStep, decodeStep, encodeStep, type DeployStep } from "../deploy/steps.ts";

/** The command topic of a single instance; instances sharing a service id use `_esql-<serviceId>-commands`. */
export const COMMAND_TOPIC = "_esql_commands";
export const PROCESSING_LOG_TOPIC = "esql_processing_log";
/** Header of a command-topic statement record: the session properties (JSON) it ran with. */
const PROPERTIES_HEADER = "esql-properties";
/** Header of a command-topic statement that started a query: its topology plan (JSON), run as recorded on replay. */
const PLAN_HEADER = "esql-plan";
/** Header of a command-topic statement whose plan calls user functions: their names and module hashes (JSON). */
const FUNCTIONS_HEADER = "esql-functions";
export const PROCESSING_LOG_STREAM = "KSQL_PROCESSING_LOG";

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
}

/** A statement's text with its whitespace runs collapsed and the trailing `;` removed: how plans are matched. */
export function normalizeStatement(text: string): string {
  return text.replace(/\s+/g, " ").trim().replace(/;$/, "").trim();
}

export interface TableSnapshot {
  readonly name: string;
  /** Key columns, then `WINDOWSTART`, `WINDOWEND` when windowed, then value columns. */
  readonly columns: readonly string[];
  /** The SQL type of each column, index for index (window bounds are BIGINT ms). */
  readonly types: readonly SqlType[];
  /** Values in the runtime representation (see `sqltype.ts`), in the order of `columns`. */
  readonly rows: unknown[][];
  readonly windowed: boolean;
}

/** How many processing errors and dropped records an engine keeps in memory as samples (the log has them all). */
export const PROCESSING_ERROR_SAMPLES = 100;

export class Engine {
  catalog: Catalog = Catalog.empty();
  readonly queries = new Map<string, PersistentQuery>();
  readonly properties: Record<string, string>;
  readonly variables = new Map<string, string>();
  /**
   * The latest records that could not be decoded or evaluated since this engine opened (at most
   * {@link PROCESSING_ERROR_SAMPLES}; drops for an error reason included; late and NULL-key drops are not errors:
   * see {@link drops} and {@link droppedSamples}). All of them are in the processing log; their number is
   * {@link processingErrorCount}.
   */
  readonly processingErrors: ProcessingError[] = [];
  /** How many records could not be decoded or evaluated since this engine opened (a flood summary counts for its records). */
  processingErrorCount = 0;
  /**
   * Things to tell whoever opened the engine, found while resuming: e.g. a deployed query whose user
   * functions' code changed since it was deployed (the CLI prints them).
   */
  readonly warnings: string[] = [];
  /** The first processing-log entries of dropped records since this engine opened (at most {@link PROCESSING_ERROR_SAMPLES}). */
  readonly droppedSamples: ProcessingError[] = [];
  /** The built-in and user functions this engine's statements may call (SHOW FUNCTIONS lists them). */
  readonly functions: FunctionRegistry;
  private pendingErrors: ProcessingError[] = [];
  /** Column names of each query's output rows (its projection), by query id: how `table()` reads them. */
  private readonly outputColumns = new Map<string, readonly string[]>();

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
    this.commandTopic = options.cluster ? `_esql-${options.cluster.serviceId}-commands` : COMMAND_TOPIC;
    if (options.cluster) {
      if (!supportsGroups(log)) throw new Error("running as a cluster needs a log with consumer groups (Kafka)");
      if (!this.changelogs)
        throw new Error("running as a cluster needs changelogs (partitions move between instances)");
      this.member = new ClusterMember(log, options.cluster, dataDir, () => this.held());
    }
  }

  /** Where deployed statements are recorded (one per service id). */
  readonly commandTopic: string;
  /** This instance's membership when it runs as one of several (`options.cluster`). */
  readonly member: ClusterMember | undefined;
  private readonly onClusterEvent: ((message: string) => void) | undefined;
  /** The next command-topic offset to apply, and the offsets this engine appended itself. */
  private commandPosition = 0;
  private readonly ownCommands = new Set<number>();
  private rejoining: Promise<void> | undefined;

  private readonly changelogs: boolean;
  private readonly onRestore: ((p: RestoreProgress) => void) | undefined;

  static async open(options: EngineOptions): Promise<Engine> {
    if (typeof options.functions === "string" || Array.isArray(options.functions)) {
      const paths = typeof options.functions === "string" ? [options.functions] : (options.functions as string[]);
      options = { ...options, functions: await loadFunctions(paths) };
    }
    mkdirSync(options.dataDir, { recursive: true });
    const log = options.log ?? (await EmbeddedLog.open(join(options.dataDir, "log")));
    const engine = new Engine(log, options.dataDir, options.log === undefined, options);
    await log.createTopic(PROCESSING_LOG_TOPIC, { partitions: 1 });
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
      const r = await this.execute(
        `CREATE STREAM ${PROCESSING_LOG_STREAM} (QUERY_ID STRING, TOPIC STRING, \`PARTITION\` INT, \`OFFSET\` BIGINT, OPERATION STRING, MESSAGE STRING, REASON STRING, MORE INT) ` +
          `WITH (KAFKA_TOPIC = '${PROCESSING_LOG_TOPIC}', VALUE_FORMAT = 'JSON');`,
      );
      if (r.diagnostics.length > 0) throw new Error(`internal: processing log stream: ${r.diagnostics[0]!.message}`);
    } finally {
      this.recording = recording;
    }
  }

  /** Replays the command topic: rebuilds the catalog and restarts the queries it deployed. */
  private async resume(): Promise<void> {
    await this.log.createTopic(this.commandTopic, { partitions: 1, config: { cleanupPolicy: "delete" } });
    this.commandPosition = await this.log.beginningOffset(this.commandTopic, 0);
    await this.followCommands(true);
  }

  /**
   * Applies what the command topic holds after `commandPosition` (statements and deploy steps, in their
   * recorded order) except what this engine appended itself. On open that is everything; with several
   * instances, it is how a statement deployed through one instance reaches the others.
   */
  private async followCommands(resuming = false): Promise<void> {
    const end = await this.log.endOffset(this.commandTopic, 0);
    if (this.commandPosition >= end) return;
    // Statements (no key; the session properties they ran with in a header) and deploy steps
    // (runtime/deploy/steps.ts), replayed in their recorded order.
    const texts: (
      | string
      | DeployStep
      | {
          statement: string;
          properties?: Record<string, string>;
          plan?: TopologyPlan;
          functions?: UsedFunction[];
        }
    )[] = [];
    let offset = this.commandPosition;
    while (offset < end) {
      const batch = await this.log.read(this.commandTopic, 0, offset, 1000);
      for (const r of batch) {
        if (!r.value || this.ownCommands.has(r.offset)) continue;
        const step = decodeStep(r.key, r.value);
        const props = r.headers.find((h) => h.key === PROPERTIES_HEADER)?.value;
        const plan = r.headers.find((h) => h.key === PLAN_HEADER)?.value;
        const functions = r.headers.find((h) => h.key === FUNCTIONS_HEADER)?.value;
        texts.push(
          step ?? {
            statement: r.value.toString("utf8"),
            ...(props ? { properties: JSON.parse(props.toString("utf8")) as Record<string, string> } : {}),
            ...(plan ? { plan: JSON.parse(plan.toString("utf8")) as TopologyPlan } : {}),
            ...(functions ? { functions: JSON.parse(functions.toString("utf8")) as UsedFunction[] } : {}),
          },
        );
      }
      offset = batch.length > 0 ? batch[batch.length - 1]!.offset + 1 : end;
    }
    this.commandPosition = end;
    const recording = this.recording;
    this.recording = false;
    try {
      for (const entry of texts) {
        if (typeof entry !== "string" && !("statement" in entry)) {
          await this.recordDeployStep(entry);
          continue;
        }
        const t = typeof entry === "string" ? entry : entry.statement;
        if (typeof entry !== "string" && entry.functions) {
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
          this.replayPlan = typeof entry === "string" ? undefined : entry.plan;
          return this.execute(t).finally(() => (this.replayPlan = undefined));
        };
        const r =
          typeof entry === "string" || !entry.properties
            ? await run()
            : await this.withProperties(entry.properties, run);
        if (r.diagnostics.length > 0) {
          const message = `cannot ${resuming ? "resume" : "apply"} statement: ${t}\n${r.diagnostics[0]!.message}`;
          if (resuming) throw new Error(message);
          this.onClusterEvent?.(message);
        }
      }
    } finally {
      this.recording = recording;
    }
  }

  /** Whether executed statements are appended to the command topic. */
  private recording = true;
  /** While replaying the command topic: the plan recorded with the statement being executed. */
  private replayPlan: TopologyPlan | undefined;
  /** The plan of the last statement that started a query (recorded with it). */
  private lastTopology: TopologyPlan | undefined;

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

  /** Appends to the command topic, remembering the offset so that following the topic skips it. */
  /** Appends a command to the command topic; returns its offset. */
  private async recordCommand(record: ProduceRecord): Promise<number> {
    const [at] = await this.log.append(this.commandTopic, [record]);
    if (at!.offset === this.commandPosition) this.commandPosition++;
    else this.ownCommands.add(at!.offset);
    return at!.offset;
  }

  /**
   * With several instances: applies statements other instances deployed, then aligns the queries' tasks
   * with the latest membership map (takeovers restore and claim; lost partitions stop). Between batches.
   */
  private async syncCluster(): Promise<void> {
    const member = this.member;
    if (!member) return;
    await this.followCommands();
    // Every time, not only after a new map: a takeover another instance beat us to is retried.
    for (const q of this.queries.values()) await q.reassign();
    const needed = this.held().slots;
    if (member.map && needed > member.map.slots && !this.rejoining) {
      // A query with more partitions than the map has slots: ask the leader for a new map.
      this.rejoining = member.rejoin().finally(() => (this.rejoining = undefined));
      this.rejoining.catch((e: unknown) =>
        this.onClusterEvent?.(`rejoining the group failed: ${(e as Error).message}`),
      );
    }
  }

  /** What this instance reports to its group: the slots it runs and copies, and how many slots its queries need. */
  private held(): { active: number[]; standby: number[]; slots: number } {
    const map = this.member?.map;
    const slots = Math.max(1, ...[...this.queries.values()].map((q) => q.partitions));
    if (!map) return { active: [], standby: [], slots };
    const active = new Set<number>();
    const standby = new Set<number>();
    for (const q of this.queries.values()) {
      for (const t of q.tasks) active.add(t.partition % map.slots);
      for (const s of q.standbys) standby.add(s.partition % map.slots);
    }
    return { active: [...active], standby: [...standby], slots };
  }

  // ---- deploy steps (runtime/deploy: esql apply / rollback) ---------------------------------------------
  /** The deploy steps recorded in the command topic, in order (replayed on open); `runtime/deploy/ledger.ts` reads them. */
  readonly deploySteps: DeployStep[] = [];

  /**
   * Records a deploy step in the command topic, then applies it to the catalog in one assignment, so a
   * pull query sees the catalog before or after it, never between.
   */
  async recordDeployStep(step: DeployStep): Promise<void> {
    const next = applyDeployStep(this.catalog, step);
    if (this.recording) await this.recordCommand(encodeStep(step));
    this.catalog = next;
    this.deploySteps.push(step);
  }
  // ---- end of deploy steps -------------------------------------------------------------------------------

  /**
   * Executes a script. Statements run in order; one that fails is reported and skipped, the rest still run
   * (as a ksqlDB CLI running a script with errors does not: here each statement stands on its own).
   */
  async execute(text: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    // With several instances, statements compile against what every instance has deployed.
    if (this.member && this.recording) await this.followCommands();
    const parsed = parseScript(text, { variables: this.variables });
    const results: StatementResult[] = [];
    const diagnostics: Diagnostic[] = [...parsed.diagnostics];
    for (const p of parsed.statements) {
      const st = p.statement;
      // Each statement with its own plan, if one was given (and only that statement).
      if (options.plans) this.replayPlan = options.plans.get(normalizeStatement(p.text));
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
      const compiled = compileScript(p.text, {
        catalog: this.catalog,
        properties: { ...this.properties },
        functions: this.functions,
      });
      const c = compiled.statements[0];
      const errs = compiled.diagnostics.filter((d) => d.severity === "error");
      if (!c || errs.length > 0) {
        const shifted = compiled.diagnostics.map((d) => relocateDiagnostic(d, st.span));
        diagnostics.push(...shifted);
        results.push({ kind: "error", text: p.text, diagnostics: shifted });
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
        this.lastTopology = undefined;
        const message = await this.apply(c, compiled.catalog);
        this.catalog = compiled.catalog;
        let commandOffset: number | undefined;
        if (this.recording && records(c)) {
          const used = this.lastTopology ? usedUserFunctions(this.lastTopology, this.functions) : [];
          const headers = [
            ...(Object.keys(this.properties).length > 0
              ? [{ key: PROPERTIES_HEADER, value: Buffer.from(JSON.stringify(this.properties)) }]
              : []),
            // The plan the query runs: a restarted engine runs it as recorded, it does not plan the SQL again.
            ...(this.lastTopology ? [{ key: PLAN_HEADER, value: Buffer.from(JSON.stringify(this.lastTopology)) }] : []),
            // Which user functions (and which code of them: the module's hash) the plan calls.
            ...(used.length > 0 ? [{ key: FUNCTIONS_HEADER, value: Buffer.from(JSON.stringify(used)) }] : []),
          ];
          commandOffset = await this.recordCommand({
            key: null,
            value: Buffer.from(p.text),
            ...(headers.length > 0 ? { headers } : {}),
          });
        }
        results.push({
          kind: "ok",
          text: p.text,
          message,
          compiled: c,
          ...(commandOffset !== undefined ? { commandOffset } : {}),
        });
      } catch (e) {
        const code =
          e instanceof UnsupportedQueryError ? "RUN001" : e instanceof PlanVersionError ? "RUN011" : "RUN002";
        const d = diagError(code, (e as Error).message, st.span);
        diagnostics.push(d);
        results.push({ kind: "error", text: p.text, diagnostics: [d] });
      }
    }
    if (options.plans) this.replayPlan = undefined;
    return { results, diagnostics };
  }

  /** Carries out one compiled statement; `next` is the catalog after it. Returns a short message. */
  private async apply(c: CompiledStatement, next: Catalog): Promise<string> {
    const a = c.analyzed;
    if (!a) return "ok";
    switch (a.kind) {
      case "CreateSource": {
        await this.ensureTopic(a.source, a.source.partitions ?? 1);
        return `${a.source.sourceType === "TABLE" ? "Table" : "Stream"} ${a.source.name} created`;
      }
      case "CreateAsSelect":
      case "InsertInto": {
        const q = a.query;
        const partitions = new Map<string, number>();
        for (const name of a.query.sources) {
          const src = this.catalog.source(name);
          if (!src) continue;
          partitions.set(src.topic, (await this.log.describeTopic(src.topic))?.partitions ?? src.partitions ?? 1);
        }
        const partitionsOf = (topic: string) => partitions.get(topic) ?? 1;
        // The sink gets the partitions of the (first) source unless PARTITIONS says otherwise.
        const inputPartitions = Math.max(1, ...partitions.values());
        const sinkPartitions = a.sink.partitions ?? inputPartitions;
        if (a.kind === "CreateAsSelect") await this.ensureTopic(a.sink, sinkPartitions);
        const sinkTopic = await this.log.describeTopic(a.sink.topic);
        // The query id holds the object's name as the user quoted it: state folders, internal and changelog
        // topics and transactional ids are built from its safe encoding (`runtime/state/names.ts`).
        const safeId = safeName(a.queryId);
        const topicId = this.member ? `${this.member.options.serviceId}-${safeId}` : safeId;
        // Replaying the command topic: the query runs the plan recorded when it was deployed, not one
        // planned again by this release (a changed planning decision must not change a running topology).
        // A plan of the previous format (recorded before plans carried their execution settings) runs with the
        // session properties it was recorded with, as the engine that recorded it ran it.
        const recorded = this.replayPlan && migrateTopology(this.replayPlan, this.properties);
        this.replayPlan = undefined;
        if (recorded && recorded.queryId !== a.queryId) {
          throw new PlanVersionError(
            `the given plan is for query ${recorded.queryId}, but the statement starts query ${a.queryId} here ` +
              `(compiled against another deployment?)`,
          );
        }
        for (const st of recorded?.stages ?? []) {
          for (const input of st.inputs) {
            const actual = input.kind === "source" ? partitions.get(input.topic) : undefined;
            if (actual !== undefined && actual !== st.partitions) {
              throw new PlanVersionError(
                `the plan of query ${a.queryId} reads topic ${input.topic} as ${st.partitions} partition(s), but it ` +
                  `has ${actual}; compile the plan again against this deployment`,
              );
            }
          }
        }
        // A new plan goes through its JSON form, as a recorded one does: every query runs from plain JSON.
        const topology =
          recorded ??
          (JSON.parse(
            JSON.stringify(
              buildTopology(
                a.queryId,
                q,
                a.sink,
                partitionsOf,
                sinkTopic?.partitions ?? sinkPartitions,
                executionSettings(this.properties),
                topicId,
              ),
            ),
          ) as TopologyPlan);
        const plan = instantiate(topology);
        this.lastTopology = topology;
        // CREATE OR REPLACE keeps the query id: the running query lets go of its stores first, and the new
        // one continues from the offsets they hold (esql apply's in-place change of a stateless stream).
        const replaced = this.queries.get(a.queryId);
        if (replaced) {
          this.queries.delete(a.queryId);
          await replaced.close();
        }
        const query = await PersistentQuery.start(a.queryId, plan, {
          queryId: a.queryId,
          log: this.log,
          dataDir: this.dataDir,
          functions: this.functions,
          onError: (e) => this.recordError(e),
          changelogs: this.changelogs,
          ...(this.onRestore ? { onRestore: this.onRestore } : {}),
          topicId,
          ...(this.member ? { roleOf: (p: number) => this.member!.role(p) } : {}),
          ...(this.onClusterEvent ? { onEvent: this.onClusterEvent } : {}),
        });
        this.queries.set(a.queryId, query);
        this.outputColumns.set(
          a.queryId,
          q.projection.map((c) => c.name),
        );
        return `Created query ${a.queryId}`;
      }
      case "InsertValues":
        await this.insertValues(a.target, a.values);
        return "1 row inserted";
      case "DropSource": {
        await this.stopQueriesMissingFrom(next);
        const source = this.catalog.source(a.name);
        if (a.deleteTopic && source) {
          try {
            await this.log.deleteTopic(source.topic);
          } catch {
            // the topic may be gone already
          }
        }
        return `Source ${a.name} dropped`;
      }
      case "Query":
      case "Explain":
        return "ok";
      case "Other": {
        await this.stopQueriesMissingFrom(next);
        return "ok";
      }
    }
  }

  private async stopQueriesMissingFrom(next: Catalog): Promise<void> {
    for (const [id, q] of this.queries) {
      if (!next.queries.has(id)) {
        this.queries.delete(id);
        await q.destroy();
      }
    }
  }

  /**
   * Creates the topic of a source when missing, as ksqlDB does: a table's topic compacted (a windowed
   * table's compacted and deleted after its retention), a stream's deleted after `RETENTION_MS` if given.
   */
  private async ensureTopic(source: CatalogSource, partitions: number): Promise<void> {
    const existing = await this.log.describeTopic(source.topic);
    if (existing) return;
    const retention = source.retentionMs !== undefined && source.retentionMs >= 0 ? source.retentionMs : undefined;
    const config: TopicConfig =
      source.sourceType === "STREAM"
        ? { ...(retention !== undefined ? { retentionMs: retention } : {}) }
        : source.window && retention !== undefined
          ? { cleanupPolicy: "compact,delete", retentionMs: retention }
          : { cleanupPolicy: "compact" };
    await this.log.createTopic(source.topic, { partitions, config });
  }

  private async insertValues(target: CatalogSource, values: readonly { column: string; expr: TExpr }[]) {
    const byName = new Map<string, unknown>();
    for (const v of values) {
      let failure: unknown;
      const f = compileExpr(v.expr, { columns: [], functions: this.functions, onError: (e) => (failure = e) });
      const value = f([]);
      if (failure !== undefined)
        throw new Error(`cannot evaluate the value for ${v.column}: ${(failure as Error).message}`);
      byName.set(v.column, value);
    }
    await this.appendRows(target, [byName]);
  }

  /**
   * Writes rows (runtime values by column name; `ROWTIME` sets the record's timestamp, missing columns are
   * NULL) to a source's topic in its formats, in one append: `POST /inserts-stream`. Throws when a value
   * cannot be serialized.
   */
  async appendRows(target: CatalogSource, rows: readonly ReadonlyMap<string, unknown>[]): Promise<void> {
    const serdes = sourceSerdes(target);
    const records = rows.map((byName) => {
      const key = serdes.key.serialize(serdes.keyColumns.map((c) => byName.get(c.name) ?? null));
      const value = serdes.value.serialize(serdes.valueColumns.map((c) => byName.get(c.name) ?? null));
      const rowtime = byName.get("ROWTIME");
      return { key, value, ...(typeof rowtime === "number" ? { timestamp: rowtime } : {}) };
    });
    if (records.length > 0) await this.log.append(target.topic, records);
  }

  private recordError(e: ProcessingError): void {
    if (e.reason === undefined || isErrorReason(e.reason)) {
      this.processingErrorCount += e.more ?? 1;
      this.processingErrors.push(e);
      if (this.processingErrors.length > PROCESSING_ERROR_SAMPLES) this.processingErrors.shift();
    }
    if (e.reason !== undefined && this.droppedSamples.length < PROCESSING_ERROR_SAMPLES) this.droppedSamples.push(e);
    this.pendingErrors.push(e);
  }

  /**
   * The records query `queryId` dropped (late, NULL key, undecodable, ...), by reason and by operator, as
   * counted by its tasks on this instance. The counts live in the tasks' stores: they survive restarts.
   */
  drops(queryId: string): DropSummary {
    const q = this.queries.get(queryId);
    return summarizeDrops(q ? q.tasks.map((t) => t.metrics) : []);
  }

  /**
   * Records read from the query's inputs (its stages that read streams or tables, not its internal
   * topics), counted like {@link drops}.
   */
  recordsIn(queryId: string): number {
    const q = this.queries.get(queryId);
    let n = 0;
    for (const t of q?.tasks ?? []) if (t.stage.inputs.some((i) => i.kind === "source")) n += t.metrics.recordsIn;
    return n;
  }

  /** One line on what query `queryId` read and dropped: "12 records in, 1 dropped (1 late)". */
  processingSummary(queryId: string): string {
    const n = this.recordsIn(queryId);
    const dropped = describeDrops(this.drops(queryId));
    return `${n} record${n === 1 ? "" : "s"} in${dropped ? `, ${dropped}` : ", none dropped"}`;
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
      await this.flushErrors();
      if (round === 0) return total;
    }
  }

  private async flushErrors(): Promise<void> {
    if (this.pendingErrors.length === 0) return;
    const batch = this.pendingErrors;
    this.pendingErrors = [];
    await this.log.append(
      PROCESSING_LOG_TOPIC,
      batch.map((e) => ({
        key: null,
        value: Buffer.from(
          JSON.stringify({
            QUERY_ID: e.queryId,
            TOPIC: e.topic,
            PARTITION: e.partition,
            OFFSET: e.offset,
            OPERATION: e.where,
            MESSAGE: e.message,
            ...(e.reason ? { REASON: e.reason } : {}),
            ...(e.more ? { MORE: e.more } : {}),
          }),
        ),
      })),
    );
  }

  /**
   * The current rows of a table a query materializes (CTAS), read from the query's stores. Windowed
   * tables have one row per key and window, with the window bounds as `WINDOWSTART`/`WINDOWEND`.
   */
  async table(name: string): Promise<TableSnapshot> {
    const source = this.catalog.source(name);
    if (!source) throw new Error(`unknown table ${name}`);
    const q = source.writtenBy ? this.queries.get(source.writtenBy) : undefined;
    if (!q || source.sourceType !== "TABLE") throw new Error(`${name} is not a materialized table`);
    const keys = source.columns.filter((c) => c.namespace === "KEY");
    const values = source.columns.filter((c) => c.namespace === "VALUE");
    const windowed = source.window !== undefined;
    const bounds = windowed
      ? [
          { name: "WINDOWSTART", type: BIGINT },
          { name: "WINDOWEND", type: BIGINT },
        ]
      : [];
    const cols = [...keys, ...bounds, ...values];
    // Stored rows hold the projection's values in projection order; pick each column by name.
    const produced = this.outputColumns.get(q.id) ?? [];
    const picks = cols.map((c) => produced.indexOf(c.name));
    const rows: unknown[][] = [];
    const lastStage = q.plan.stages[q.plan.stages.length - 1]!.id;
    // Pull queries run alongside the processing loop: their reads keep a lost task's store open.
    await q.reading(async () => {
      for (const t of q.tasks) {
        if (t.stage.id !== lastStage) continue;
        const entries = q.plan.readTable
          ? q.plan.readTable(t.stateStore, this.functions)
          : t.stateStore.iterate(TABLE_STORE);
        for await (const [k, v] of entries) {
          const stored = (v as [unknown[], number])[0];
          // The store key of a windowed row ends with the window's start and end.
          const window = windowed ? decodeKey(k).slice(-2) : [];
          rows.push(
            cols.map((c, i) => {
              if (windowed && c.name === "WINDOWSTART" && i === keys.length) return window[0] ?? null;
              if (windowed && c.name === "WINDOWEND" && i === keys.length + 1) return window[1] ?? null;
              const at = picks[i]!;
              return at < 0 ? null : (stored[at] ?? null);
            }),
          );
        }
      }
    });
    return { name, columns: cols.map((c) => c.name), types: cols.map((c) => c.type), rows, windowed };
  }

  /** Runs a pull query (`SELECT` without EMIT CHANGES) on the current state; errors come as diagnostics. */
  pull(sql: string): Promise<PullOutcome> {
    return pullSql(this.queryEnv(), sql);
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
    return {
      log: this.log,
      catalog: this.catalog,
      functions: this.functions,
      properties: this.properties,
      variables: this.variables,
      onError: (e) => this.recordError(e),
      queries: this.queries,
      outputColumns: (id) => this.outputColumns.get(id),
      ...(this.member
        ? { remote: { peers: (queryId: string, only?: readonly number[]) => this.peersOf(queryId, only) } }
        : {}),
    };
  }

  /** The URLs of the other instances that own partitions of query `queryId` (all, or `only` these), for pull queries. */
  private peersOf(queryId: string, only?: readonly number[]): string[] {
    const member = this.member;
    const map = member?.map;
    const q = this.queries.get(queryId);
    if (!member || !map || !q) return [];
    const urls = new Set<string>();
    for (const p of only ?? Array.from({ length: q.partitions }, (_, i) => i)) {
      const owner = member.owner(p);
      if (!owner || owner.instance === member.instance) continue;
      if (!owner.url)
        throw new Error(
          `partition ${p} of ${queryId} is on instance ${owner.instance}, which advertises no URL to ask`,
        );
      urls.add(owner.url);
    }
    return [...urls];
  }

  async close(): Promise<void> {
    // Leave first: the others take this instance's partitions over once its last commits are written.
    await this.member?.leave().catch(() => undefined);
    await closeSubscriptions(this.log);
    await this.flushErrors();
    for (const q of this.queries.values()) await q.close();
    this.queries.clear();
    if (this.ownsLog) await this.log.close();
  }
}

/** Whether a statement changes what is deployed (and so belongs in the command topic). */
function records(c: CompiledStatement): boolean {
  switch (c.statement.kind) {
    case "CreateSource":
    case "CreateAsSelect":
      // CREATE ... IF NOT EXISTS of a source that exists changes nothing (as in ksqlDB, it is not recorded).
      return c.analyzed?.kind !== "Other";
    case "InsertInto":
    case "DropSource":
    case "CreateType":
    case "DropType":
    case "Terminate":
      return true;
    default:
      return false;
  }
}
