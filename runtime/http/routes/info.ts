/** `GET /info` (server info) and `GET /healthcheck` (503 while background processing fails). */
import type { Routes, ServerContext } from "../context.ts";
import { send, type Req, type Res } from "../protocol.ts";

export const SERVER_VERSION = "0.1.0";

export function infoRoutes(ctx: ServerContext): Routes {
  return {
    "GET /info": async (_req: Req, res: Res) =>
      send(res, 200, {
        KsqlServerInfo: {
          version: SERVER_VERSION,
          kafkaClusterId: "esql",
          ksqlServiceId: "esql_",
          serverStatus: "RUNNING",
        },
      }),
    "GET /healthcheck": async (_req: Req, res: Res) => {
      const drainError = ctx.drainError();
      const healthy = drainError === undefined;
      send(res, healthy ? 200 : 503, {
        isHealthy: healthy,
        details: { engine: { isHealthy: healthy, ...(drainError ? { error: drainError } : {}) } },
      });
    },
  };
}
