/**
 * `POST /esql/wait` (internal, between the instances of a service): waits until this instance's tasks of one
 * stage of a query have folded past the positions of a token, so that a pull query with a position token can
 * wait for a stage across every instance before it reads (see `runtime/engine/consistency.ts`). Answers 200
 * `{}`, or 408 when the wait's timeout passed first, 404 for a query this instance does not run.
 */
import { z } from "zod";
import { ConsistencyError, decodeToken, WAIT_PATH, waitStage, type HeldPartitions } from "../../engine/consistency.ts";
import type { Routes, ServerContext } from "../context.ts";
import { ERR, errorBody, HttpError, send, type Req, type Res } from "../protocol.ts";

const WaitBody = z.object({
  queryId: z.string(),
  stage: z.string(),
  token: z.string(),
  timeoutMs: z.number().nonnegative().max(3_600_000),
});

export function consistencyRoutes(ctx: ServerContext): Routes {
  const { engine, gate } = ctx;
  const wait = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, WaitBody);
    const q = engine.queries.get(body.queryId);
    if (!q) throw new HttpError(404, errorBody("generic_error", ERR.notFound, `no query ${body.queryId} runs here`));
    let held: HeldPartitions;
    try {
      const positions = decodeToken(body.token);
      held = await gate.run(false, () =>
        waitStage(
          { log: engine.log, queries: engine.queries, drain: () => engine.drain() },
          q,
          body.stage,
          positions,
          Date.now() + body.timeoutMs,
          body.timeoutMs,
        ),
      );
    } catch (e) {
      if (!(e instanceof ConsistencyError)) throw e;
      throw new HttpError(408, errorBody("generic_error", ERR.timeout, e.message));
    }
    // Which of the token's partitions this instance holds: the asking instance checks that every one is held.
    send(res, 200, { held: [...held] });
  };
  return { [`POST ${WAIT_PATH}`]: wait };
}
