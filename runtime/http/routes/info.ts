/** `GET /info` (server info) and `GET /healthcheck` (503 while background processing fails). */
import type { Routes, ServerContext } from "../context.ts";
import { send, type Req, type Res } from "../protocol.ts";
import { ESQL_VERSION as esqlVersion } from "../../../src/version.ts";

/**
 * The ksqlDB release whose dialect, REST API and test cases esql follows, reported as `/info`'s `version`:
 * clients that gate features on the server's version (ksqlDB's own CLI and Java client among them) read it
 * as a ksqlDB version. esql's own version is `esqlVersion`.
 */
export const KSQLDB_VERSION = "0.29.0";

export function infoRoutes(ctx: ServerContext): Routes {
  return {
    "GET /info": async (_req: Req, res: Res) =>
      send(res, 200, {
        KsqlServerInfo: {
          version: KSQLDB_VERSION,
          esqlVersion,
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
