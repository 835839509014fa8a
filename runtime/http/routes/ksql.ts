/**
 * `POST /ksql`: statements (DDL, DML, SHOW, DESCRIBE, EXPLAIN, ...), one ksqlDB entity per statement:
 *
 * - SHOW/LIST, DESCRIBE, EXPLAIN: the engine's entities (`runtime/engine/entities.ts`);
 * - `CREATE ... IF NOT EXISTS` of a source that exists: a `warning_entity` (nothing is recorded);
 * - `TERMINATE <id>` of a push query this server streams (a transient query id, as ksqlDB's clients stop push
 *   queries): that query is closed, answered with a `terminate_query` entity;
 * - any other statement: `currentStatus` with its command id, and as `commandSequenceNumber` its offset in the
 *   engine's command topic (stable across restarts; -1 for statements that change no state, which are not
 *   recorded, and on an engine that records nothing).
 *
 * A SELECT or PRINT is refused (400, error code 40002) before anything runs, as ksqlDB does: they go to
 * `/query` or `/query-stream`. `GET /status` and `GET /status/{commandId}` tell the commands' outcomes.
 */
import type { CompiledStatement } from "../../../src/compile.ts";
import { mergeTokens, POSITION_HEADER } from "../../engine/consistency.ts";
import { describeEntity } from "../../engine/entities.ts";
import { Bodies } from "../body.ts";
import { parseRequestSql } from "../compile-pool.ts";
import type { Routes, ServerContext } from "../context.ts";
import { ERR, errorBody, HttpError, send, statementError, type Req, type Res } from "../protocol.ts";
import { requestProperties, sessionVariables, withSession } from "../session.ts";

/** Statements a read-only server still runs: they look, they do not change. */
const READ_ONLY_KINDS = new Set(["Show", "Describe", "Explain", "Print", "QueryStatement"]);

/** ksqlDB's message for statements `/ksql` does not run. */
const QUERY_ENDPOINT = (what: string) =>
  `The following statement types should be issued to the websocket endpoint '/query': ${what}`;

/** A statement's text as ksqlDB's entities give it: with its `;`. */
const withSemicolon = (text: string) => (text.trimEnd().endsWith(";") ? text.trimEnd() : `${text.trimEnd()};`);

/** ksqlDB's command id: `<type>/<entity>/<action>`. */
function commandId(c: CompiledStatement | undefined, sequence: number): string {
  const st = c?.statement;
  switch (st?.kind) {
    case "CreateSource":
    case "CreateAsSelect":
      return `${st.sourceType.toLowerCase()}/${st.name.value}/create`;
    case "DropSource":
      return `${st.sourceType.toLowerCase()}/${st.name.value}/drop`;
    case "Terminate":
      return `terminate/${st.all ? "ALL" : (st.queryId ?? "")}/execute`;
    case "InsertInto":
      return `stream/${st.target.value}/create`;
    default:
      return `ksql/${sequence}/execute`;
  }
}

/** The statement is `CREATE ... IF NOT EXISTS` of a source that existed: the analyzer made it a no-op. */
function existed(c: CompiledStatement | undefined): { type: string; name: string } | undefined {
  const st = c?.statement;
  if ((st?.kind === "CreateSource" || st?.kind === "CreateAsSelect") && st.ifNotExists && c?.analyzed?.kind === "Other")
    return { type: st.sourceType.toLowerCase(), name: st.name.value };
  return undefined;
}

export function ksqlRoutes(ctx: ServerContext): Routes {
  const { engine, options, gate } = ctx;
  /** Outcomes of the commands run since the server started, by command id (`GET /status`). */
  const statuses = new Map<string, { status: string; message: string }>();
  let executed = 0;

  /** POST /ksql: runs each statement; stops at the first error (as ksqlDB does). */
  const ksql = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.ksql);
    const text = body.ksql;
    ctx.body.checkSqlLength(text);
    const props = requestProperties(body.streamsProperties);
    const variables = sessionVariables(body.sessionVariables);
    const entities: unknown[] = [];
    // A script with a syntax error runs nothing.
    const parsedWith = new Map([...engine.variables, ...variables]);
    const parsed = await parseRequestSql(ctx.sqlParser, text, parsedWith, true);
    const syntax = parsed.diagnostics.find((d) => d.severity === "error");
    if (syntax) throw new HttpError(400, statementError(syntax, text));
    const query = parsed.statements.find((p) => p.statement.kind === "QueryStatement" || p.statement.kind === "Print");
    if (query) {
      throw new HttpError(
        400,
        errorBody(
          "statement_error",
          ERR.queryEndpoint,
          QUERY_ENDPOINT(query.statement.kind === "Print" ? "PRINT" : "SELECT"),
          { statementText: withSemicolon(query.text), entities: [] },
        ),
      );
    }
    // TERMINATE of a push query streaming from this server (ksqlDB's transient query ids) closes it; the
    // engine knows only persistent queries.
    const only = parsed.statements.length === 1 ? parsed.statements[0]!.statement : undefined;
    const terminated = only?.kind === "Terminate" ? only.queryId?.toUpperCase() : undefined;
    const push =
      terminated === undefined ? undefined : [...ctx.running.entries()].find(([id]) => id.toUpperCase() === terminated);
    if (push) {
      push[1].stop();
      await push[1].done;
      send(res, 200, [
        {
          "@type": "terminate_query",
          statementText: withSemicolon(parsed.statements[0]!.text),
          queryId: push[0],
          wasTerminated: true,
          warnings: [],
        },
      ]);
      return;
    }
    if (options.readOnly) {
      const write = parsed.statements.find((p) => !READ_ONLY_KINDS.has(p.statement.kind));
      if (write) {
        throw new HttpError(
          403,
          errorBody(
            "statement_error",
            ERR.forbidden,
            "This server is read-only: statements that change streams, tables, queries or properties are refused.",
            { statementText: write.text },
          ),
        );
      }
    }
    let position: string | undefined;
    await gate.run(true, () =>
      withSession(engine, props, variables, async () => {
        // The statements parsed above (on a worker thread when the text is long) are not parsed again, unless
        // another request changed the variables meanwhile.
        const r = await engine.execute(text, sameEntries(engine.variables, parsedWith) ? { parsed } : {});
        for (const result of r.results) {
          const x = { ...result, text: withSemicolon(result.text) };
          if (x.kind === "ok" && x.position) position = mergeTokens(position, x.position);
          if (x.kind === "error") {
            throw new HttpError(400, { ...statementError(x.diagnostics[0]!, x.text), entities });
          }
          if (x.rows) {
            throw new HttpError(
              400,
              errorBody("statement_error", ERR.queryEndpoint, QUERY_ENDPOINT("SELECT"), {
                statementText: x.text,
                entities,
              }),
            );
          }
          const described = x.compiled ? await describeEntity(engine, x.compiled, x.text) : undefined;
          if (described) {
            entities.push(described);
            continue;
          }
          const source = existed(x.compiled);
          if (source) {
            entities.push({
              "@type": "warning_entity",
              statementText: x.text,
              message: `Cannot add ${source.type} ${source.name}: A ${source.type} with the same name already exists.`,
              warnings: [],
            });
            continue;
          }
          const id = commandId(x.compiled, ++executed);
          const status = { status: "SUCCESS", message: x.message };
          statuses.set(id, status);
          entities.push({
            "@type": "currentStatus",
            statementText: x.text,
            commandId: id,
            commandStatus: { ...status, queryId: startedQuery(x.compiled) },
            commandSequenceNumber: x.commandOffset ?? -1,
            warnings: [],
          });
        }
      }),
    );
    // INSERT ... VALUES: the position token of the rows written, for a pull query to read them (`esql.consistency.token`).
    if (position) res.setHeader(POSITION_HEADER, position);
    send(res, 200, entities);
  };

  /** GET /status/{type}/{entity}/{action}: a command's outcome (404 for one this server did not run). */
  const status = async (req: Req, res: Res) => {
    const id = decodeURIComponent((req.url ?? "").split("?")[0]!.slice("/status/".length));
    const s = statuses.get(id);
    if (!s) throw new HttpError(404, errorBody("generic_error", ERR.notFound, `Command not found: ${id}`));
    send(res, 200, s);
  };

  return {
    "POST /ksql": ksql,
    "GET /status": async (_req: Req, res: Res) =>
      send(res, 200, {
        commandStatuses: Object.fromEntries([...statuses].map(([id, s]) => [id, s.status])),
      }),
    "GET /status/*": status,
  };
}

/** The query a statement started, as ksqlDB's command status names it; else null. */
function startedQuery(c: CompiledStatement | undefined): string | null {
  const a = c?.analyzed;
  return a?.kind === "CreateAsSelect" || a?.kind === "InsertInto" ? a.queryId : null;
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}
