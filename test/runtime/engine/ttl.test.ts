/**
 * Row TTL (`CREATE TABLE ... WITH (TTL = ...) AS SELECT ... GROUP BY`): a group not updated for the TTL in
 * event time (its task's stream time) is deleted and a tombstone written once; a later event starts it
 * afresh. Checked against the record-by-record fold of `fixtures/ttl-fold.ts`, also across a restart and a
 * restore from the changelog.
 */
import { describe, expect, it } from "vitest";
import { openEngine } from "../../fixtures/engine.ts";
import { tempDir } from "../../fixtures/temp.ts";
import {
  STATEMENTS,
  PROPS,
  deposits,
  reference,
  append,
  table,
  outputs,
  expireAcrossRestarts,
} from "../../fixtures/ttl-fold.ts";

describe("row TTL", () => {
  it("expires groups not updated for the TTL, with one tombstone each, as a record-by-record fold does", async () => {
    const engine = await openEngine({ properties: PROPS });
    expect((await engine.execute(STATEMENTS)).diagnostics).toEqual([]);
    const ds = deposits(400, 7);
    // In several appends and drains: batches of different sizes give the same answer.
    for (let i = 0; i < ds.length; i += 97) {
      await append(engine, ds.slice(i, i + 97));
      if (i % 2 === 0) await engine.drain();
    }
    const want = reference(ds);
    expect(
      Object.values(want.outputs)
        .flat()
        .filter((v) => v === null).length,
    ).toBeGreaterThan(5);
    expect(await table(engine)).toEqual(want.table);
    expect(await outputs(engine)).toEqual(want.outputs);
  });

  it("keeps expiring exactly once across a restart and a restore from the changelog", async () => {
    const dataDir = tempDir("esql-ttl-");
    const open = () => openEngine({ dataDir, persistent: true, changelogs: true, properties: PROPS });
    await expireAcrossRestarts(open, dataDir, deposits(300, 11), [100, 200]);
  });

  it("is shown by EXPLAIN and checked by the compiler", async () => {
    const engine = await openEngine();
    expect((await engine.execute(STATEMENTS.split(";")[0]! + ";")).diagnostics).toEqual([]);
    const r = await engine.execute(`EXPLAIN ${STATEMENTS.split(";")[1]!};`);
    const plan = r.results[0]!.kind === "ok" ? r.results[0]!.compiled?.topology : undefined;
    expect(JSON.stringify(plan)).toContain('"ttlMs":10000');
    const bad = async (sql: string) =>
      (await engine.execute(sql)).diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`);
    expect(
      await bad(`CREATE TABLE t1 WITH (TTL = 'soon') AS SELECT account, COUNT(*) AS n FROM deposits GROUP BY account;`),
    ).toEqual([`ESQL-S016 1:23 Invalid TTL 'soon': expected a positive duration such as '30 DAYS' or '12 HOURS'`]);
    expect(await bad(`CREATE STREAM s1 WITH (TTL = '1 DAY') AS SELECT * FROM deposits;`)).toEqual([
      `ESQL-S016 1:24 Invalid TTL '1 DAY': TTL applies to tables (a stream's records are events, not rows that expire)`,
    ]);
  });
});
