/**
 * Runs ksqlDB's REST cases (`conformance/ksql/rest/*.json`) through the real HTTP server: each case gets a
 * fresh engine and server; its statements go to `POST /ksql` (DDL, INSERT) or `POST /query` (SELECT), the
 * inputs are written to their topics before the first SELECT, and every response is compared with the
 * case's `responses` (or the case's `expectedError` with the failing request's answer).
 *
 * Pull query rows compare in any order (a table has no row order); push query rows in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../engine/engine.ts";
import { startServer, type RunningServer } from "../http/server.ts";
import { produceAndDrain, type InputRecord } from "./records.ts";
import { textOf } from "../serde/display.ts";

export interface RestCase {
  readonly name: string;
  readonly statements: readonly string[];
  readonly inputs?: readonly (InputRecord & { readonly topic: string })[];
  readonly properties?: Record<string, unknown>;
  readonly responses?: readonly RestResponse[];
  readonly expectedError?: { readonly type?: string; readonly message?: string; readonly status?: number };
  /** Value formats: the case runs once per format, substituted for `{FORMAT}` in the statements. */
  readonly format?: readonly string[];
  /** `waitForActivePushQuery`: the inputs are written once the push query runs (it reads from latest). */
  readonly inputConditions?: { readonly waitForActivePushQuery?: boolean };
}

/** A case per listed format (`{FORMAT}` substituted), or the case itself. */
export function expandFormats(c: RestCase): RestCase[] {
  if (!c.format || c.format.length === 0) return [c];
  return c.format.map((f) => ({
    ...c,
    name: `${c.name} [${f}]`,
    statements: c.statements.map((s) => s.replaceAll("{FORMAT}", f)),
  }));
}

type RestResponse =
  { readonly admin: Record<string, unknown> } | { readonly query: readonly Record<string, unknown>[] };

export interface RestOutcome {
  readonly name: string;
  readonly passed: boolean;
  /** Why it failed. */
  readonly reason?: string;
}

const isSelect = (s: string) => /^\s*SELECT\b/i.test(s);

/** Runs one case; never throws (a crash is a failure with its message). */
export async function runRestCase(c: RestCase, timeoutMs = 3000): Promise<RestOutcome> {
  const dir = mkdtempSync(join(tmpdir(), "esql-rest-"));
  let engine: Engine | undefined;
  let server: RunningServer | undefined;
  try {
    // As ksqlDB's own test server: no record cache, so every update of a table reaches its readers.
    engine = await Engine.open({
      dataDir: dir,
      persistent: false,
      processingLogStream: false,
      properties: { "ksql.streams.cache.max.bytes.buffering": "0" },
    });
    server = await startServer({ engine, drainIntervalMs: 0 });
    const props = Object.fromEntries(Object.entries(c.properties ?? {}).map(([k, v]) => [k, String(v)]));
    const responses = c.responses ?? [];
    let inputsDone = false;
    const writeInputs = async () => {
      if (inputsDone) return;
      inputsDone = true;
      const byTopic = new Map<string, InputRecord[]>();
      for (const r of c.inputs ?? []) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
      for (const [topic, records] of byTopic) await produceAndDrain(engine!, topic, records);
    };
    for (let i = 0; i < c.statements.length; i++) {
      const sql = c.statements[i]!;
      const expected = responses[i];
      const select = isSelect(sql);
      const afterStart = c.inputConditions?.waitForActivePushQuery === true;
      if (select && !afterStart) await writeInputs();
      const answer = select
        ? await query(server, sql, props, expected, timeoutMs, afterStart ? writeInputs : undefined)
        : await post(server, "/ksql", { ksql: sql, streamsProperties: props });
      if (!select) await engine.drain();
      if (answer.status !== 200) {
        if (c.expectedError && i >= responses.length) return errorOutcome(c, answer);
        return {
          name: c.name,
          passed: false,
          reason: `statement ${i + 1} failed (${answer.status}): ${messageOf(answer.body)}`,
        };
      }
      if (!expected) continue;
      const why = compare(expected, answer.body, select);
      if (why) return { name: c.name, passed: false, reason: `statement ${i + 1}: ${why}` };
    }
    if (c.expectedError)
      return { name: c.name, passed: false, reason: `expected an error: ${c.expectedError.message ?? ""}` };
    return { name: c.name, passed: true };
  } catch (e) {
    return { name: c.name, passed: false, reason: `crashed: ${(e as Error).message}` };
  } finally {
    await server?.close().catch(() => {});
    await engine?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

function errorOutcome(c: RestCase, answer: { status: number; body: unknown }): RestOutcome {
  const e = c.expectedError!;
  const message = messageOf(answer.body).replace(/^Line: \d+, Col: \d+: /, "");
  if (e.status !== undefined && e.status !== answer.status) {
    return { name: c.name, passed: false, reason: `expected status ${e.status}, found ${answer.status}: ${message}` };
  }
  if (e.message && !message.includes(e.message)) {
    return { name: c.name, passed: false, reason: `expected an error containing "${e.message}", found "${message}"` };
  }
  return { name: c.name, passed: true };
}

function messageOf(body: unknown): string {
  return typeof body === "object" && body !== null && "message" in body
    ? String((body as { message: unknown }).message)
    : JSON.stringify(body);
}

async function post(server: RunningServer, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(server.url + path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/**
 * POST /query, reading the streamed array until it ends, or until it holds as many rows as expected
 * (push queries without LIMIT never end), or until the timeout.
 */
async function query(
  server: RunningServer,
  sql: string,
  props: Record<string, string>,
  expected: RestResponse | undefined,
  timeoutMs: number,
  /** Runs once the header arrived (the query is running). */
  onStarted?: () => Promise<void>,
): Promise<{ status: number; body: unknown }> {
  const want = expected && "query" in expected ? expected.query.filter((x) => "row" in x).length : 0;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(server.url + "/query", {
      method: "POST",
      body: JSON.stringify({ ksql: sql, streamsProperties: { "auto.offset.reset": "earliest", ...props } }),
      headers: { "content-type": "application/json" },
      signal: ac.signal,
    });
    if (res.status !== 200) return { status: res.status, body: JSON.parse(await res.text()) };
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const items = (): unknown[] =>
      text
        .replace(/^\[/, "")
        .replace(/\]\s*$/, "")
        .split(",\n")
        .filter((s) => s.trim() !== "")
        .map((s) => JSON.parse(s));
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        text += decoder.decode(r.value, { stream: true });
        if (onStarted && text.includes("header")) {
          await onStarted();
          onStarted = undefined;
        }
        if (text.trimEnd().endsWith("]")) break;
        if (
          want > 0 &&
          items().filter((x) => typeof x === "object" && x !== null && "row" in x).length >= want &&
          !/LIMIT/i.test(sql)
        )
          break;
      }
    } catch {
      // timed out: compare what arrived
    }
    ac.abort();
    return { status: 200, body: items() };
  } finally {
    clearTimeout(timer);
  }
}

/** Why `actual` does not match the expected response, or undefined. */
function compare(expected: RestResponse, actual: unknown, select: boolean): string | undefined {
  if ("admin" in expected) {
    if (select) return "expected an admin response, ran a query";
    const list = Array.isArray(actual) ? actual : [];
    const type = expected.admin["@type"];
    if (type !== undefined && !list.some((e) => (e as Record<string, unknown>)["@type"] === type))
      return `expected @type ${textOf(type)}, found ${JSON.stringify(actual)}`;
    return undefined;
  }
  const got = Array.isArray(actual) ? (actual as Record<string, unknown>[]) : [];
  const exp = expected.query;
  const header = exp.find((x) => "header" in x)?.header as { schema?: string } | undefined;
  const gotHeader = got.find((x) => "header" in x)?.header as { schema?: string } | undefined;
  if (header?.schema !== undefined && header.schema !== gotHeader?.schema)
    return `header: expected ${header.schema}, found ${gotHeader?.schema}`;
  const rows = (l: readonly Record<string, unknown>[]) =>
    l.filter((x) => "row" in x).map((x) => JSON.stringify(normalize((x.row as { columns: unknown }).columns)));
  const er = rows(exp);
  const ar = rows(got);
  const pull = !exp.some((x) => x.finalMessage === "Limit Reached");
  const same = pull
    ? JSON.stringify([...er].sort()) === JSON.stringify([...ar].sort())
    : JSON.stringify(er) === JSON.stringify(ar);
  if (!same) return `rows: expected ${er.join(" ")}, found ${ar.join(" ")}`;
  const fm = exp.find((x) => "finalMessage" in x)?.finalMessage;
  const gfm = got.find((x) => "finalMessage" in x)?.finalMessage;
  if (fm !== undefined && fm !== gfm) return `final message: expected ${textOf(fm)}, found ${textOf(gfm)}`;
  return undefined;
}

/** Numbers compare by value (1.0 and 1 are one JSON number). */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}
