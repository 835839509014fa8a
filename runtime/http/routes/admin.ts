/**
 * Cluster administration as ksqlDB answers it: `POST /ksql/terminate` (TERMINATE CLUSTER: every query stopped,
 * every stream and table dropped, the listed topics deleted), `GET /clusterStatus` (this instance and the
 * partitions its queries hold), `GET /is_valid_property/{name}` (whether a request may set the property).
 */
import { knownProperty, PROPERTY_NAMES } from "../../../src/plan/properties.ts";
import { Bodies } from "../body.ts";
import type { Routes, ServerContext } from "../context.ts";
import { ERR, errorBody, HttpError, send, type Req, type Res } from "../protocol.ts";

/** An identifier as a quoted SQL name (backticks; a backtick doubled). */
const quoted = (name: string) => `\`${name.replaceAll("`", "``")}\``;

export function adminRoutes(ctx: ServerContext): Routes {
  const { engine, gate } = ctx;

  /** POST /ksql/terminate: `{"deleteTopicList": ["name or regular expression", ...]}` (optional). */
  const terminate = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.terminate);
    if (ctx.options.readOnly)
      throw new HttpError(403, errorBody("generic_error", ERR.forbidden, "This server is read-only."));
    const patterns: RegExp[] = [];
    for (const p of body.deleteTopicList ?? []) {
      try {
        patterns.push(new RegExp(`^(?:${p})$`));
      } catch (e) {
        throw new HttpError(
          400,
          errorBody(
            "generic_error",
            ERR.badRequest,
            `deleteTopicList: '${p}' is no regular expression: ${(e as Error).message}`,
          ),
        );
      }
    }
    await gate.run(true, async () => {
      // The statements a user would run, so the command topic records them and a restart replays them.
      const sources = [...engine.catalog.sources.values()];
      const script = [
        ...(engine.catalog.queries.size > 0 ? ["TERMINATE ALL;"] : []),
        ...sources.map((s) => `DROP ${s.sourceType} IF EXISTS ${quoted(s.name)};`),
      ].join("\n");
      if (script !== "") {
        const r = await engine.execute(script);
        const failed = r.results.find((x) => x.kind === "error");
        if (failed?.kind === "error")
          throw new HttpError(
            500,
            errorBody(
              "generic_error",
              ERR.server,
              `TERMINATE CLUSTER failed at '${failed.text}': ${failed.diagnostics[0]?.message ?? ""}`,
            ),
          );
      }
      for (const topic of await engine.log.listTopics()) {
        if (topic.startsWith("_") || !patterns.some((p) => p.test(topic))) continue;
        await engine.log.deleteTopic(topic);
      }
    });
    send(res, 200, {
      "@type": "currentStatus",
      statementText: "TERMINATE CLUSTER;",
      commandId: "cluster/CLUSTER/terminate",
      commandStatus: { status: "SUCCESS", message: "Cluster terminated.", queryId: null },
      commandSequenceNumber: -1,
      warnings: [],
    });
  };

  /** GET /clusterStatus: this instance, alive, with the partitions its queries hold actively and as standbys. */
  const clusterStatus = async (req: Req, res: Res) => {
    const host = String(req.headers.host ?? req.headers[":authority"] ?? "localhost");
    const perQuery: Record<string, object> = {};
    for (const [id, q] of engine.queries) {
      perQuery[id] = {
        activeStores: [],
        activePartitions: q.tasks.flatMap((t) => t.inputTopics.map((topic) => ({ topic, partition: t.partition }))),
        standByStores: [],
        standByPartitions: q.standbys.flatMap((s) =>
          (q.plan.topology.stages[s.stageIndex]?.inputs ?? []).map((i) => ({ topic: i.topic, partition: s.partition })),
        ),
      };
    }
    const now = Date.now();
    send(res, 200, {
      clusterStatus: {
        [host]: {
          hostAlive: true,
          lastStatusUpdateMs: now,
          activeStandbyPerQuery: perQuery,
          hostStoreLags: { stateStoreLags: {}, updateTimeMs: now },
        },
      },
    });
  };

  /** GET /is_valid_property/{name}: `true`, or 400 naming the property. */
  const isValidProperty = async (req: Req, res: Res) => {
    const name = decodeURIComponent((req.url ?? "").split("?")[0]!.slice("/is_valid_property/".length));
    if (!knownProperty(name))
      throw new HttpError(
        400,
        errorBody(
          "generic_error",
          ERR.badRequest,
          `Not recognizable as ksql, streams, consumer, or producer property: '${name}' (esql reads: ${PROPERTY_NAMES.join(", ")})`,
        ),
      );
    send(res, 200, true);
  };

  return {
    "POST /ksql/terminate": terminate,
    "GET /clusterStatus": clusterStatus,
    // GET as ksqlDB serves it; POST too, as esql first answered it.
    "GET /is_valid_property/*": isValidProperty,
    "POST /is_valid_property/*": isValidProperty,
  };
}
