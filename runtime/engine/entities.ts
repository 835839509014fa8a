/**
 * What SHOW, LIST, DESCRIBE and EXPLAIN answer, as ksqlDB's REST entities (`io.confluent.ksql.rest.entity`:
 * `@type`, `statementText`, `warnings` and the documented fields). One implementation: `POST /ksql` sends
 * them as they are, the REPL (in process or on a server) renders them (`src/cli/repl/entities.ts`).
 *
 * Fields ksqlDB does not have are esql's additions, named so no ksqlDB client reads them by mistake
 * (clients ignore unknown fields): `logicalPlan` on a query description, `header` on a field, `processingLog`
 * on an extended source description.
 */
import { formatLogicalPlan, formatPhysicalPlan, formatTopology, type CompiledStatement } from "../../src/compile.ts";
import type { FunctionDef } from "../../src/functions/types.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import type { SqlType } from "../../src/types/sqltype.ts";
import { describeDrops } from "../query/drops.ts";
import { readLedger, type VersionState } from "../deploy/ledger.ts";
import type { Engine } from "./engine.ts";

interface EntityBase {
  readonly statementText: string;
  readonly warnings: readonly { readonly message: string }[];
}

/** ksqlDB's `SchemaInfo`: a column's type; `parameters` for DECIMAL (precision, scale). */
export interface SchemaInfo {
  readonly type: string;
  readonly fields: readonly { readonly name: string; readonly schema: SchemaInfo }[] | null;
  readonly memberSchema: SchemaInfo | null;
  readonly parameters?: Readonly<Record<string, number>>;
}

/** ksqlDB's `FieldInfo`; `type` only for key columns. */
export interface FieldInfo {
  readonly name: string;
  readonly schema: SchemaInfo;
  readonly type?: "KEY";
  /** esql: a header column (`HEADERS`, or the header key of `HEADER('key')`). */
  readonly header?: string;
}

/**
 * esql: where a name or a query stands among the versions `esql apply` made of a stream or table
 * (`runtime/deploy/ledger.ts`). On a name: the version serving it and every live version; on a hidden version
 * (`NAME__V<n>`) or its query: which version of which name it is, and its state.
 */
export interface VersionInfo {
  /** The user-visible name. */
  readonly name: string;
  /** The version this entry is (for a name: the serving one). */
  readonly version: number;
  readonly state: VersionState;
  /** Every live version of the name (serving, kept, building), oldest first. */
  readonly versions: readonly { readonly version: number; readonly state: VersionState; readonly alias: string }[];
}

/** ksqlDB's `RunningQuery` (SHOW QUERIES, a source description's readers and writers). */
export interface RunningQuery {
  readonly queryString: string;
  /** Every name whose rows it writes now: a serving version's query writes its hidden name and the name. */
  readonly sinks: readonly string[];
  readonly sinkKafkaTopics: readonly string[];
  readonly id: string;
  readonly statusCount: Readonly<Record<string, number>>;
  readonly queryType: "PERSISTENT";
  readonly state: string;
  /** esql: the version of a stream or table it writes, when `esql apply` has made versions of it. */
  readonly deployVersion?: VersionInfo;
}

export interface SourceInfo {
  readonly type: "STREAM" | "TABLE";
  readonly name: string;
  readonly topic: string;
  readonly keyFormat: string;
  readonly valueFormat: string;
  readonly isWindowed: boolean;
  /** esql: its versions, when `esql apply` has made versions of it (or it is one). */
  readonly deployVersion?: VersionInfo;
}

/** A processing-log entry of the query that writes a source (esql). */
export interface ProcessingLogEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly where: string;
  readonly reason: string;
  readonly message: string;
}

/** ksqlDB's `SourceDescription`. */
export interface SourceDescription {
  readonly name: string;
  readonly windowType: string | null;
  readonly readQueries: readonly RunningQuery[];
  readonly writeQueries: readonly RunningQuery[];
  readonly fields: readonly FieldInfo[];
  readonly type: "STREAM" | "TABLE";
  readonly timestamp: string;
  readonly statistics: string;
  readonly errorStats: string;
  readonly extended: boolean;
  readonly keyFormat: string;
  readonly valueFormat: string;
  readonly topic: string;
  readonly partitions: number;
  readonly replication: number;
  readonly statement: string;
  readonly queryOffsetSummaries: readonly unknown[];
  readonly sourceConstraints: readonly string[];
  /** esql: its versions, when `esql apply` has made versions of it (or it is one). */
  readonly deployVersion?: VersionInfo;
  /** esql (extended only): the first records the writing query dropped and its latest errors, this session. */
  readonly processingLog?: {
    readonly dropped: readonly ProcessingLogEntry[];
    readonly errors: readonly ProcessingLogEntry[];
  };
}

/** ksqlDB's `QueryDescription`. */
export interface QueryDescription {
  readonly id: string;
  readonly statementText: string;
  readonly windowType: string | null;
  readonly fields: readonly FieldInfo[];
  readonly sources: readonly string[];
  readonly sinks: readonly string[];
  /** The topology the query runs (persistent queries); "" for a SELECT. */
  readonly topology: string;
  /** The topology again for persistent queries (ksqlDB: its execution plan); the physical plan of a SELECT. */
  readonly executionPlan: string;
  readonly overriddenProperties: Readonly<Record<string, string>>;
  readonly ksqlHostQueryStatus: Readonly<Record<string, string>>;
  readonly queryType: "PERSISTENT" | "PUSH" | "PULL";
  readonly queryErrors: readonly unknown[];
  readonly tasksMetadata: readonly unknown[];
  readonly state: string;
  /** esql: the optimized logical plan of an explained statement. */
  readonly logicalPlan?: string;
}

export interface ArgumentInfo {
  readonly name: string;
  readonly type: string;
  readonly description: string;
  readonly isVariadic: boolean;
}

export type FunctionType = "SCALAR" | "AGGREGATE" | "TABLE";

/** The entities of SHOW/LIST, DESCRIBE and EXPLAIN, by ksqlDB's `@type`. */
export type DescribeEntity = EntityBase &
  (
    | { readonly "@type": "streams"; readonly streams: readonly SourceInfo[] }
    | { readonly "@type": "tables"; readonly tables: readonly SourceInfo[] }
    | { readonly "@type": "queries"; readonly queries: readonly RunningQuery[] }
    | {
        readonly "@type": "kafka_topics";
        readonly topics: readonly { readonly name: string; readonly replicaInfo: readonly number[] }[];
      }
    | {
        readonly "@type": "kafka_topics_extended";
        readonly topics: readonly {
          readonly name: string;
          readonly replicaInfo: readonly number[];
          readonly consumerCount: number;
          readonly consumerGroupCount: number;
        }[];
      }
    | {
        readonly "@type": "properties";
        readonly properties: readonly { readonly name: string; readonly scope: string; readonly value: string }[];
        readonly overwrittenProperties: readonly string[];
        readonly defaultProperties: readonly string[];
      }
    | {
        readonly "@type": "variables";
        readonly variables: readonly { readonly name: string; readonly value: string }[];
      }
    | {
        readonly "@type": "function_names";
        readonly functions: readonly {
          readonly name: string;
          readonly type: FunctionType;
          readonly category: string;
        }[];
      }
    | {
        readonly "@type": "describe_function";
        readonly name: string;
        readonly description: string;
        readonly author: string;
        readonly version: string;
        readonly path: string;
        readonly type: FunctionType;
        readonly functions: readonly {
          readonly arguments: readonly ArgumentInfo[];
          readonly argumentTypes: readonly string[];
          readonly returnType: string;
          readonly description: string;
        }[];
      }
    | { readonly "@type": "type_list"; readonly types: Readonly<Record<string, SchemaInfo>> }
    | { readonly "@type": "sourceDescription"; readonly sourceDescription: SourceDescription }
    | { readonly "@type": "source_descriptions"; readonly sourceDescriptions: readonly SourceDescription[] }
    | { readonly "@type": "queryDescription"; readonly queryDescription: QueryDescription }
  );

/** A SQL type as ksqlDB's entities write a column's schema. */
export function schemaInfo(t: SqlType): SchemaInfo {
  switch (t.kind) {
    case "ARRAY":
      return { type: "ARRAY", fields: null, memberSchema: schemaInfo(t.element) };
    case "MAP":
      return { type: "MAP", fields: null, memberSchema: schemaInfo(t.value) };
    case "STRUCT":
      return {
        type: "STRUCT",
        fields: t.fields.map((f) => ({ name: f.name, schema: schemaInfo(f.type) })),
        memberSchema: null,
      };
    case "DECIMAL":
      return {
        type: "DECIMAL",
        fields: null,
        memberSchema: null,
        parameters: { precision: t.precision, scale: t.scale },
      };
    default:
      return { type: t.kind, fields: null, memberSchema: null };
  }
}

const FUNCTION_TYPE = { scalar: "SCALAR", aggregate: "AGGREGATE", table: "TABLE" } as const;

/**
 * The entity that answers an executed SHOW, LIST, DESCRIBE or EXPLAIN (read after it ran), or undefined for
 * other statements (and for a DESCRIBE of something gone since).
 */
export async function describeEntity(
  engine: Engine,
  compiled: CompiledStatement,
  statementText: string,
): Promise<DescribeEntity | undefined> {
  const st = compiled.statement;
  const base = { statementText, warnings: [] };
  const catalog = engine.catalog;
  switch (st.kind) {
    case "Show":
      switch (st.what) {
        case "STREAMS":
        case "TABLES": {
          const type = st.what === "STREAMS" ? "STREAM" : "TABLE";
          const versions = versionsOf(engine);
          const list: SourceInfo[] = [...catalog.sources.values()]
            .filter((s) => s.sourceType === type)
            .map((s) => {
              const v = versions.byName.get(s.name);
              return {
                type,
                name: s.name,
                topic: s.topic,
                keyFormat: s.keyFormat.format,
                valueFormat: s.valueFormat.format,
                isWindowed: s.window !== undefined,
                ...(v ? { deployVersion: v } : {}),
              };
            });
          return type === "STREAM"
            ? { "@type": "streams", ...base, streams: list }
            : { "@type": "tables", ...base, tables: list };
        }
        case "QUERIES":
          return {
            "@type": "queries",
            ...base,
            queries: [...catalog.queries.keys()].map((id) => runningQuery(engine, id, versionsOf(engine))!),
          };
        case "TOPICS": {
          const topics = [];
          for (const name of (await engine.log.listTopics()).sort()) {
            if (name.startsWith("_") && !st.all) continue;
            const partitions = (await engine.log.describeTopic(name))?.partitions ?? 0;
            topics.push({ name, replicaInfo: Array.from({ length: partitions }, () => 1) });
          }
          return st.extended
            ? {
                "@type": "kafka_topics_extended",
                ...base,
                topics: topics.map((t) => ({ ...t, consumerCount: 0, consumerGroupCount: 0 })),
              }
            : { "@type": "kafka_topics", ...base, topics };
        }
        case "FUNCTIONS":
          return {
            "@type": "function_names",
            ...base,
            functions: [...engine.functions.all()]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((f) => ({ name: f.name, type: FUNCTION_TYPE[f.kind], category: f.category })),
          };
        case "PROPERTIES":
          return {
            "@type": "properties",
            ...base,
            properties: Object.entries(engine.properties)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([name, value]) => ({ name, scope: "KSQL", value })),
            overwrittenProperties: [],
            defaultProperties: [],
          };
        case "VARIABLES":
          return {
            "@type": "variables",
            ...base,
            variables: [...engine.variables]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([name, value]) => ({ name, value })),
          };
        case "TYPES":
          return {
            "@type": "type_list",
            ...base,
            types: Object.fromEntries([...catalog.types].map(([n, t]) => [n, schemaInfo(t)])),
          };
      }
      return undefined;
    case "Describe": {
      const t = st.target;
      switch (t.kind) {
        case "Source": {
          const d = await sourceDescription(engine, t.name.value, st.extended);
          return d ? { "@type": "sourceDescription", ...base, sourceDescription: d } : undefined;
        }
        case "AllSources": {
          const names = [...catalog.sources.values()].filter((s) => s.sourceType === t.sourceType).map((s) => s.name);
          const list: SourceDescription[] = [];
          for (const n of names) {
            const d = await sourceDescription(engine, n, st.extended);
            if (d) list.push(d);
          }
          return { "@type": "source_descriptions", ...base, sourceDescriptions: list };
        }
        case "Function": {
          const f = engine.functions.get(t.name.value);
          return f ? { "@type": "describe_function", ...base, ...describeFunction(f) } : undefined;
        }
      }
      return undefined;
    }
    case "Explain": {
      const d = queryDescription(engine, compiled, statementText);
      return d ? { "@type": "queryDescription", ...base, queryDescription: d } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The versions `esql apply` made, by catalog name (a name: its serving version; a hidden version: itself) and
 * by the query writing each version. Only objects with more than one version, or whose version 1 was switched
 * away from, have any.
 */
function versionsOf(engine: Engine): { byName: Map<string, VersionInfo>; byQuery: Map<string, VersionInfo> } {
  const byName = new Map<string, VersionInfo>();
  const byQuery = new Map<string, VersionInfo>();
  for (const o of readLedger(engine.catalog, engine.deploySteps).values()) {
    if (o.versions.length < 2 && o.current === 1) continue;
    const versions = o.versions.map((v) => ({ version: v.version, state: v.state, alias: v.alias }));
    for (const v of o.versions) {
      const info: VersionInfo = { name: o.name, version: v.version, state: v.state, versions };
      if (v.state === "serving") byName.set(o.name, info);
      if (engine.catalog.source(v.alias)) byName.set(v.alias, info);
      if (v.queryId) byQuery.set(v.queryId, info);
    }
  }
  return { byName, byQuery };
}

/** A catalog query as ksqlDB lists it; undefined when the catalog has no such query. */
function runningQuery(
  engine: Engine,
  id: string,
  versions: ReturnType<typeof versionsOf> = versionsOf(engine),
): RunningQuery | undefined {
  const q = engine.catalog.queries.get(id);
  if (!q) return undefined;
  // ksqlDB's states: RUNNING, or UNRESPONSIVE for a query this instance does not run.
  const state = engine.queries.has(id) ? "RUNNING" : "UNRESPONSIVE";
  // What it writes now: the names whose catalog entry it writes. After a switch the name `NAME` is the new
  // version's (the old query writes only its hidden name `NAME__V1`); an INSERT INTO writes its target.
  const written = [...engine.catalog.sources.values()].filter((s) => s.writtenBy === id);
  const sinks =
    written.length > 0 ? written : q.sink && engine.catalog.source(q.sink) ? [engine.catalog.source(q.sink)!] : [];
  const v = versions.byQuery.get(id);
  return {
    queryString: q.sql,
    sinks: sinks.map((s) => s.name),
    sinkKafkaTopics: [...new Set(sinks.map((s) => s.topic))],
    id,
    statusCount: { [state]: 1 },
    queryType: "PERSISTENT",
    state,
    ...(v ? { deployVersion: v } : {}),
  };
}

async function sourceDescription(
  engine: Engine,
  name: string,
  extended: boolean,
): Promise<SourceDescription | undefined> {
  const s = engine.catalog.source(name);
  if (!s) return undefined;
  const writer = s.writtenBy;
  const running = writer ? engine.queries.get(writer) : undefined;
  const partitions = (await engine.log.describeTopic(s.topic))?.partitions ?? s.partitions ?? 0;
  let statistics = "";
  let errorStats = "";
  let processingLog: SourceDescription["processingLog"];
  if (extended && running) {
    let recordsOut = 0;
    let errors = 0;
    for (const task of running.tasks) {
      recordsOut += task.metrics.recordsOut;
      errors += task.metrics.errors;
    }
    const drops = engine.drops(running.id);
    statistics = keyValues([
      ["Records in", String(engine.recordsIn(running.id))],
      ["Records dropped", describeDrops(drops) || "0"],
      ...[...drops.byOperator].map(([k, n]): [string, string] => [`  ${k.replace("/", ": ")}`, String(n)]),
      ["Records out", `${recordsOut} (since this session started)`],
    ]);
    errorStats = `Processing errors : ${errors} (since this session started)`;
    const entry = (e: (typeof engine.processingErrors)[number]): ProcessingLogEntry => ({
      topic: e.topic,
      partition: e.partition,
      offset: e.offset,
      where: e.where,
      reason: e.reason ?? "",
      message: e.message,
    });
    processingLog = {
      dropped: engine.droppedSamples
        .filter((e) => e.queryId === writer)
        .slice(0, 5)
        .map(entry),
      errors: engine.processingErrors
        .filter((e) => e.queryId === writer && !e.reason)
        .slice(-5)
        .map(entry),
    };
  }
  const versions = versionsOf(engine);
  const readers = engine.catalog.queriesReading(s.name).map((q) => runningQuery(engine, q.id, versions)!);
  const writers = writer ? [runningQuery(engine, writer, versions)].filter((q) => q !== undefined) : [];
  const deployVersion = versions.byName.get(s.name);
  return {
    name: s.name,
    windowType: s.window?.type ?? null,
    readQueries: readers,
    writeQueries: writers,
    fields: s.columns.map((c) => ({
      name: c.name,
      schema: schemaInfo(c.type),
      ...(c.namespace === "KEY" ? { type: "KEY" as const } : {}),
      ...(c.namespace === "HEADER" ? { header: c.headerKey ?? "" } : {}),
    })),
    type: s.sourceType,
    timestamp: s.timestamp?.column ?? "",
    statistics,
    errorStats,
    extended,
    keyFormat: s.keyFormat.format,
    valueFormat: s.valueFormat.format,
    topic: s.topic,
    partitions,
    replication: 1,
    statement: s.sql,
    queryOffsetSummaries: [],
    sourceConstraints: [],
    ...(deployVersion ? { deployVersion } : {}),
    ...(processingLog ? { processingLog } : {}),
  };
}

/** `NAME(TYPE a, TYPE b...) -> RET` (the registry's signature text) as ksqlDB's arguments and return type. */
function parseSignature(signature: string): { arguments: ArgumentInfo[]; returnType: string } {
  const open = signature.indexOf("(");
  const arrow = signature.lastIndexOf("->");
  const close = signature.lastIndexOf(")", arrow);
  const inside = signature.slice(open + 1, close);
  const args: ArgumentInfo[] = [];
  let depth = 0;
  let start = 0;
  const push = (text: string) => {
    const t = text.trim();
    if (t === "") return;
    const space = t.lastIndexOf(" ");
    const isVariadic = t.endsWith("...");
    const name = space < 0 ? "" : t.slice(space + 1).replace(/\.\.\.$/, "");
    const type = space < 0 ? t.replace(/\.\.\.$/, "") : t.slice(0, space);
    args.push({ name, type, description: "", isVariadic });
  };
  for (let i = 0; i < inside.length; i++) {
    const c = inside[i];
    if (c === "<" || c === "(") depth++;
    else if (c === ">" || c === ")") depth--;
    else if (c === "," && depth === 0) {
      push(inside.slice(start, i));
      start = i + 1;
    }
  }
  push(inside.slice(start));
  return { arguments: args, returnType: arrow < 0 ? "" : signature.slice(arrow + 2).trim() };
}

function describeFunction(f: FunctionDef) {
  return {
    name: f.name,
    description: f.description,
    author: "",
    // A user function: its module (ksqlDB's jar path) and the module's content hash as its version.
    version: f.origin ? `sha256:${f.origin.hash.slice(0, 12)}` : "",
    path: f.origin ? f.origin.file : "internal",
    type: FUNCTION_TYPE[f.kind],
    functions: f.signatures.map((s) => {
      const p = parseSignature(s);
      return { ...p, argumentTypes: p.arguments.map((a) => a.type), description: f.description };
    }),
  };
}

/**
 * EXPLAIN: for a query id, the running query's own plan; for a statement, the plan it would run (a persistent
 * query's topology; a SELECT's physical plan) and its logical plan.
 */
function queryDescription(
  engine: Engine,
  compiled: CompiledStatement,
  statementText: string,
): QueryDescription | undefined {
  const st = compiled.statement;
  if (st.kind !== "Explain") return undefined;
  let plan: TopologyPlan | undefined;
  let text: string;
  let state = "UNKNOWN";
  const logical = compiled.optimized ? formatLogicalPlan(compiled.optimized) : undefined;
  if (st.queryId !== undefined) {
    const running = engine.queries.get(st.queryId);
    plan = running?.plan.topology;
    text = engine.catalog.queries.get(st.queryId)?.sql ?? "";
    state = running ? "RUNNING" : "UNRESPONSIVE";
    if (!plan) {
      const q = engine.catalog.queries.get(st.queryId);
      if (!q) return undefined;
      return {
        ...emptyDescription(st.queryId, text, state, "PERSISTENT"),
        sources: q.sources,
        sinks: q.sink ? [q.sink] : [],
      };
    }
  } else {
    plan = compiled.topology;
    text = st.statement ? statementText.replace(/^\s*EXPLAIN\s+/i, "") : "";
  }
  if (!plan) {
    // A SELECT (or a statement that runs no topology): its physical plan.
    if (!compiled.physical) return undefined;
    const pull = st.statement?.kind === "QueryStatement" && st.statement.query.emit === undefined;
    return {
      ...emptyDescription("", text, state, pull ? "PULL" : "PUSH"),
      executionPlan: formatPhysicalPlan(compiled.physical),
      ...(logical ? { logicalPlan: logical } : {}),
    };
  }
  const last = plan.stages[plan.stages.length - 1]?.output;
  const sink = last?.kind === "Sink" ? last.sink : undefined;
  const sources = [
    ...new Set(plan.stages.flatMap((s) => s.inputs.flatMap((i) => (i.kind === "source" ? [i.source.name] : [])))),
  ];
  const description = formatTopology(plan);
  return {
    ...emptyDescription(plan.queryId, text, state, "PERSISTENT"),
    windowType: sink?.window?.type ?? null,
    fields: (sink?.columns ?? []).map((c) => ({
      name: c.name,
      schema: schemaInfo(c.type),
      ...(c.namespace === "KEY" ? { type: "KEY" as const } : {}),
    })),
    sources,
    sinks: sink ? [sink.name] : [],
    topology: description,
    executionPlan: description,
    ...(st.queryId === undefined && logical ? { logicalPlan: logical } : {}),
  };
}

function emptyDescription(
  id: string,
  statementText: string,
  state: string,
  queryType: QueryDescription["queryType"],
): QueryDescription {
  return {
    id,
    statementText,
    windowType: null,
    fields: [],
    sources: [],
    sinks: [],
    topology: "",
    executionPlan: "",
    overriddenProperties: {},
    ksqlHostQueryStatus: {},
    queryType,
    queryErrors: [],
    tasksMetadata: [],
    state,
  };
}

/** `Name   : value` lines with the colons aligned. */
export function keyValues(pairs: readonly (readonly [string, string])[]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)} : ${v}`).join("\n");
}
