/**
 * Read your writes. Every write (INSERT ... VALUES, `POST /inserts-stream`, `esql produce`, `Engine.appendRows`)
 * returns a position token: the offsets it wrote, per topic and partition (the next offset after each, so a
 * token says "everything before these offsets"). A pull query given a token waits, up to a timeout, until the
 * table it reads has folded past those positions, then reads.
 *
 * "Folded past" follows the data: the stages of the table's query (and of the queries upstream whose sink
 * topics it reads) in order. A stage is caught up when each of its tasks has committed input positions at or
 * beyond the target for its partition; as a task appends its outputs before it commits, the end offsets of the
 * stage's output topic (a repartition topic, or an upstream query's sink) at that moment cover every record
 * derived from the target, and become the next stage's target. With several instances, each stage is a
 * barrier across them: the instance that answers asks every other owner of the query's partitions to wait for
 * the stage (`POST /esql/wait`, see `runtime/cluster/remote.ts`) while it waits for its own tasks.
 *
 * Also ksqlDB's consistency vectors (monotonic reads, `ksql.query.pull.consistency.token.enabled`): base64 of
 * `{"version":0,"offsetVector":{topic:{partition:offset}}}`, offsets being the last ones folded. A pull query
 * with `request.ksql.query.pull.consistency.token` waits for the vector as for a token; a pull query with the
 * feature on answers the vector its table has folded.
 */
import type { AppendResult, EventLog } from "../log/types.ts";
import type { PersistentQuery } from "../query/query.ts";

/** Topic → partition → the next offset (everything before it). */
export type Positions = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** The query property carrying a position token (REST request property, `SET` in the REPL, API option). */
export const CONSISTENCY_TOKEN = "esql.consistency.token";
/** How long a pull query waits for its token (ms). */
export const CONSISTENCY_TIMEOUT = "esql.consistency.timeout.ms";
export const DEFAULT_CONSISTENCY_TIMEOUT_MS = 10_000;
/** ksqlDB: answer pull queries with a consistency vector. */
export const KSQL_VECTOR_ENABLED = "ksql.query.pull.consistency.token.enabled";
/** ksqlDB: the consistency vector a client sends back (in `requestProperties`). */
export const KSQL_VECTOR_REQUEST = "request.ksql.query.pull.consistency.token";

const PREFIX = "esql1.";

/** The internal endpoint that makes an instance wait for a stage of a query (read your writes across instances). */
export const WAIT_PATH = "/esql/wait";

/** A token that cannot be read, or a wait that timed out: the message says which and why. */
export class ConsistencyError extends Error {
  override readonly name = "ConsistencyError";
}

/** The positions an append reached in `topic`. */
export function appendedPositions(topic: string, results: readonly AppendResult[]): Positions {
  const m = new Map<number, number>();
  for (const r of results) m.set(r.partition, Math.max(m.get(r.partition) ?? 0, r.offset + 1));
  return new Map(m.size > 0 ? [[topic, m]] : []);
}

/** The larger position of each topic partition of `ps`. */
export function mergePositions(...ps: readonly Positions[]): Positions {
  const out = new Map<string, Map<number, number>>();
  for (const p of ps) {
    for (const [topic, parts] of p) {
      let m = out.get(topic);
      if (!m) out.set(topic, (m = new Map()));
      for (const [partition, offset] of parts) m.set(partition, Math.max(m.get(partition) ?? 0, offset));
    }
  }
  return out;
}

/** The response header of `POST /ksql` carrying the position token of the INSERT ... VALUES it ran. */
export const POSITION_HEADER = "esql-position";

/** One token for the positions of two (the later write of each partition). */
export function mergeTokens(a: string | undefined, b: string): string {
  return a === undefined ? b : encodeToken(mergePositions(decodeToken(a), decodeToken(b)));
}

/** A token's text: `esql1.` + base64url of `topic:partition=offset,...;...` (numbers in base 36). */
export function encodeToken(p: Positions): string {
  const parts = [...p]
    .filter(([, m]) => m.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([topic, m]) =>
        `${encodeURIComponent(topic)}:${[...m]
          .sort((a, b) => a[0] - b[0])
          .map(([q, o]) => `${q.toString(36)}=${o.toString(36)}`)
          .join(",")}`,
    );
  return PREFIX + Buffer.from(parts.join(";")).toString("base64url");
}

/** The positions of a token; throws {@link ConsistencyError} for anything that is not one. */
export function decodeToken(token: string): Positions {
  const t = token.trim();
  const bad = (why: string) =>
    new ConsistencyError(
      `'${t.length > 40 ? `${t.slice(0, 40)}...` : t}' is not a position token (${why}); tokens come from writes: ` +
        `INSERT ... VALUES, POST /inserts-stream, esql produce`,
    );
  if (!t.startsWith(PREFIX)) throw bad(`it does not start with '${PREFIX}'`);
  const body = t.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw bad("not base64url");
  const text = Buffer.from(body, "base64url").toString("utf8");
  const out = new Map<string, Map<number, number>>();
  if (text === "") return out;
  for (const part of text.split(";")) {
    const at = part.lastIndexOf(":");
    if (at <= 0) throw bad("a topic without positions");
    let topic: string;
    try {
      topic = decodeURIComponent(part.slice(0, at));
    } catch {
      throw bad("a malformed topic name");
    }
    const m = new Map<number, number>();
    for (const pair of part.slice(at + 1).split(",")) {
      const [q, o] = pair.split("=");
      if (!q || !o || !/^[0-9a-z]+$/.test(q) || !/^[0-9a-z]+$/.test(o)) throw bad(`a malformed position '${pair}'`);
      const partition = parseInt(q, 36);
      const offset = parseInt(o, 36);
      if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) throw bad("a position out of range");
      m.set(partition, offset);
    }
    out.set(topic, m);
  }
  return out;
}

/** ksqlDB's consistency vector for positions (its offsets are the last folded: one less than ours). */
export function encodeKsqlVector(p: Positions): string {
  const offsetVector: Record<string, Record<string, number>> = {};
  for (const [topic, m] of p) {
    const o: Record<string, number> = {};
    for (const [partition, next] of m) if (next > 0) o[String(partition)] = next - 1;
    if (Object.keys(o).length > 0) offsetVector[topic] = o;
  }
  return Buffer.from(JSON.stringify({ version: 0, offsetVector })).toString("base64");
}

/** The positions of a ksqlDB consistency vector; throws {@link ConsistencyError} when it is not one. */
export function decodeKsqlVector(vector: string): Positions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(vector, "base64").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const ov = (parsed as { offsetVector?: unknown } | undefined)?.offsetVector;
  if (typeof ov !== "object" || ov === null || Array.isArray(ov))
    throw new ConsistencyError(`${KSQL_VECTOR_REQUEST} is not a ksqlDB consistency vector (base64 JSON)`);
  const out = new Map<string, Map<number, number>>();
  for (const [topic, parts] of Object.entries(ov as Record<string, unknown>)) {
    const m = new Map<number, number>();
    for (const [q, o] of Object.entries((parts ?? {}) as Record<string, unknown>)) {
      const partition = Number(q);
      if (!Number.isSafeInteger(partition) || typeof o !== "number" || !Number.isSafeInteger(o))
        throw new ConsistencyError(`${KSQL_VECTOR_REQUEST}: a malformed offset for ${topic}/${q}`);
      m.set(partition, o + 1);
    }
    out.set(topic, m);
  }
  return out;
}

/** What a pull query waits for, from its properties (the session's, then the request's). */
export interface ConsistencyRequest {
  readonly after?: Positions;
  readonly timeoutMs: number;
  /** Answer ksqlDB's consistency vector. */
  readonly vector: boolean;
}

/** Reads a pull query's consistency properties; throws {@link ConsistencyError} for malformed values. */
export function consistencyRequest(properties: Readonly<Record<string, string>>): ConsistencyRequest {
  const token = properties[CONSISTENCY_TOKEN]?.trim();
  const vector = properties[KSQL_VECTOR_REQUEST]?.trim();
  const timeoutText = properties[CONSISTENCY_TIMEOUT]?.trim();
  const timeoutMs = timeoutText ? Number(timeoutText) : DEFAULT_CONSISTENCY_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0)
    throw new ConsistencyError(`${CONSISTENCY_TIMEOUT} must be a number of milliseconds, not '${timeoutText}'`);
  const afters = [...(token ? [decodeToken(token)] : []), ...(vector ? [decodeKsqlVector(vector)] : [])];
  return {
    ...(afters.length > 0 ? { after: mergePositions(...afters) } : {}),
    timeoutMs,
    vector: (properties[KSQL_VECTOR_ENABLED] ?? "").trim().toLowerCase() === "true",
  };
}

/** What waiting needs from the engine. */
export interface WaitEnv {
  readonly log: EventLog;
  readonly queries: ReadonlyMap<string, PersistentQuery>;
  /** Runs the local queries over what their inputs hold (the engine's drain), so a wait never waits for a timer. */
  readonly drain?: () => Promise<unknown>;
  /** With several instances: the other owners of a query's partitions, and how to make one wait for a stage. */
  readonly peers?: {
    urls(queryId: string): string[];
    /** Resolves with the partitions the peer holds (undefined: it did not say). */
    waitStage(url: string, wait: StageWait): Promise<HeldPartitions | undefined>;
  };
}

/** One stage of one query to catch up with `positions` (the body of `POST /esql/wait`, token-encoded). */
export interface StageWait {
  readonly queryId: string;
  readonly stage: string;
  readonly positions: Positions;
  readonly timeoutMs: number;
}

/**
 * Waits until query `queryId` (the one materializing a table) has folded everything before `target`, through
 * the queries upstream of it and every stage; throws {@link ConsistencyError} when `timeoutMs` passes first.
 */
export async function waitForTable(env: WaitEnv, queryId: string, target: Positions, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const targets = mergePositions(target) as Map<string, Map<number, number>>;
  const chain = upstreamFirst(env.queries, queryId);
  for (const q of chain) {
    const stages = q.plan.topology.stages;
    for (let si = 0; si < stages.length; si++) {
      const stage = stages[si]!;
      const wanted = new Map<string, ReadonlyMap<number, number>>();
      for (const input of stage.inputs) {
        const t = targets.get(input.topic);
        if (t && t.size > 0) wanted.set(input.topic, t);
      }
      if (wanted.size === 0) continue;
      // With several instances, each partition's task is waited for where it runs; a partition no instance
      // holds at that moment (a rebalance moving it) is asked again until one does.
      for (;;) {
        const peers = env.peers?.urls(q.id) ?? [];
        const held = await Promise.all([
          waitStage(env, q, stage.id, wanted, deadline, timeoutMs),
          ...peers.map((url) =>
            env.peers!.waitStage(url, {
              queryId: q.id,
              stage: stage.id,
              positions: wanted,
              timeoutMs: Math.max(0, deadline - Date.now()),
            }),
          ),
        ]);
        const missing = env.peers ? unheld(wanted, held) : undefined;
        if (missing === undefined) break;
        if (Date.now() >= deadline)
          throw new ConsistencyError(
            `timed out waiting for query ${q.id} to fold past the position token: stage ${stage.id}, partition ` +
              `${missing.partition} of ${missing.topic} is held by no instance after ${timeoutMs} ms ` +
              `(${CONSISTENCY_TIMEOUT}); is the group rebalancing?`,
          );
        await sleep(Math.min(50, deadline - Date.now()));
      }
      const last = q === chain[chain.length - 1] && si === stages.length - 1;
      if (last) continue;
      // Outputs are appended before the commit that moved the positions: the output's end covers them.
      const out = stage.output.kind === "Sink" ? stage.output.sink.topic : stage.output.topic;
      const partitions = (await env.log.describeTopic(out))?.partitions ?? 0;
      let m = targets.get(out);
      if (!m) targets.set(out, (m = new Map()));
      for (let p = 0; p < partitions; p++) m.set(p, Math.max(m.get(p) ?? 0, await env.log.endOffset(out, p)));
    }
  }
}

/**
 * Waits until this instance's tasks of stage `stageId` of `q` have committed positions at or beyond
 * `positions` on their inputs (partitions held elsewhere are the other instances' to wait for).
 */
export async function waitStage(
  env: WaitEnv,
  q: PersistentQuery,
  stageId: string,
  positions: Positions,
  deadline: number,
  timeoutMs: number,
): Promise<HeldPartitions> {
  for (let attempt = 0; ; attempt++) {
    const behind = await lagging(q, stageId, positions);
    if (behind === undefined) return heldInputs(q, stageId, positions);
    const left = deadline - Date.now();
    if (left <= 0)
      throw new ConsistencyError(
        `timed out waiting for query ${q.id} to fold past the position token: stage ${stageId}, partition ` +
          `${behind.partition} of ${behind.topic} is at offset ${behind.at}, the token asks for ${behind.want} ` +
          `after ${timeoutMs} ms (${CONSISTENCY_TIMEOUT}); is the query running and its input readable?`,
      );
    // Fold what is there now (drains run one at a time: this joins the engine's own), or wait a little.
    if (env.drain && attempt % 2 === 0) {
      await Promise.race([env.drain().catch(() => undefined), sleep(left)]);
    } else {
      await sleep(Math.min(left, 5 + attempt));
    }
  }
}

/** The input partitions (`topic` → partitions) whose tasks an instance waited for. */
export type HeldPartitions = ReadonlyMap<string, readonly number[]>;

/** The inputs of `positions` this instance's tasks of the stage hold. */
function heldInputs(q: PersistentQuery, stageId: string, positions: Positions): HeldPartitions {
  const held = new Map<string, number[]>();
  for (const t of q.tasks) {
    if (t.stage.id !== stageId) continue;
    for (const input of t.stage.inputs) {
      if (positions.get(input.topic)?.get(t.partition) === undefined) continue;
      const list = held.get(input.topic) ?? [];
      list.push(t.partition);
      held.set(input.topic, list);
    }
  }
  return held;
}

/**
 * A partition of `wanted` that none of the instances' answers holds, or undefined when each is held (or when an
 * answer does not say what it holds: an instance of an earlier release, trusted as before).
 */
function unheld(
  wanted: Positions,
  answers: readonly (HeldPartitions | undefined)[],
): { topic: string; partition: number } | undefined {
  if (answers.some((a) => a === undefined)) return undefined;
  for (const [topic, partitions] of wanted) {
    for (const partition of partitions.keys()) {
      if (!answers.some((a) => a!.get(topic)?.includes(partition))) return { topic, partition };
    }
  }
  return undefined;
}

/** The first task input of the stage behind `positions`, or undefined when none is. */
async function lagging(
  q: PersistentQuery,
  stageId: string,
  positions: Positions,
): Promise<{ topic: string; partition: number; at: number; want: number } | undefined> {
  for (const t of q.tasks) {
    if (t.stage.id !== stageId) continue;
    for (let i = 0; i < t.stage.inputs.length; i++) {
      const topic = t.stage.inputs[i]!.topic;
      const want = positions.get(topic)?.get(t.partition);
      if (want === undefined) continue;
      const at = await t.currentPosition(i);
      if (at < want) return { topic, partition: t.partition, at, want };
    }
  }
  return undefined;
}

/**
 * The queries feeding query `queryId` through their sink topics (transitively), upstream first, ending with
 * `queryId` itself.
 */
function upstreamFirst(queries: ReadonlyMap<string, PersistentQuery>, queryId: string): PersistentQuery[] {
  const bySink = new Map<string, PersistentQuery[]>();
  for (const q of queries.values()) {
    const stages = q.plan.topology.stages;
    const out = stages[stages.length - 1]?.output;
    if (out?.kind !== "Sink") continue;
    const list = bySink.get(out.sink.topic) ?? [];
    list.push(q);
    bySink.set(out.sink.topic, list);
  }
  const order: PersistentQuery[] = [];
  const seen = new Set<string>();
  const visit = (q: PersistentQuery) => {
    if (seen.has(q.id)) return;
    seen.add(q.id);
    for (const st of q.plan.topology.stages)
      for (const input of st.inputs)
        if (input.kind === "source") for (const up of bySink.get(input.topic) ?? []) visit(up);
    order.push(q);
  };
  const q = queries.get(queryId);
  if (q) visit(q);
  return order;
}

/** The source-topic positions query `queryId`'s tasks on this instance have folded (for ksqlDB's vector). */
export async function foldedPositions(q: PersistentQuery): Promise<Positions> {
  const out = new Map<string, Map<number, number>>();
  for (const t of q.tasks) {
    for (let i = 0; i < t.stage.inputs.length; i++) {
      const input = t.stage.inputs[i]!;
      if (input.kind !== "source") continue;
      let m = out.get(input.topic);
      if (!m) out.set(input.topic, (m = new Map()));
      m.set(t.partition, await t.currentPosition(i));
    }
  }
  return out;
}

/**
 * Asks the instance at `url` to wait until its tasks of a query's stage have folded past positions (its
 * `POST /esql/wait`); resolves when they have, throws {@link ConsistencyError} when they had not in time.
 */
export async function waitOnPeer(
  url: string,
  wait: StageWait,
  headers: Readonly<Record<string, string>> = {},
): Promise<HeldPartitions | undefined> {
  const res = await fetch(new URL(WAIT_PATH, url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({
      queryId: wait.queryId,
      stage: wait.stage,
      token: encodeToken(wait.positions),
      timeoutMs: wait.timeoutMs,
    }),
    signal: AbortSignal.timeout(wait.timeoutMs + 10_000),
  });
  if (res.ok) {
    const body = (await res.json().catch(() => ({}))) as { held?: [string, number[]][] };
    return Array.isArray(body.held) ? new Map(body.held) : undefined;
  }
  const text = await res.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // not JSON: keep the text
  }
  throw new ConsistencyError(`the instance at ${url}: ${message}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
