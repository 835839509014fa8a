/**
 * Deploying to this service (esql's own endpoints; `runtime/deploy/service.ts` does the work):
 *
 * | endpoint | body | answer |
 * |---|---|---|
 * | `POST /deploy/plan` | `{"files": [{"path", "text"}]}` | the plan: `{changes, items, errors, notes, rate}`; each rebuild with its cost |
 * | `POST /deploy/apply` | `{"files", "keep", "allowDrop", "plans"}` | 202 `{deployment, plan}`: the rebuild runs in the background; 200 without `deployment` when the plan has errors or nothing to do; 409 while another deployment runs |
 * | `POST /deploy/rollback` | `{"name"}` | `{name, version}`: the name serves its previous kept version |
 * | `GET /deploy/status` | | deployments (running first) with each version's progress, and each name's serving and kept versions |
 * | `GET /deploy/status/{id}` | | one deployment |
 *
 * The server's authentication applies; a read-only server refuses apply and rollback (403).
 */
import { z } from "zod";
import { DeployError } from "../../deploy/apply.ts";
import { DeployConflict } from "../../deploy/service.ts";
import type { TopologyPlan } from "../../../src/plan/topology.ts";
import type { Routes, ServerContext } from "../context.ts";
import { ERR, errorBody, HttpError, send, type Req, type Res } from "../protocol.ts";

const Files = z.array(z.object({ path: z.string().max(4096), text: z.string() })).max(10_000);
const Bodies = {
  plan: z.object({ files: Files }),
  apply: z.object({
    files: Files,
    keep: z.number().int().min(1).max(1000).nullish(),
    allowDrop: z.boolean().nullish(),
    /** `esql compile`'s plans by normalized statement text. */
    plans: z.record(z.string(), z.record(z.string(), z.unknown())).nullish(),
  }),
  rollback: z.object({ name: z.string().min(1).max(1000) }),
};

export function deployRoutes(ctx: ServerContext): Routes {
  const service = ctx.deploy;
  const writable = () => {
    if (ctx.options.readOnly)
      throw new HttpError(403, errorBody("generic_error", ERR.forbidden, "This server is read-only."));
  };
  const conflict = (e: unknown): never => {
    if (e instanceof DeployConflict)
      throw new HttpError(409, errorBody("generic_error", 40900, e.message, { deployment: e.running }));
    if (e instanceof DeployError) throw new HttpError(400, errorBody("generic_error", ERR.badRequest, e.message));
    throw e;
  };

  const plan = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.plan);
    const { answer } = await service.plan(body.files);
    send(res, 200, answer);
  };

  const apply = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.apply);
    writable();
    const plans = body.plans
      ? new Map(Object.entries(body.plans).map(([k, v]) => [k, v as unknown as TopologyPlan]))
      : undefined;
    const r = await service
      .apply({
        files: body.files,
        ...(body.keep ? { keep: body.keep } : {}),
        ...(body.allowDrop ? { allowDrop: true } : {}),
        ...(plans ? { plans } : {}),
      })
      .catch(conflict);
    send(res, r.deployment ? 202 : 200, { ...(r.deployment ? { deployment: r.deployment } : {}), plan: r.answer });
  };

  const rollback = async (req: Req, res: Res) => {
    const body = await ctx.body.readBody(req, Bodies.rollback);
    writable();
    const version = await service.rollback(body.name).catch(conflict);
    send(res, 200, { name: body.name, version });
  };

  const status = async (_req: Req, res: Res) => {
    send(res, 200, await service.status());
  };

  const one = async (req: Req, res: Res) => {
    const id = decodeURIComponent((req.url ?? "").split("?")[0]!.slice("/deploy/status/".length));
    const d = await service.deployment(id);
    if (!d) throw new HttpError(404, errorBody("generic_error", ERR.notFound, `no deployment ${id} on this service`));
    send(res, 200, d);
  };

  return {
    "POST /deploy/plan": plan,
    "POST /deploy/apply": apply,
    "POST /deploy/rollback": rollback,
    "GET /deploy/status": status,
    "GET /deploy/status/*": one,
  };
}
