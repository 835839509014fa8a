/**
 * `esql apply --plan plans.json` runs what the artifact holds, also on a target that has other deployments (its
 * catalog gives the queries other ids than the empty catalog `esql compile` used) and for rebuilt versions
 * (`NAME__V<n>`, their own topics) and their readers. A decision recorded in the artifact (here the name of the
 * internal repartition topic, edited after compiling) is what runs.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyPlan } from "../../runtime/deploy/apply.ts";
import { planFolder } from "../../runtime/deploy/plan.ts";
import { artifactSources, compileArtifact, plansOf, type PlanArtifact } from "../../src/cli/artifact.ts";
import { openEngine } from "../fixtures/engine.ts";
import { tempDir } from "../fixtures/temp.ts";

const dir = tempDir("esql-apply-plan-");

const SOURCE = `CREATE STREAM moves (account STRING KEY, amount BIGINT, kind STRING)
  WITH (kafka_topic = 'moves', value_format = 'JSON', partitions = 2);`;
const READER = `CREATE TABLE big_kinds AS SELECT kind, total FROM per_kind WHERE total > 10;`;

/** `esql compile` of one file, with the internal topics' names edited to `-<mark>-`. */
function compiled(name: string, text: string, mark: string): PlanArtifact {
  writeFileSync(join(dir, name), text);
  const { artifact, errors } = compileArtifact([join(dir, name)]);
  expect(errors).toEqual([]);
  const json = JSON.stringify(artifact);
  expect(json).toContain("-groupby-0-repartition");
  return JSON.parse(json.replaceAll("-groupby-0-", `-${mark}-`)) as PlanArtifact;
}

describe("esql apply --plan", () => {
  it("runs the artifact's plans under the target's query ids, for new objects, rebuilt versions and their readers", async () => {
    const engine = await openEngine({ dataDir: join(dir, "target"), persistent: true });
    // The target already runs a query: the catalog's counter gives the artifact's queries other ids here.
    expect(
      (await engine.execute(`${SOURCE}\nCREATE STREAM big AS SELECT * FROM moves WHERE amount > 5;`)).diagnostics,
    ).toEqual([]);
    const deploy = async (artifact: PlanArtifact) => {
      const p = planFolder(artifactSources(artifact), engine);
      expect(p.errors).toEqual([]);
      await applyPlan(engine, p, { plans: plansOf(artifact), allowDrop: false });
    };
    const rows = async (sql: string) => {
      const r = await engine.pull(sql);
      expect(r.diagnostics).toEqual([]);
      return Object.fromEntries(r.rows.map((row) => [row[0] as string, row[1] as number]));
    };
    const topicOf = async (name: string, mark: string) => {
      const id = engine.catalog.source(name)!.writtenBy!;
      return { id, exists: (await engine.log.describeTopic(`_esql-${id}-${mark}-repartition`)) !== undefined };
    };

    const v1 = compiled(
      "v1.esql",
      `${SOURCE}\nCREATE TABLE per_kind AS SELECT kind, SUM(amount) AS total FROM moves GROUP BY kind;\n${READER}`,
      "as-compiled",
    );
    const compiledId = v1.files[0]!.statements[1]!.plan!.queryId;
    await deploy(v1);
    const records = [];
    for (let i = 0; i < 30; i++)
      records.push({
        key: Buffer.from(`a${i % 3}`),
        value: Buffer.from(JSON.stringify({ AMOUNT: i, KIND: i % 2 ? "odd" : "even" })),
      });
    await engine.log.append("moves", records);
    await engine.drain();
    const first = await topicOf("PER_KIND", "as-compiled");
    expect(first.id).not.toBe(compiledId);
    expect(first.exists).toBe(true);
    expect(await rows("SELECT * FROM per_kind;")).toEqual({ even: 210, odd: 225 });
    expect(await rows("SELECT * FROM big_kinds;")).toEqual({ even: 210, odd: 225 });

    // A changed aggregation is a rebuild: version 2 runs the new artifact's plan, and so does its reader, which
    // reads the version's topic.
    const v2 = compiled(
      "v2.esql",
      `${SOURCE}\nCREATE TABLE per_kind AS SELECT kind, COUNT(*) AS total FROM moves GROUP BY kind;\n${READER}`,
      "v2-compiled",
    );
    await deploy(v2);
    const second = await topicOf("PER_KIND", "v2-compiled");
    expect(second.id).toMatch(/^CTAS_PER_KIND__V2_/);
    expect(second.exists).toBe(true);
    expect(await rows("SELECT * FROM per_kind;")).toEqual({ even: 15, odd: 15 });
    expect(await rows("SELECT * FROM big_kinds;")).toEqual({ even: 15, odd: 15 });

    // A restart runs the recorded plans (bound to this deployment), and a second apply finds nothing to do.
    await engine.close();
    const again = await openEngine({ dataDir: join(dir, "target"), persistent: true });
    expect((await again.pull("SELECT * FROM per_kind WHERE kind = 'odd';")).rows).toEqual([["odd", 15]]);
    const p = planFolder(artifactSources(v2), again);
    // (BIG, which the target had before and the artifact does not define, is kept: apply was not asked to drop.)
    expect(p.items.map((i) => `${i.name}:${i.action}`).sort()).toEqual([
      "BIG:remove",
      "BIG_KINDS:unchanged",
      "MOVES:unchanged",
      "PER_KIND:unchanged",
    ]);
  });
});
