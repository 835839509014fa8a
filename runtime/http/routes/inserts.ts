/**
 * `POST /inserts-stream`: ksqlDB's streaming inserts. The request body is JSON lines: first
 * `{"target": "<stream>"}`, then one JSON object per row (column name → value; `ROWTIME` sets the record's
 * timestamp). The answer streams one line per row as it is written, in order: `{"status":"ok","seq":n,"position":token}`
 * (the position token of the append that wrote it: read your writes, see `runtime/engine/consistency.ts`), or
 * `{"status":"error","seq":n,"error_code":40000,"message":...}` for a row that cannot be written (the others
 * are written), each ack its own chunk / DATA frame; with `Accept: application/json` (and not the delimited type)
 * the acks form one JSON array instead, as ksqlDB answers. Over HTTP/2 rows and acks interleave; over HTTP/1.1
 * the body is chunked the same way. The target line must arrive within the request timeout; the rows may then
 * come for as long as the client wants.
 */
import { formatType, type SqlType } from "../../../src/types/sqltype.ts";
import { fromJson } from "../../cluster/remote.ts";
import { JsonNumber, parseJsonLossless } from "../../serde/json.ts";
import { Bodies, MAX_JSON_DEPTH, nestedDeeperThan } from "../body.ts";
import type { Routes, ServerContext } from "../context.ts";
import { ERR, errorBody, FramedWriter, gone, HttpError, type Req, type Res } from "../protocol.ts";

type Target = NonNullable<ReturnType<ServerContext["engine"]["catalog"]["source"]>>;

/** Why a JSON value cannot be a value of `type`, or undefined when it can. */
function mismatch(v: unknown, type: SqlType): string | undefined {
  if (v === null) return undefined;
  const number = typeof v === "number" || v instanceof JsonNumber;
  const integral =
    (typeof v === "number" && Number.isInteger(v)) || (v instanceof JsonNumber && /^-?\d+$/.test(v.text));
  switch (type.kind) {
    case "INTEGER":
    case "BIGINT":
      return integral ? undefined : "an integer";
    case "DOUBLE":
      return number ? undefined : "a number";
    case "DECIMAL":
      return number || typeof v === "string" ? undefined : "a number";
    case "BOOLEAN":
      return typeof v === "boolean" ? undefined : "true or false";
    case "STRING":
    case "BYTES":
    case "DATE":
    case "TIME":
      return typeof v === "string" ? undefined : "a string";
    case "TIMESTAMP":
      return typeof v === "string" || integral ? undefined : "a string or epoch milliseconds";
    case "ARRAY":
      return Array.isArray(v) ? undefined : "an array";
    case "MAP":
    case "STRUCT":
      return typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonNumber) ? undefined : "an object";
    default:
      return undefined;
  }
}

/** A row object as runtime values by column name; throws with the reason when it does not fit the source. */
function rowValues(target: Target, row: unknown): Map<string, unknown> {
  if (typeof row !== "object" || row === null || Array.isArray(row)) throw new Error("a row must be a JSON object");
  const byName = new Map<string, unknown>();
  for (const [name, v] of Object.entries(row as Record<string, unknown>)) {
    if (name.toUpperCase() === "ROWTIME") {
      const t = v instanceof JsonNumber ? Number(v.text) : v;
      if (typeof t !== "number" || !Number.isInteger(t)) throw new Error("ROWTIME must be epoch milliseconds");
      byName.set("ROWTIME", t);
      continue;
    }
    const column =
      target.columns.find((c) => c.name === name) ?? target.columns.find((c) => c.name === name.toUpperCase());
    if (!column) throw new Error(`${target.name} has no column ${name}`);
    if (column.namespace === "HEADER") throw new Error(`cannot insert into the header column ${column.name}`);
    const wrong = mismatch(v, column.type);
    if (wrong)
      throw new Error(
        `the value of ${column.name} (${column.namespace === "KEY" ? "key, " : ""}${formatType(column.type)}) must be ${wrong}`,
      );
    byName.set(column.name, fromJson(v, column.type));
  }
  return byName;
}

export function insertRoutes(ctx: ServerContext): Routes {
  const { engine, options } = ctx;
  const maxLine = options.maxBodyBytes ?? 1 << 20;

  const inserts = async (req: Req, res: Res) => {
    if (options.readOnly)
      throw new HttpError(
        403,
        errorBody("generic_error", ERR.forbidden, "This server is read-only: inserts are refused."),
      );
    let target: Target | undefined;
    let seq = 0;
    let buffered = "";
    // As ksqlDB: acks as JSON lines (the default), or one JSON array for a client that accepts only JSON.
    const accept = String(req.headers.accept ?? "");
    const jsonArray = /application\/json/i.test(accept) && !/delimited/i.test(accept);
    const out = new FramedWriter(res);
    let acked = 0;
    /** Each ack its own chunk / DATA frame (clients parse one per chunk), in sequence order. */
    const ack = (line: object) => {
      const text = JSON.stringify(line);
      void out.write(jsonArray ? `${acked++ === 0 ? "[" : ","}${text}` : `${text}\n`);
    };
    /** Parses and writes complete lines; rows of one chunk go to the log in one append. */
    const lines = async (complete: string[]) => {
      const rows: { seq: number; values: Map<string, unknown> }[] = [];
      const flush = async () => {
        if (rows.length === 0) return;
        const batch = rows.splice(0);
        try {
          // Each ack carries the position token of its chunk (read your writes: `esql.consistency.token`).
          const position = await engine.appendRows(
            target!,
            batch.map((r) => r.values),
          );
          for (const r of batch) ack({ status: "ok", seq: r.seq, position });
        } catch (e) {
          for (const r of batch)
            ack({ status: "error", seq: r.seq, error_code: ERR.badRequest, message: (e as Error).message });
        }
      };
      for (const line of complete) {
        if (line.trim() === "") continue;
        let parsed: unknown;
        let error: string | undefined;
        if (nestedDeeperThan(line, MAX_JSON_DEPTH)) error = `a line nests deeper than ${MAX_JSON_DEPTH} levels`;
        else {
          try {
            parsed = /\d{16}/.test(line) ? parseJsonLossless(line) : JSON.parse(line);
          } catch (e) {
            error = `a line is not valid JSON: ${(e as Error).message}`;
          }
        }
        if (!target) {
          // The first line names the target: anything wrong there is the answer's status.
          if (error) throw new HttpError(400, errorBody("generic_error", ERR.badRequest, error));
          const t = Bodies.insertsTarget.safeParse(parsed);
          if (!t.success)
            throw new HttpError(
              400,
              errorBody("generic_error", ERR.badRequest, 'the first line must be {"target": "<stream name>"}'),
            );
          const source = engine.catalog.source(t.data.target) ?? engine.catalog.source(t.data.target.toUpperCase());
          if (!source)
            throw new HttpError(
              400,
              errorBody(
                "generic_error",
                ERR.badRequest,
                `Cannot insert values into an unknown stream: ${t.data.target}`,
              ),
            );
          target = source;
          // An insert stream lives as long as the client sends rows: no request timeout from here on.
          ctx.keepOpen(req);
          res.writeHead(200, {
            "content-type": jsonArray ? "application/json" : "application/vnd.ksqlapi.delimited.v1",
          });
          continue;
        }
        const n = seq++;
        try {
          if (error) throw new Error(error);
          rows.push({ seq: n, values: rowValues(target, parsed) });
        } catch (e) {
          // Rows before it are acknowledged first: acks stay in sequence order.
          await flush();
          ack({ status: "error", seq: n, error_code: ERR.badRequest, message: (e as Error).message });
        }
      }
      await flush();
    };
    const decoder = new TextDecoder();
    for await (const chunk of req as AsyncIterable<Buffer>) {
      buffered += decoder.decode(chunk, { stream: true });
      const nl = buffered.lastIndexOf("\n");
      if (nl < 0) {
        if (buffered.length > maxLine)
          throw new HttpError(
            413,
            errorBody("generic_error", ERR.tooLarge, `a line of the body exceeds the limit of ${maxLine} bytes`),
          );
        continue;
      }
      const complete = buffered.slice(0, nl).split("\n");
      buffered = buffered.slice(nl + 1);
      await lines(complete);
      // Rows are read as fast as their acks are written.
      await out.idle();
    }
    await lines([buffered + decoder.decode()]);
    if (!target) throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "the body names no target"));
    await out.idle();
    if (!gone(res)) res.end(jsonArray ? (acked === 0 ? "[]" : "]") : undefined);
  };

  return { "POST /inserts-stream": inserts };
}
