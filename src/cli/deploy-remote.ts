/**
 * `esql plan|apply|rollback|status --server URL`: deploying to a running `esql serve` through its deploy
 * endpoints (`runtime/http/routes/deploy.ts`). Nothing is opened here: no data folder, no state restored.
 *
 * `apply` sends the folder; the service rebuilds in the background while it keeps serving, and this command
 * follows it (`GET /deploy/status/{id}`, twice a second) with a progress bar per version being built (plain
 * lines when stderr is not a terminal) until the switch is done; `--no-wait` returns once the service has
 * started. Killing this command does not stop the service's rebuild: `esql status` shows it.
 * `ESQL_API_KEY` in the environment is sent as `Authorization: Bearer <key>` (as `esql repl --server`).
 */
import {
  DeployService,
  type DeploymentStatus,
  type PlanAnswer,
  type ServiceStatus,
} from "../../runtime/deploy/service.ts";
import { renderDiagnostic, type SourceFile } from "../diagnostics/render.ts";
import { plansOf } from "./artifact.ts";
import { UsageError } from "./files.ts";
import { colors, EXIT, useColor } from "./output.ts";
import { deploySources, folderFiles, formatPlan, openTarget, PLAN_CHANGES, type TargetOptions } from "./plan.ts";
import { Progress } from "./progress.ts";

/** How often `apply` asks the service how its deployment goes. */
const POLL_MS = 500;

/** A failed request: the message says what the server answered (or that it could not be reached). */
class RemoteError extends Error {}

async function call<T>(
  server: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const base = server.replace(/\/+$/, "");
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--server: expected http(s)://host:port, found '${server}'`);
  const key = process.env.ESQL_API_KEY;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new RemoteError(`cannot reach ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RemoteError(`${base}${path} answered ${res.status} with no JSON: ${text.slice(0, 200)}`);
  }
  if (res.status >= 400 && res.status !== 409) {
    const message = (parsed as { message?: unknown }).message;
    throw new RemoteError(
      `${base}${path} answered ${res.status}: ${typeof message === "string" ? message : text.slice(0, 200)}`,
    );
  }
  return { status: res.status, body: parsed as T };
}

/** Runs `f`, turning a failed request into a message and exit code 1. */
async function guarded(f: () => Promise<number>): Promise<number> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e;
    process.stderr.write(`esql: ${e.message}\n`);
    return EXIT.failed;
  }
}

/** Prints the plan's errors with code frames from the local files; true when there were any. */
function printErrors(answer: PlanAnswer, files: readonly SourceFile[]): boolean {
  const color = useColor(process.stderr);
  for (const e of answer.errors) {
    const file = files.find((f) => f.path === e.file) ?? { path: e.file, text: "" };
    process.stderr.write(renderDiagnostic(e.diagnostic, file, { color }) + "\n\n");
  }
  return answer.errors.length > 0;
}

export async function remotePlan(
  paths: readonly string[],
  options: { server: string; json?: boolean },
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const files = folderFiles(paths);
  return guarded(async () => {
    const { body } = await call<PlanAnswer>(options.server, "POST", "/deploy/plan", { files });
    if (options.json) out.write(JSON.stringify(body, null, 2) + "\n");
    else if (!printErrors(body, files)) out.write(formatPlan(body, out));
    if (body.errors.length > 0) return EXIT.failed;
    return body.changes ? PLAN_CHANGES : EXIT.ok;
  });
}

export interface RemoteApplyOptions {
  readonly server: string;
  readonly allowDrop: boolean;
  readonly keep: number;
  readonly plan?: string;
  /** Follow the deployment until its switch (default); false: return once it has started. */
  readonly wait: boolean;
}

export async function remoteApply(
  paths: readonly string[],
  options: RemoteApplyOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const { artifact, files } = deploySources(paths, options.plan);
  return guarded(async () => {
    const { status, body } = await call<{ deployment?: string; plan?: PlanAnswer; message?: string }>(
      options.server,
      "POST",
      "/deploy/apply",
      {
        files: files.map((f) => ({ path: f.path, text: f.text })),
        keep: options.keep,
        allowDrop: options.allowDrop,
        ...(artifact ? { plans: Object.fromEntries(plansOf(artifact)) } : {}),
      },
    );
    if (status === 409) {
      process.stderr.write(
        `esql: ${body.message ?? "another deployment is running"}\n(it goes on on the service: esql status --server ${options.server})\n`,
      );
      return EXIT.failed;
    }
    const plan = body.plan!;
    if (printErrors(plan, files)) return EXIT.failed;
    out.write(formatPlan(plan, out));
    if (!body.deployment) {
      out.write("Nothing to apply.\n");
      return EXIT.ok;
    }
    if (!options.wait) {
      out.write(`Deployment ${body.deployment} started on the service (esql status --server ${options.server}).\n`);
      return EXIT.ok;
    }
    const final = await follow(options.server, body.deployment);
    return report(final, options.server, out);
  });
}

/** Follows a deployment until it ends: its steps on stderr as they happen, a progress display per version. */
async function follow(server: string, id: string): Promise<DeploymentStatus> {
  const err = process.stderr;
  let printed = 0;
  const bars = new Map<string, Progress>();
  for (;;) {
    const { body: d } = await call<DeploymentStatus>(server, "GET", `/deploy/status/${encodeURIComponent(id)}`);
    // A step line that ends a replay comes after its bar is done.
    for (const v of d.versions) {
      const key = `${v.name}/${v.version}`;
      let bar = bars.get(key);
      if (!bar && !v.switched && v.total > 0)
        bars.set(key, (bar = new Progress(`${v.name} version ${v.version}`, { stream: err })));
      bar?.update(v.replayed, v.total, {
        rate: v.rate,
        ...(v.secondsLeft !== undefined ? { secondsLeft: v.secondsLeft } : {}),
      });
      if (v.switched) bar?.stop();
    }
    for (; printed < d.log.length; printed++) err.write(`${d.log[printed]}\n`);
    if (d.state !== "running") {
      for (const bar of bars.values()) bar.stop();
      return d;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function report(d: DeploymentStatus, server: string, out: NodeJS.WriteStream): number {
  if (d.state === "failed") {
    process.stderr.write(
      `esql: apply failed: ${d.error ?? "unknown"}\n(the steps done so far are recorded: run esql apply again to finish, or change the folder back)\n`,
    );
    return EXIT.failed;
  }
  for (const line of d.done) out.write(`${line}\n`);
  if (d.keptRemoved.length > 0) out.write(`not dropped (no --allow-drop): ${d.keptRemoved.join(", ")}\n`);
  out.write(d.done.length === 0 ? "Nothing to apply.\n" : `Applied (deployment ${d.id} on ${server}).\n`);
  return EXIT.ok;
}

export async function remoteRollback(
  name: string,
  options: { server: string },
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  return guarded(async () => {
    const { status, body } = await call<{ name: string; version: number; message?: string }>(
      options.server,
      "POST",
      "/deploy/rollback",
      { name },
    );
    if (status === 409) {
      process.stderr.write(`esql: rollback: ${body.message ?? "a deployment is running"}\n`);
      return EXIT.failed;
    }
    out.write(`${name}: switched back to version ${body.version}\n`);
    return EXIT.ok;
  });
}

export async function remoteStatus(
  options: { server: string; json?: boolean },
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  return guarded(async () => {
    const { body } = await call<ServiceStatus>(options.server, "GET", "/deploy/status");
    out.write(options.json ? JSON.stringify(body, null, 2) + "\n" : formatStatus(body, out));
    return EXIT.ok;
  });
}

const thousands = new Intl.NumberFormat("en-US");

/** `esql status` as text: deployments (running first), then each name's serving, kept and building versions. */
export function formatStatus(status: ServiceStatus, out: NodeJS.WriteStream): string {
  const c = colors(out);
  const lines: string[] = [];
  const running = status.deployments.filter((d) => d.state === "running");
  lines.push(running.length === 0 ? "No deployment in progress." : "Deployments in progress:");
  for (const d of running) {
    lines.push(c.yellow(`  ${d.id} (${d.kind}) running since ${d.started}`));
    for (const v of d.versions) {
      if (v.switched) continue;
      const pct = v.total > 0 ? Math.floor((100 * v.replayed) / v.total) : 100;
      const left = v.secondsLeft !== undefined ? `, about ${Math.round(v.secondsLeft)}s left` : "";
      lines.push(
        `    ${v.name} version ${v.version}: ${thousands.format(v.replayed)}/${thousands.format(v.total)} records replayed (${pct}%), ${thousands.format(v.rate)} records/s${left}`,
      );
    }
    if (d.log.length > 0) lines.push(c.dim(`    last step: ${d.log.at(-1)}`));
  }
  const last = status.deployments.find((d) => d.state !== "running");
  if (last)
    lines.push(
      `Last deployment: ${last.id} ${last.state === "done" ? "done" : c.red(`failed: ${last.error ?? ""}`)} at ${last.finished ?? "?"}`,
    );
  lines.push(...formatObjects(status.objects));
  return lines.join("\n") + "\n";
}

/** One line per name: the version it serves (and its topic), the versions kept and being built. */
export function formatObjects(objects: ServiceStatus["objects"]): string[] {
  if (objects.length === 0) return ["Nothing deployed."];
  const width = Math.max(...objects.map((o) => o.name.length));
  return [
    "Serving:",
    ...objects.map((o) => {
      const kept = o.versions.filter((v) => v.state === "kept").map((v) => v.version);
      const building = o.versions.filter((v) => v.state === "building").map((v) => v.version);
      return `  ${o.type.padEnd(6)} ${o.name.padEnd(width)}  version ${o.serving} (topic ${o.topic})${kept.length > 0 ? `; kept: ${kept.join(", ")}` : ""}${building.length > 0 ? `; building: ${building.join(", ")}` : ""}`;
    }),
  ];
}

/** `esql status` without `--server`: what the data folder's (or cluster's) command topic deployed. */
export async function localStatus(
  options: TargetOptions & { json?: boolean },
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const target = await openTarget(options);
  if (!target) return EXIT.failed;
  try {
    const status = await new DeployService(target.engine, {
      exclusive: (f) => f(),
      draining: false,
      processingRate: () => undefined,
    }).status();
    if (options.json) out.write(JSON.stringify(status, null, 2) + "\n");
    else {
      const building = status.objects.filter((o) => o.versions.some((v) => v.state === "building"));
      const lines = formatObjects(status.objects);
      if (building.length > 0)
        lines.push(
          `Unfinished rebuilds (an interrupted apply): ${building.map((o) => o.name).join(", ")}: esql apply finishes them`,
        );
      out.write(lines.join("\n") + "\n");
    }
    return EXIT.ok;
  } finally {
    await target.close();
  }
}
