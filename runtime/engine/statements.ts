/**
 * Carrying out a compiled statement: create a source's topic, start a persistent query from its topology plan
 * (the one recorded or given with the statement, or one planned now), insert rows, stop the queries a DROP or
 * TERMINATE removes. The engine (`engine.ts`) compiles the statement before and moves its catalog and records
 * the statement in the command log after, when this succeeded.
 */
import { buildTopology, type AnalyzedStatement, type Catalog, type CompiledStatement } from "../../src/compile.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import type { TExpr } from "../../src/plan/expr.ts";
import type { CatalogSource } from "../../src/plan/source.ts";
import { executionSettings, migrateTopology, rebindTopology, type TopologyPlan } from "../../src/plan/topology.ts";
import type { ClusterMember } from "../cluster/member.ts";
import { compileExpr } from "../expr/compile.ts";
import type { EventLog, TopicConfig } from "../log/types.ts";
import type { ProcessingError } from "../processors/types.ts";
import { PersistentQuery } from "../query/query.ts";
import { instantiate, PlanVersionError } from "../query/topology.ts";
import { sourceSerdes } from "../serde/formats.ts";
import type { RestoreProgress } from "../state/changelog.ts";
import { safeName } from "../state/names.ts";
import { appendedPositions, encodeToken } from "./consistency.ts";

/** What carrying out statements needs of the engine. */
export interface StatementHost {
  readonly log: EventLog;
  readonly dataDir: string;
  readonly functions: FunctionRegistry;
  /** The session properties (a new plan takes its execution settings from them). */
  readonly properties: Readonly<Record<string, string>>;
  /** The catalog before the statement. */
  readonly catalog: Catalog;
  /** The running persistent queries, by id: started and stopped here. */
  readonly queries: Map<string, PersistentQuery>;
  /** Column names of each query's output rows, by query id (`snapshot.ts` reads them). */
  readonly outputColumns: Map<string, readonly string[]>;
  readonly changelogs: boolean;
  readonly onRestore: ((p: RestoreProgress) => void) | undefined;
  readonly member: ClusterMember | undefined;
  readonly onClusterEvent: ((message: string) => void) | undefined;
  readonly onError: (e: ProcessingError) => void;
}

export interface Applied {
  /** A short message for the user ("Created query CTAS_X_1"). */
  readonly message: string;
  /** The plan of the query the statement started (recorded with the statement). */
  readonly topology?: TopologyPlan;
  /** INSERT ... VALUES: the position token of the row written (read your writes: `consistency.ts`). */
  readonly position?: string;
}

/** The plan a statement runs instead of one planned now. */
export interface StatementPlan {
  readonly plan: TopologyPlan;
  /**
   * `recorded`: the command topic's (replayed: it runs as it is, its query id must be the statement's);
   * `compiled`: an artifact's (`esql compile`, compiled elsewhere: bound to this deployment's names first).
   */
  readonly from: "recorded" | "compiled";
}

/**
 * Carries out one compiled statement; `next` is the catalog after it. `plan` is the statement's recorded or
 * compiled plan, run instead of one planned now. Throws when a query cannot start (an unsupported query:
 * `UnsupportedQueryError`; a plan that does not fit: `PlanVersionError`).
 */
export async function applyStatement(
  host: StatementHost,
  c: CompiledStatement,
  next: Catalog,
  plan: StatementPlan | undefined,
): Promise<Applied> {
  const a = c.analyzed;
  if (!a) return { message: "ok" };
  switch (a.kind) {
    case "CreateSource": {
      await ensureTopic(host.log, a.source, a.source.partitions ?? 1);
      return { message: `${a.source.sourceType === "TABLE" ? "Table" : "Stream"} ${a.source.name} created` };
    }
    case "CreateAsSelect":
    case "InsertInto":
      return startQuery(host, a, plan);
    case "InsertValues":
      return { message: "1 row inserted", position: await insertValues(host, a.target, a.values) };
    case "DropSource": {
      await stopQueriesMissingFrom(host.queries, next);
      const source = host.catalog.source(a.name);
      if (a.deleteTopic && source) {
        try {
          await host.log.deleteTopic(source.topic);
        } catch {
          // the topic may be gone already
        }
      }
      return { message: `Source ${a.name} dropped` };
    }
    case "Query":
    case "Explain":
      return { message: "ok" };
    case "Other": {
      await stopQueriesMissingFrom(host.queries, next);
      return { message: "ok" };
    }
  }
}

/** Starts the persistent query of a CREATE ... AS SELECT or INSERT INTO ... SELECT (replacing one of its id). */
async function startQuery(
  host: StatementHost,
  a: Extract<AnalyzedStatement, { kind: "CreateAsSelect" | "InsertInto" }>,
  given: StatementPlan | undefined,
): Promise<Applied> {
  const q = a.query;
  const partitions = new Map<string, number>();
  for (const name of a.query.sources) {
    const src = host.catalog.source(name);
    if (!src) continue;
    partitions.set(src.topic, (await host.log.describeTopic(src.topic))?.partitions ?? src.partitions ?? 1);
  }
  const partitionsOf = (topic: string) => partitions.get(topic) ?? 1;
  // The sink gets the partitions of the (first) source unless PARTITIONS says otherwise.
  const inputPartitions = Math.max(1, ...partitions.values());
  const sinkPartitions = a.sink.partitions ?? inputPartitions;
  if (a.kind === "CreateAsSelect") await ensureTopic(host.log, a.sink, sinkPartitions);
  const sinkTopic = await host.log.describeTopic(a.sink.topic);
  // The query id holds the object's name as the user quoted it: state folders, internal and changelog
  // topics and transactional ids are built from its safe encoding (`runtime/state/names.ts`).
  const safeId = safeName(a.queryId);
  const topicId = host.member ? `${host.member.options.serviceId}-${safeId}` : safeId;
  // Replaying the command topic: the query runs the plan recorded when it was deployed, not one
  // planned again by this release (a changed planning decision must not change a running topology).
  // A plan of the previous format (recorded before plans carried their execution settings) runs with the
  // session properties it was recorded with, as the engine that recorded it ran it.
  const migrated = given && migrateTopology(given.plan, host.properties);
  // A compiled plan keeps every decision it holds; only the names that depend on where it is deployed change
  // (the query id the catalog's counter gives here, a rebuilt version's name and topic, its sources' topics).
  const recorded =
    migrated && given.from === "compiled"
      ? rebindTopology(migrated, {
          queryId: a.queryId,
          topicId,
          sink: a.sink,
          source: (name) => host.catalog.source(name),
        })
      : migrated;
  if (recorded) checkRecordedPlan(recorded, a.queryId, partitions);
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
          executionSettings(host.properties),
          topicId,
        ),
      ),
    ) as TopologyPlan);
  const plan = instantiate(topology);
  // CREATE OR REPLACE keeps the query id: the running query lets go of its stores first, and the new
  // one continues from the offsets they hold (esql apply's in-place change of a stateless stream).
  const replaced = host.queries.get(a.queryId);
  if (replaced) {
    host.queries.delete(a.queryId);
    await replaced.close();
  }
  const member = host.member;
  const query = await PersistentQuery.start(a.queryId, plan, {
    queryId: a.queryId,
    log: host.log,
    dataDir: host.dataDir,
    functions: host.functions,
    onError: host.onError,
    changelogs: host.changelogs,
    ...(host.onRestore ? { onRestore: host.onRestore } : {}),
    topicId,
    ...(member ? { roleOf: (p: number) => member.role(p) } : {}),
    ...(host.onClusterEvent ? { onEvent: host.onClusterEvent } : {}),
  });
  host.queries.set(a.queryId, query);
  host.outputColumns.set(
    a.queryId,
    q.projection.map((c) => c.name),
  );
  return { message: `Created query ${a.queryId}`, topology };
}

/** Refuses a recorded or given plan that is not this statement's here (another query id, other partition counts). */
function checkRecordedPlan(recorded: TopologyPlan, queryId: string, partitions: ReadonlyMap<string, number>): void {
  if (recorded.queryId !== queryId) {
    throw new PlanVersionError(
      `the given plan is for query ${recorded.queryId}, but the statement starts query ${queryId} here ` +
        `(compiled against another deployment?)`,
    );
  }
  for (const st of recorded.stages) {
    for (const input of st.inputs) {
      const actual = input.kind === "source" ? partitions.get(input.topic) : undefined;
      if (actual !== undefined && actual !== st.partitions) {
        throw new PlanVersionError(
          `the plan of query ${queryId} reads topic ${input.topic} as ${st.partitions} partition(s), but it ` +
            `has ${actual}; compile the plan again against this deployment`,
        );
      }
    }
  }
}

/** Stops (and deletes the state of) the running queries the catalog `next` no longer has. */
async function stopQueriesMissingFrom(queries: Map<string, PersistentQuery>, next: Catalog): Promise<void> {
  for (const [id, q] of queries) {
    if (!next.queries.has(id)) {
      queries.delete(id);
      await q.destroy();
    }
  }
}

/**
 * Creates the topic of a source when missing, as ksqlDB does: a table's topic compacted (a windowed
 * table's compacted and deleted after its retention), a stream's deleted after `RETENTION_MS` if given.
 */
async function ensureTopic(log: EventLog, source: CatalogSource, partitions: number): Promise<void> {
  const existing = await log.describeTopic(source.topic);
  if (existing) return;
  const retention = source.retentionMs !== undefined && source.retentionMs >= 0 ? source.retentionMs : undefined;
  const config: TopicConfig =
    source.sourceType === "STREAM"
      ? { ...(retention !== undefined ? { retentionMs: retention } : {}) }
      : source.window && retention !== undefined
        ? { cleanupPolicy: "compact,delete", retentionMs: retention }
        : { cleanupPolicy: "compact" };
  await log.createTopic(source.topic, { partitions, config });
}

async function insertValues(
  host: StatementHost,
  target: CatalogSource,
  values: readonly { column: string; expr: TExpr }[],
): Promise<string> {
  const byName = new Map<string, unknown>();
  for (const v of values) {
    let failure: unknown;
    const f = compileExpr(v.expr, { columns: [], functions: host.functions, onError: (e) => (failure = e) });
    const value = f([]);
    if (failure !== undefined)
      throw new Error(`cannot evaluate the value for ${v.column}: ${(failure as Error).message}`);
    byName.set(v.column, value);
  }
  return appendRows(host.log, target, [byName]);
}

/**
 * Writes rows (runtime values by column name; `ROWTIME` sets the record's timestamp, missing columns are
 * NULL) to a source's topic in its formats, in one append. Throws when a value cannot be serialized.
 * Resolves the position token of the rows written (read your writes: `consistency.ts`).
 */
export async function appendRows(
  log: EventLog,
  target: CatalogSource,
  rows: readonly ReadonlyMap<string, unknown>[],
): Promise<string> {
  const serdes = sourceSerdes(target);
  const records = rows.map((byName) => {
    const key = serdes.key.serialize(serdes.keyColumns.map((c) => byName.get(c.name) ?? null));
    const value = serdes.value.serialize(serdes.valueColumns.map((c) => byName.get(c.name) ?? null));
    const rowtime = byName.get("ROWTIME");
    return { key, value, ...(typeof rowtime === "number" ? { timestamp: rowtime } : {}) };
  });
  return encodeToken(
    records.length > 0 ? appendedPositions(target.topic, await log.append(target.topic, records)) : new Map(),
  );
}
