/** `POST /ksql`: statements (DDL, DML, SHOW, DESCRIBE, EXPLAIN, ...), one entity per statement. */
import { parseScript } from "../../../src/parse.ts";
import { Bodies, propertyStrings } from "../body.ts";
import type { Routes, ServerContext } from "../context.ts";
import { explainEntity } from "../explain.ts";
import { ERR, errorBody, HttpError, send, statementError, type Req, type Res } from "../protocol.ts";

/** Statements a read-only server still runs: they look, they do not change. */
const READ_ONLY_KINDS = new Set(["Show", "Describe", "Explain", "Print", "QueryStatement"]);

export function ksqlRoutes(ctx: ServerContext): Routes {
  const { engine, options, gate } = ctx;
  let commandSeq = 0;

  /** POST /ksql: runs each statement; stops at the first error (as ksqlDB does). */
  const ksql = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.ksql);
    const text = body.ksql;
    ctx.body.checkSqlLength(text);
    const props = propertyStrings(body.streamsProperties);
    const entities: unknown[] = [];
    // A script with a syntax error runs nothing.
    const parsed = parseScript(text, { variables: engine.variables });
    const syntax = parsed.diagnostics.find((d) => d.severity === "error");
    if (syntax) throw new HttpError(400, statementError(syntax, text));
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
    await gate.run(true, async () => {
      const saved = { ...engine.properties };
      Object.assign(engine.properties, props);
      try {
        const r = await engine.execute(text);
        for (const x of r.results) {
          if (x.kind === "error") {
            throw new HttpError(400, { ...statementError(x.diagnostics[0]!, x.text), entities });
          }
          if (x.rows) {
            throw new HttpError(
              400,
              errorBody(
                "statement_error",
                ERR.badStatement,
                "The following statement types should be issued to the websocket endpoint '/query': SELECT",
                { statementText: x.text, entities },
              ),
            );
          }
          const explained = x.compiled ? explainEntity(engine, x.compiled, x.text) : undefined;
          if (explained) {
            entities.push(explained);
            continue;
          }
          commandSeq++;
          entities.push({
            "@type": "currentStatus",
            statementText: x.text,
            commandId: `esql/${commandSeq}`,
            commandStatus: { status: "SUCCESS", message: x.message },
            commandSequenceNumber: commandSeq,
            warnings: [],
          });
        }
      } finally {
        for (const k of Object.keys(engine.properties)) if (!(k in saved)) delete engine.properties[k];
        Object.assign(engine.properties, saved);
      }
    });
    send(res, 200, entities);
  };

  return { "POST /ksql": ksql };
}
