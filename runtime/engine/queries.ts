/**
 * SELECT statements against a running engine: compile one statement, plan it (`planTableRead` /
 * `planTransient`: the engine runs plans, see `src/plan/select.ts`), then run the plan as a pull query
 * (`runPull`) or a push query (`startPush`). Bad SQL and failures come back as diagnostics with the
 * statement's position; nothing here throws for user errors.
 */
import { compileParsed, planTableRead, planTransient } from "../../src/compile.ts";
import { error as diagError, type Diagnostic, type Span } from "../../src/diagnostics/diagnostic.ts";
import type { AnalyzedQuery, Catalog } from "../../src/compile.ts";
import type { SelectPlan } from "../../src/plan/select.ts";
import { parseScript } from "../../src/parse.ts";
import { compileCached } from "./prepared.ts";
import { lookupPartitions, runPull, type PullEnv, type PullResult } from "./pull.ts";
import { LOCAL_SCOPE, PULL_SCOPE, pullFromPeer } from "../cluster/remote.ts";
import {
  ConsistencyError,
  consistencyRequest,
  encodeKsqlVector,
  foldedPositions,
  waitForTable,
  waitOnPeer,
  type WaitEnv,
} from "./consistency.ts";
import { startPush, type PushQuery, type QueryColumn } from "./push.ts";

export interface QueryEngineEnv extends PullEnv {
  /** The catalog SELECTs compile and plan against. */
  readonly catalog: Catalog;
  /** Session properties: SELECTs compile with them, and transient queries run with them (see `executionSettings`). */
  readonly properties: Readonly<Record<string, string>>;
  readonly variables: ReadonlyMap<string, string>;
  /** Runs the persistent queries over what their inputs hold (the engine's drain): a read-your-writes wait calls it. */
  readonly drain?: () => Promise<unknown>;
}

/** A pull query's outcome: rows, or diagnostics (then `rows` is empty). */
export interface PullOutcome extends PullResult {
  readonly diagnostics: readonly Diagnostic[];
  /** ksqlDB's consistency vector of what the read saw, when `ksql.query.pull.consistency.token.enabled`. */
  readonly consistencyToken?: string;
}

/** A push query's outcome: a running query, or diagnostics. */
export type SubscribeOutcome =
  | {
      readonly ok: true;
      readonly query: PushQuery;
      /** A pull query (its rows are all there, then the iterator ends) rather than a push query. */
      readonly pull: boolean;
      /** What the query reads: a pull query on a stream ends with "Query Completed" in ksqlDB's REST API. */
      readonly resultType: "STREAM" | "TABLE";
      /** For a pull query: "Limit Reached" when LIMIT cut the rows, "Query Completed" after a stream's scan. */
      readonly finalMessage?: string;
      /** For a pull query with ksqlDB's consistency vectors on: the vector of what it read. */
      readonly consistencyToken?: string;
      readonly diagnostics: readonly Diagnostic[];
    }
  | {
      readonly ok: false;
      readonly diagnostics: readonly Diagnostic[];
      /** A push query that `admitPush` refused (no diagnostics: the caller says why). */
      readonly refused?: true;
    };

/** How a caller (the server) takes part in starting a query. */
export interface SubscribeOptions {
  /**
   * Called once the statement is known to be a push query, synchronously, before anything starts: false
   * refuses it (outcome `refused`). A server counts its push queries here, so the count cannot be raced.
   */
  readonly admitPush?: () => boolean;
}

type Compiled = { ok: true; query: AnalyzedQuery; span: Span } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Compiles `sql`, which must be exactly one SELECT. Spans are in `sql`. Statements that differ only in their
 * literals share one compilation (`prepared.ts`).
 */
export function compileSelect(env: QueryEngineEnv, sql: string): Compiled {
  return compileCached(env.catalog, env.properties, sql, (text) => compileSelectText(env, text));
}

/**
 * The error of a parsed text that is not exactly one statement (a query is one SELECT), or undefined. The server
 * asks it of texts it parsed on a worker, so it can refuse them without parsing them again.
 */
export function notOneStatement(
  parsed: { readonly statements: readonly { readonly statement: { readonly span: Span } }[] },
  sql: string,
): Diagnostic | undefined {
  if (parsed.statements.length === 1) return undefined;
  const span = parsed.statements[1]?.statement.span ?? {
    start: 0,
    end: sql.length,
    line: 1,
    col: 1,
    endLine: 1,
    endCol: sql.length + 1,
  };
  return diagError("QRY001", `expected one SELECT statement, found ${parsed.statements.length} statements`, span);
}

function compileSelectText(env: QueryEngineEnv, sql: string): Compiled {
  const parsed = parseScript(sql, { variables: env.variables });
  if (parsed.diagnostics.some((d) => d.severity === "error"))
    return { ok: false, diagnostics: [...parsed.diagnostics] };
  const at = parsed.statements[0];
  const notOne = notOneStatement(parsed, sql);
  if (!at || notOne) return { ok: false, diagnostics: [notOne!] };
  const span = at.statement.span;
  // The statement as parsed above (parsing it again would double a long statement's time on the event loop).
  const compiled = compileParsed(
    { statements: [at], diagnostics: [] },
    { catalog: env.catalog, properties: { ...env.properties }, functions: env.functions },
  );
  const errs = compiled.diagnostics.filter((d) => d.severity === "error");
  if (errs.length > 0) return { ok: false, diagnostics: errs };
  const a = compiled.statements[0]?.analyzed;
  if (a?.kind !== "Query") {
    return {
      ok: false,
      diagnostics: [diagError("QRY002", `expected a SELECT statement, found ${at.statement.kind}`, span)],
    };
  }
  return { ok: true, query: a.query, span };
}

let transients = 0;

/**
 * The plan of an analyzed SELECT: a read of a table a running query materializes, or a transient query over
 * the topics it reads, planned with their current partition counts.
 */
export async function planQuery(
  env: QueryEngineEnv,
  q: AnalyzedQuery,
  properties: Readonly<Record<string, string>> = env.properties,
): Promise<SelectPlan> {
  const read = planTableRead(q, (id) => env.queries.has(id));
  if (read) return read;
  if (q.asOf)
    throw new Error("FOR SYSTEM_TIME AS OF needs the table's history: the query that writes it is not running");
  const partitions = new Map<string, number>();
  for (const name of q.sources) {
    const src = env.catalog.source(name);
    if (src) partitions.set(src.topic, (await env.log.describeTopic(src.topic))?.partitions ?? src.partitions ?? 1);
  }
  const id = `transient_${process.pid}_${Date.now().toString(36)}_${transients++}`;
  return planTransient(id, q, env.catalog, (t) => partitions.get(t) ?? 1, properties);
}

/**
 * Runs an analyzed pull query; failures become a diagnostic at `span`. With several instances
 * (`env.remote`) and the statement's text, a table's partitions held elsewhere are asked for too, unless
 * `local` (the request came from another instance).
 */
export async function pullQuery(
  env: QueryEngineEnv,
  q: AnalyzedQuery,
  span: Span,
  gather?: { sql: string; local: boolean },
  properties: Readonly<Record<string, string>> = {},
): Promise<PullOutcome> {
  try {
    const consistency = consistencyRequest({ ...env.properties, ...properties });
    const plan = await planQuery(env, q);
    const pq = plan.kind === "TableRead" ? env.queries.get(plan.queryId) : undefined;
    // Read your writes: wait until the table has folded the token's positions (on every instance: a request
    // from another instance comes after its sender waited for all of them).
    if (consistency.after && pq && !gather?.local)
      await waitForTable(waitEnv(env), pq.id, consistency.after, consistency.timeoutMs);
    const r = await runPull(env, plan);
    // After the read: a later read that waits for this vector sees at least what this one saw.
    const vector = consistency.vector && pq ? { consistencyToken: encodeKsqlVector(await foldedPositions(pq)) } : {};
    if (env.remote && gather && !gather.local && pq && plan.kind === "TableRead") {
      const types = r.columns.map((c) => c.type);
      const ask = async (urls: string[]) =>
        (await Promise.all(urls.map((url) => pullFromPeer(url, gather.sql, types, env.remote!.headers)))).flat();
      // Whole-key lookups go to the owners of the keys' partitions only; a miss (keys not written where the
      // partitioner puts them) asks everyone, so a wrong guess costs time, never rows.
      const partitions = lookupPartitions(env, plan, pq);
      let remote: unknown[][];
      if (partitions) {
        const owners = env.remote.peers(pq.id, partitions);
        remote = await ask(owners);
        if (r.rows.length + remote.length === 0)
          remote = await ask(env.remote.peers(pq.id).filter((u) => !owners.includes(u)));
      } else {
        remote = await ask(env.remote.peers(pq.id));
      }
      const rows = [...r.rows, ...remote];
      return {
        columns: r.columns,
        rows: q.limit !== undefined ? rows.slice(0, q.limit) : rows,
        diagnostics: [],
        ...vector,
      };
    }
    return { ...r, diagnostics: [], ...vector };
  } catch (e) {
    const code = e instanceof ConsistencyError ? "RUN012" : "RUN002";
    return { columns: [], rows: [], diagnostics: [diagError(code, (e as Error).message, span)] };
  }
}

/** What a read-your-writes wait needs, from a query environment (peers asked through their REST API). */
function waitEnv(env: QueryEngineEnv): WaitEnv {
  const remote = env.remote;
  return {
    log: env.log,
    queries: env.queries,
    ...(env.drain ? { drain: env.drain } : {}),
    ...(remote
      ? { peers: { urls: (id: string) => remote.peers(id), waitStage: (url, w) => waitOnPeer(url, w, remote.headers) } }
      : {}),
  };
}

/** `engine.pull(sql)`; `properties` (e.g. a position token) over the session's for this query. */
export async function pullSql(
  env: QueryEngineEnv,
  sql: string,
  properties: Readonly<Record<string, string>> = {},
): Promise<PullOutcome> {
  const c = compileSelect(env, sql);
  if (!c.ok) return { columns: [], rows: [], diagnostics: c.diagnostics };
  if (!c.query.pull) {
    return {
      columns: [],
      rows: [],
      diagnostics: [
        diagError("QRY003", "expected a pull query, found a push query (EMIT CHANGES): use subscribe()", c.span),
      ],
    };
  }
  return pullQuery(env, c.query, c.span, { sql, local: false }, properties);
}

/** `engine.subscribe(sql)`: a push query (`EMIT CHANGES`), or a pull query's rows as a finite iterator. */
export async function subscribeSql(
  env: QueryEngineEnv,
  sql: string,
  properties: Readonly<Record<string, string>> = {},
  options: SubscribeOptions = {},
): Promise<SubscribeOutcome> {
  const c = compileSelect(env, sql);
  if (!c.ok) return { ok: false, diagnostics: c.diagnostics };
  if (c.query.pull) {
    const r = await pullQuery(env, c.query, c.span, { sql, local: properties[PULL_SCOPE] === LOCAL_SCOPE }, properties);
    if (r.diagnostics.length > 0) return { ok: false, diagnostics: r.diagnostics };
    const limited = c.query.limit !== undefined && r.rows.length >= c.query.limit;
    const finalMessage = limited ? "Limit Reached" : c.query.resultType === "STREAM" ? "Query Completed" : undefined;
    return {
      ok: true,
      query: fromRows(r.columns, r.rows),
      pull: true,
      resultType: c.query.resultType,
      ...(finalMessage ? { finalMessage } : {}),
      ...(r.consistencyToken ? { consistencyToken: r.consistencyToken } : {}),
      diagnostics: [],
    };
  }
  if (options.admitPush && !options.admitPush()) return { ok: false, refused: true, diagnostics: [] };
  try {
    let set = open.get(env.log);
    if (!set) open.set(env.log, (set = new Set()));
    const running = set;
    // The query's own properties (e.g. `auto.offset.reset`) over the session's.
    const plan = await planQuery(env, c.query, { ...env.properties, ...properties });
    if (plan.kind !== "Transient") throw new Error("internal: a push query planned as a table read");
    const query = await startPush({ ...env, onClose: (q) => running.delete(q) }, plan);
    running.add(query);
    return { ok: true, query, pull: false, resultType: c.query.resultType, diagnostics: [] };
  } catch (e) {
    return { ok: false, diagnostics: [diagError("RUN002", (e as Error).message, c.span)] };
  }
}

/** Push queries still running, per event log (so one engine's close can stop its own). */
const open = new WeakMap<object, Set<PushQuery>>();

/** Closes every push query started on `log` that is still running (on engine close). */
export async function closeSubscriptions(log: object): Promise<void> {
  const set = open.get(log);
  if (!set) return;
  await Promise.allSettled([...set].map((q) => q.close()));
  set.clear();
}

let finite = 0;

/** A finished result as a push query's iterator (pull queries through the streaming endpoints). */
export function fromRows(columns: readonly QueryColumn[], rows: unknown[][]): PushQuery {
  let i = 0;
  const it: PushQuery = {
    id: `pull_${finite++}`,
    columns,
    next: async () => (i < rows.length ? { done: false, value: rows[i++]! } : { done: true, value: undefined }),
    return: async () => {
      i = rows.length;
      return { done: true, value: undefined };
    },
    close: async () => {
      i = rows.length;
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
