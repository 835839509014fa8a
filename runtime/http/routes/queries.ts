/**
 * Queries: `POST /query` (a chunked JSON array), `POST /query-stream` (delimited JSON lines, or one JSON array),
 * `POST /close-query`. Pull queries answer at once with a length; push queries stream until LIMIT, the client
 * leaving or `/close-query`, and are counted against the server's push-query limit.
 */
import { performance } from "node:perf_hooks";
import { formatType, type SqlType } from "../../../src/types/sqltype.ts";
import { isTombstone, type PushQuery, type QueryColumn } from "../../engine/push.ts";
import { notOneStatement } from "../../engine/queries.ts";
import { formatDecimal, stringifyExact } from "../../serde/index.ts";
import { toPlain } from "../../serde/display.ts";
import { Bodies } from "../body.ts";
import { parseRequestSql } from "../compile-pool.ts";
import type { Routes, ServerContext } from "../context.ts";
import { requestProperties, sessionVariables, withSession } from "../session.ts";
import {
  ERR,
  errorBody,
  FramedWriter,
  gone,
  HttpError,
  send,
  statementError,
  type Req,
  type Res,
} from "../protocol.ts";

/**
 * A value as ksqlDB's REST API writes it: DECIMAL as a JSON number, the rest as plain JSON data; a BIGINT
 * beyond ±2^53 stays a bigint, which {@link stringifyExact} writes as an exact JSON number.
 */
function restValue(v: unknown, type: SqlType): unknown {
  if (type.kind === "DECIMAL" && typeof v === "bigint") return Number(formatDecimal(v, type.scale));
  return toPlain(v, type, true);
}

/** Whether a value of `type` is or holds a DOUBLE. */
function holdsDouble(type: SqlType): boolean {
  switch (type.kind) {
    case "DOUBLE":
      return true;
    case "ARRAY":
      return holdsDouble(type.element);
    case "MAP":
      return holdsDouble(type.value);
    case "STRUCT":
      return type.fields.some((f) => holdsDouble(f.type));
    default:
      return false;
  }
}

/**
 * A value's JSON text as ksqlDB writes it. A DOUBLE keeps its type: ksqlDB (Jackson) writes 15.0 where
 * JavaScript writes 15, and clients that type columns by their JSON numbers read 15 as an integer.
 */
function restJson(v: unknown, type: SqlType): string {
  if (v === null || v === undefined) return "null";
  if (!holdsDouble(type)) return stringifyExact(restValue(v, type));
  switch (type.kind) {
    case "DOUBLE":
      return typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e21 ? `${v}.0` : JSON.stringify(v);
    case "ARRAY":
      return Array.isArray(v) ? `[${v.map((x) => restJson(x, type.element)).join(",")}]` : "null";
    case "MAP": {
      if (!(v instanceof Map)) return "null";
      const parts: string[] = [];
      for (const [k, x] of v) parts.push(`${JSON.stringify(String(toPlain(k, type.key)))}:${restJson(x, type.value)}`);
      return `{${parts.join(",")}}`;
    }
    case "STRUCT": {
      const o = v as Record<string, unknown>;
      return `{${type.fields.map((f) => `${JSON.stringify(f.name)}:${restJson(o[f.name] ?? null, f.type)}`).join(",")}}`;
    }
    default:
      return stringifyExact(restValue(v, type));
  }
}

/** A row's JSON array text, each value as {@link restJson} writes it. */
function rowJson(values: readonly unknown[], columns: readonly QueryColumn[]): string {
  if (!columns.some((c) => holdsDouble(c.type)))
    return stringifyExact(values.map((v, i) => restValue(v, columns[i]!.type)));
  return `[${values.map((v, i) => restJson(v, columns[i]!.type)).join(",")}]`;
}

/** ksqlDB's schema text: "`ID` BIGINT KEY, `NAME` STRING". */
export function schemaText(columns: readonly QueryColumn[]): string {
  return columns.map((c) => `\`${c.name}\` ${formatType(c.type)}${c.key ? " KEY" : ""}`).join(", ");
}

export function queryRoutes(ctx: ServerContext): Routes {
  const { engine, options, gate, running } = ctx;

  /**
   * Push queries admitted: counted when the engine knows the statement is a push query, before it starts
   * anything (so concurrent requests cannot all pass the check), and released when its rows stop.
   */
  let pushSlots = 0;
  const maxPush = options.maxPushQueries ?? 32;

  /**
   * Starts a SELECT (pull or push) for /query and /query-stream; errors as HttpError. A push query holds a
   * slot until {@link pumpRows} ends it.
   */
  const startQuery = async (
    res: Res,
    sql: string,
    props: Record<string, string>,
    variables: ReadonlyMap<string, string>,
  ): Promise<{ query: PushQuery; pull: boolean; finalMessage?: string; consistencyToken?: string }> => {
    ctx.body.checkSqlLength(sql);
    if (ctx.sqlParser.offloads(sql)) {
      // The engine compiles on the event loop: a long text's syntax errors are answered from a worker instead.
      const parsed = await parseRequestSql(ctx.sqlParser, sql, new Map([...engine.variables, ...variables]));
      const problem = parsed.diagnostics.some((d) => d.severity === "error")
        ? parsed.diagnostics[0]
        : notOneStatement(parsed, sql);
      if (problem) throw new HttpError(400, statementError(problem, sql));
    }
    const t0 = performance.now();
    let admitted = false;
    const admitPush = () => {
      if (pushSlots >= maxPush) return false;
      pushSlots++;
      admitted = true;
      return true;
    };
    // Session variables are substituted as the statement compiles: then the query holds the gate alone.
    const r =
      variables.size === 0
        ? await gate.run(false, () => engine.subscribe(sql, props, { admitPush }))
        : await gate.run(true, () =>
            withSession(engine, {}, variables, () => engine.subscribe(sql, props, { admitPush })),
          );
    if (!r.ok) {
      if (admitted) pushSlots--;
      if (r.refused)
        throw new HttpError(
          429,
          errorBody(
            "generic_error",
            ERR.tooMany,
            `too many push queries running (at most ${maxPush}); close one first`,
          ),
        );
      throw new HttpError(400, statementError(r.diagnostics[0]!, sql));
    }
    if (r.pull) ctx.pullLatency.observe((performance.now() - t0) / 1000);
    else if (gone(res)) {
      // The client left while the query started: nobody will pump it.
      pushSlots--;
      await r.query.close();
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "the client went away"));
    }
    return {
      query: r.query,
      pull: r.pull,
      ...(r.finalMessage ? { finalMessage: r.finalMessage } : {}),
      ...(r.ok && r.consistencyToken ? { consistencyToken: r.consistencyToken } : {}),
    };
  };

  const pumpRows = async (
    res: Res,
    query: PushQuery,
    /** Writes one row (its JSON array text) as its own chunk / DATA frame; settles once it is written. */
    write: (row: string, tombstone: boolean) => Promise<void>,
  ): Promise<"done" | "closed"> => {
    let closed = false;
    const stop = () => {
      closed = true;
      void query.close();
    };
    let finished!: () => void;
    running.set(query.id, { query, stop, done: new Promise<void>((r) => (finished = r)) });
    res.on("close", stop);
    try {
      for (;;) {
        const r = await query.next();
        if (r.done || closed) return closed ? "closed" : "done";
        // The next row waits for this one to reach the socket: a slow client slows the query down.
        await write(rowJson(r.value, query.columns), isTombstone(r.value));
        if (gone(res)) closed = true;
      }
    } finally {
      running.delete(query.id);
      pushSlots--;
      res.off("close", stop);
      await query.close().finally(finished);
    }
  };

  /**
   * A pull query's rows are all in memory already: one response with a length (no chunks, no bookkeeping of
   * a running query), which is what keeps a key lookup's cost close to the lookup itself.
   */
  const writeAll = async (
    res: Res,
    q: PushQuery,
    contentType: string,
    head: string,
    row: (row: string, tombstone: boolean) => string,
    tail: string,
  ) => {
    const parts = [head];
    try {
      for (let r = await q.next(); !r.done; r = await q.next()) {
        parts.push(row(rowJson(r.value, q.columns), isTombstone(r.value)));
      }
    } finally {
      await q.close();
    }
    parts.push(tail);
    const text = parts.join("");
    if (gone(res)) return;
    res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  /** POST /query: a chunked JSON array. */
  const query = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.query);
    const {
      query: q,
      pull,
      finalMessage,
      consistencyToken,
    } = await startQuery(
      res,
      body.ksql,
      // ksqlDB's consistency vector comes back in requestProperties.
      { ...requestProperties(body.streamsProperties), ...requestProperties(body.requestProperties) },
      sessionVariables(body.sessionVariables),
    );
    const header = `[${JSON.stringify({ header: { queryId: q.id, schema: schemaText(q.columns) } })}`;
    const rowText = (row: string, tombstone: boolean) =>
      `,\n{"row":{"columns":${row}${tombstone ? ',"tombstone":true' : ""}}}`;
    if (pull)
      return writeAll(
        res,
        q,
        "application/json",
        header,
        rowText,
        (consistencyToken === undefined ? "" : `,\n${JSON.stringify({ consistencyToken: { consistencyToken } })}`) +
          (finalMessage === undefined ? "]\n" : `,\n${JSON.stringify({ finalMessage })}]\n`),
      );
    res.writeHead(200, { "content-type": "application/json" });
    const out = new FramedWriter(res);
    void out.write(header);
    let end: "done" | "closed";
    try {
      end = await pumpRows(res, q, (row, tombstone) => out.write(rowText(row, tombstone)));
    } catch (e) {
      // The status line is gone: the error becomes the array's last element.
      await out.idle();
      if (!gone(res))
        res.end(
          `,\n${JSON.stringify({ errorMessage: errorBody("generic_error", ERR.server, (e as Error).message) })}]\n`,
        );
      return;
    }
    await out.idle();
    if (gone(res)) return;
    const final = end === "closed" ? undefined : pull ? finalMessage : "Limit Reached";
    res.end(final === undefined ? "]\n" : `,\n${JSON.stringify({ finalMessage: final })}]\n`);
  };

  /**
   * POST /query-stream: delimited JSON lines (`application/vnd.ksqlapi.delimited.v1`, the default), or one
   * JSON array `[header, row, ...]` when the client accepts `application/json` and not the delimited type.
   */
  const queryStream = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.queryStream);
    const accept = String(req.headers.accept ?? "");
    const json = /application\/json/i.test(accept) && !/delimited/i.test(accept);
    const {
      query: q,
      pull,
      consistencyToken,
    } = await startQuery(
      res,
      body.sql,
      { ...requestProperties(body.properties), ...requestProperties(body.requestProperties) },
      sessionVariables(body.sessionVariables),
    );
    const contentType = json ? "application/json" : "application/vnd.ksqlapi.delimited.v1";
    const header = JSON.stringify({
      queryId: q.id,
      columnNames: q.columns.map((c) => c.name),
      columnTypes: q.columns.map((c) => formatType(c.type)),
    });
    if (pull)
      return writeAll(
        res,
        q,
        contentType,
        json ? `[${header}` : `${header}\n`,
        (row) => (json ? `,\n${row}` : `${row}\n`),
        consistencyToken === undefined
          ? json
            ? "]\n"
            : ""
          : json
            ? `,\n${JSON.stringify({ consistencyToken })}]\n`
            : `${JSON.stringify({ consistencyToken })}\n`,
      );
    res.writeHead(200, { "content-type": contentType });
    const out = new FramedWriter(res);
    void out.write(json ? `[${header}` : `${header}\n`);
    try {
      await pumpRows(res, q, (row) => out.write(json ? `,\n${row}` : `${row}\n`));
    } catch (e) {
      const error = JSON.stringify(errorBody("generic_error", ERR.server, (e as Error).message));
      await out.idle();
      if (!gone(res)) res.end(json ? `,\n${error}]\n` : `${error}\n`);
      return;
    }
    await out.idle();
    if (!gone(res)) res.end(json ? "]\n" : undefined);
  };

  const closeQuery = async (req: Req, res: Res) => {
    const id = (await ctx.body.readBody(req, Bodies.closeQuery)).queryId;
    const q = running.get(id);
    if (!q) throw new HttpError(400, errorBody("generic_error", ERR.badRequest, `no running query with id ${id}`));
    q.stop();
    send(res, 200, {});
  };

  return { "POST /query": query, "POST /query-stream": queryStream, "POST /close-query": closeQuery };
}
