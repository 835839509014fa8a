/**
 * Deploying to a running server (`runtime/http/routes/deploy.ts`) on the embedded log: plan with each rebuild's
 * cost, apply in the background while pull queries run without pause and a push query keeps delivering (no
 * answer ever comes from a version that has not caught up), status with progress, SHOW QUERIES / SHOW TABLES /
 * DESCRIBE showing what serves, rollback, and a server stopped mid-rebuild that finishes it when it starts again.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import type { DeploymentStatus, PlanAnswer, ServiceStatus } from "../../runtime/deploy/service.ts";
import { startServer, type RunningServer } from "../../runtime/http/server.ts";
import { eventually } from "../fixtures/eventually.ts";
import { tempDir } from "../fixtures/temp.ts";

const root = tempDir("esql-http-deploy-");
const KEY = "deploy-test-key";

const SOURCE = `CREATE STREAM moves (account STRING KEY, amount BIGINT)
  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);`;
const TOTALS_SUM = `CREATE TABLE totals AS SELECT account, SUM(amount) AS total FROM moves GROUP BY account;`;
const TOTALS_COUNT = `CREATE TABLE totals AS SELECT account, COUNT(*) AS total FROM moves GROUP BY account;`;
const files = (...texts: string[]) => texts.map((text, i) => ({ path: `${i}-def.esql`, text }));

const opened: { engine: Engine; server: RunningServer }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) {
    await o.server.close().catch(() => undefined);
    await o.engine.close().catch(() => undefined);
  }
});

async function open(dir: string) {
  const engine = await Engine.open({ dataDir: dir });
  const server = await startServer({ engine, drainIntervalMs: 20, auth: { apiKeys: [KEY] } });
  const o = { engine, server };
  opened.push(o);
  return o;
}

async function stop(o: { engine: Engine; server: RunningServer }) {
  await o.server.close();
  await o.engine.close();
  opened.splice(opened.indexOf(o), 1);
}

function client(server: RunningServer) {
  const call = async <T>(method: string, path: string, body?: unknown, key: string | null = KEY) => {
    const res = await fetch(server.url + path, {
      method,
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const pull = async (): Promise<Record<string, number>> => {
    const r = await call<unknown[]>("POST", "/query-stream", { sql: "SELECT * FROM totals;" });
    if (r.status !== 200) throw new Error(`pull answered ${r.status}: ${JSON.stringify(r.body)}`);
    const rows = (r.body as unknown[]).slice(1) as [string, number][];
    return Object.fromEntries(rows.map(([k, v]) => [k, v]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
  };
  const waitDone = async (id: string): Promise<DeploymentStatus> => {
    let last: DeploymentStatus | undefined;
    await eventually(
      async () => {
        last = (await call<DeploymentStatus>("GET", `/deploy/status/${id}`)).body;
        return last.state !== "running";
      },
      120_000,
      async () => JSON.stringify(last),
      100,
    );
    return last!;
  };
  return { call, pull, waitDone };
}

async function load(engine: Engine, n: number, from = 0): Promise<void> {
  for (let start = from; start < from + n; start += 10_000) {
    const records = [];
    for (let i = start; i < Math.min(from + n, start + 10_000); i++)
      records.push({ key: Buffer.from(`a${i % 5}`), value: Buffer.from(JSON.stringify({ AMOUNT: i % 100 })) });
    await engine.log.append("moves", records);
  }
}

function expected(n: number, f: "sum" | "count"): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[`a${i % 5}`] = (out[`a${i % 5}`] ?? 0) + (f === "sum" ? i % 100 : 1);
  return out;
}

describe("deploying to a running server", () => {
  it("plans with costs, rebuilds while serving, shows what serves, rolls back", { timeout: 240_000 }, async () => {
    const { engine, server } = await open(join(root, "a"));
    const { call, pull, waitDone } = client(server);

    // The server's authentication applies.
    expect((await call("POST", "/deploy/plan", { files: files(SOURCE) }, null)).status).toBe(401);
    expect((await call("GET", "/deploy/status", undefined, "wrong")).status).toBe(401);

    let plan = (await call<PlanAnswer>("POST", "/deploy/plan", { files: files(SOURCE, TOTALS_SUM) })).body;
    expect(plan.changes).toBe(true);
    expect(plan.items.map((i) => `${i.name}:${i.action}`)).toEqual(["MOVES:new", "TOTALS:new"]);
    const first = await call<{ deployment: string }>("POST", "/deploy/apply", { files: files(SOURCE, TOTALS_SUM) });
    expect(first.status).toBe(202);
    expect((await waitDone(first.body.deployment)).state).toBe("done");

    const N = 60_000;
    await load(engine, N);
    const sums = expected(N, "sum");
    const counts = expected(N, "count");
    await eventually(
      async () => JSON.stringify(await pull()) === JSON.stringify(sums),
      60_000,
      async () => JSON.stringify(await pull()),
    );

    plan = (await call<PlanAnswer>("POST", "/deploy/plan", { files: files(SOURCE, TOTALS_COUNT) })).body;
    const totals = plan.items.find((i) => i.name === "TOTALS")!;
    expect(totals.action).toBe("rebuild");
    // The cost: every record of the input (the processing rate is measured by now: 60,000 records folded).
    expect(totals.cost?.events).toBe(N);
    expect(totals.cost?.seconds).toBeGreaterThan(0);
    expect(plan.rate).toBeGreaterThan(0);

    // A push query started before the apply keeps delivering through it.
    const push = await fetch(server.url + "/query-stream", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        sql: "SELECT * FROM totals EMIT CHANGES;",
        properties: { "auto.offset.reset": "latest" },
      }),
    });
    const pushLines: string[] = [];
    const reader = push.body!.getReader();
    const pumping = (async () => {
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString("utf8");
        const lines = buf.split("\n");
        buf = lines.pop()!;
        pushLines.push(...lines.filter((l) => l.trim() !== ""));
      }
    })().catch(() => undefined);

    const applied = await call<{ deployment: string }>("POST", "/deploy/apply", {
      files: files(SOURCE, TOTALS_COUNT),
    });
    expect(applied.status).toBe(202);
    // A second apply while the first runs is refused, naming it.
    const again = await call<{ deployment: string }>("POST", "/deploy/apply", { files: files(SOURCE, TOTALS_COUNT) });
    expect(again.status).toBe(409);
    expect(again.body.deployment).toBe(applied.body.deployment);

    // Pull queries all through the rebuild: every answer is a whole version, the old one or the new one.
    let answers = 0;
    let oldAnswers = 0;
    let progressSeen = false;
    for (;;) {
      const rows = JSON.stringify(await pull());
      answers++;
      if (rows === JSON.stringify(sums)) oldAnswers++;
      else expect(rows).toBe(JSON.stringify(counts));
      const d = (await call<DeploymentStatus>("GET", `/deploy/status/${applied.body.deployment}`)).body;
      const v = d.versions[0];
      if (v && !v.switched && v.total === N && v.replayed < N) progressSeen = true;
      if (d.state !== "running") {
        expect(d.state).toBe("done");
        expect(d.done).toEqual(["TOTALS: rebuilt as version 2"]);
        expect(d.versions).toMatchObject([{ name: "TOTALS", version: 2, replayed: N, total: N, switched: true }]);
        break;
      }
    }
    expect(await pull()).toEqual(counts);
    expect(oldAnswers).toBeGreaterThan(0);
    expect(answers).toBeGreaterThanOrEqual(oldAnswers);
    expect(progressSeen).toBe(true);

    // The push query still delivers (from the version it started on, which keeps running).
    const before = pushLines.length;
    await load(engine, 5, N);
    await eventually(
      async () => pushLines.length > before,
      30_000,
      async () => `${pushLines.length} lines`,
    );
    await reader.cancel();
    await pumping;

    // What serves: the status, SHOW QUERIES, SHOW TABLES and DESCRIBE agree.
    const status = (await call<ServiceStatus>("GET", "/deploy/status")).body;
    expect(status.objects.find((o) => o.name === "TOTALS")).toMatchObject({
      serving: 2,
      topic: "TOTALS__v2",
      versions: [
        { version: 1, state: "kept" },
        { version: 2, state: "serving" },
      ],
    });
    const ksql = async (sql: string) => {
      const r = await call<Record<string, unknown>[]>("POST", "/ksql", { ksql: sql });
      if (r.status !== 200) throw new Error(`${sql} answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body[0] as Record<string, never>;
    };
    const queries = (await ksql("SHOW QUERIES;")).queries as {
      id: string;
      sinks: string[];
      deployVersion?: { name: string; version: number; state: string };
    }[];
    const v1 = queries.find((q) => q.deployVersion?.version === 1)!;
    const v2 = queries.find((q) => q.deployVersion?.version === 2)!;
    expect(v1).toMatchObject({ sinks: ["TOTALS__V1"], deployVersion: { name: "TOTALS", state: "kept" } });
    expect(v2.sinks.sort()).toEqual(["TOTALS", "TOTALS__V2"]);
    expect(v2.deployVersion).toMatchObject({ name: "TOTALS", state: "serving" });
    const tables = (await ksql("SHOW TABLES;")).tables as {
      name: string;
      deployVersion?: { version: number; state: string };
    }[];
    expect(tables.find((t) => t.name === "TOTALS")?.deployVersion).toMatchObject({ version: 2, state: "serving" });
    expect(tables.find((t) => t.name === "TOTALS__V1")?.deployVersion).toMatchObject({ version: 1, state: "kept" });
    const described = (await ksql("DESCRIBE EXTENDED totals;")).sourceDescription as {
      topic: string;
      writeQueries: { id: string }[];
      deployVersion: { version: number };
    };
    expect(described).toMatchObject({
      topic: "TOTALS__v2",
      writeQueries: [{ id: v2.id }],
      deployVersion: { version: 2 },
    });

    // Rollback: at once, no replay.
    const rolled = await call<{ version: number }>("POST", "/deploy/rollback", { name: "totals" });
    expect(rolled).toEqual({ status: 200, body: { name: "totals", version: 1 } });
    expect(await pull()).toEqual(expected(N + 5, "sum"));
    expect((await call("POST", "/deploy/rollback", { name: "nothing" })).status).toBe(400);
    // The folder still says COUNT: the plan switches forward to the kept version 2 (no rebuild).
    plan = (await call<PlanAnswer>("POST", "/deploy/plan", { files: files(SOURCE, TOTALS_COUNT) })).body;
    expect(plan.items.find((i) => i.name === "TOTALS")).toMatchObject({ action: "switch", version: 2 });
  });

  it("a server stopped during a rebuild finishes it when it starts again", { timeout: 240_000 }, async () => {
    const dir = join(root, "b");
    let o = await open(dir);
    let c = client(o.server);
    const first = await c.call<{ deployment: string }>("POST", "/deploy/apply", { files: files(SOURCE, TOTALS_SUM) });
    await c.waitDone(first.body.deployment);
    const N = 150_000;
    await load(o.engine, N);
    await eventually(
      async () => JSON.stringify(await c.pull()) === JSON.stringify(expected(N, "sum")),
      120_000,
      async () => JSON.stringify(await c.pull()),
    );
    const applied = await c.call<{ deployment: string }>("POST", "/deploy/apply", {
      files: files(SOURCE, TOTALS_COUNT),
    });
    await eventually(
      async () =>
        (await c.call<DeploymentStatus>("GET", `/deploy/status/${applied.body.deployment}`)).body.versions.length > 0,
      30_000,
      async () => "no version being built",
      20,
    );
    await stop(o);

    o = await open(dir);
    c = client(o.server);
    const status = (await c.call<ServiceStatus>("GET", "/deploy/status")).body;
    const resume = status.deployments[0];
    // Unless it had switched before the stop (a fast machine), the restarted service finishes the rebuild.
    if (status.objects.find((x) => x.name === "TOTALS")!.serving === 1) {
      expect(resume).toMatchObject({ kind: "resume" });
      expect((await c.waitDone(resume!.id)).state).toBe("done");
    }
    expect(
      (await c.call<ServiceStatus>("GET", "/deploy/status")).body.objects.find((x) => x.name === "TOTALS"),
    ).toMatchObject({
      serving: 2,
    });
    expect(await c.pull()).toEqual(expected(N, "count"));
  });
});
