/**
 * Row TTL (`CREATE TABLE ... WITH (TTL = ...) AS SELECT ... GROUP BY`): a group not updated for the TTL in
 * event time (its task's stream time) is deleted and a tombstone written once; a later event starts it
 * afresh. Checked against a fold computed here, record by record, also across a restart and a restore from
 * the changelog.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { encodeRecord, sourceForTopic } from "../../../runtime/testing/records.ts";
import { openEngine } from "../../fixtures/engine.ts";
import { tempDir } from "../../fixtures/temp.ts";

const TTL_MS = 10_000;
const STATEMENTS = `
CREATE STREAM deposits (account VARCHAR KEY, amount INT) WITH (kafka_topic='deposits', partitions=2, value_format='JSON');
CREATE TABLE balances WITH (TTL = '10 SECONDS') AS SELECT account, SUM(amount) AS balance FROM deposits GROUP BY account;
`;
const PROPS = { "ksql.streams.cache.max.bytes.buffering": "0" };

interface Deposit {
  readonly account: string;
  readonly amount: number;
  readonly ts: number;
}

/** Account `a<i>` lives on partition i % 2. */
const partitionOf = (account: string) => Number(account.slice(1)) % 2;

/** Random deposits over 6 accounts whose times move forward by up to 4 s (with some out of order). */
function deposits(n: number, seed: number, from = 0): Deposit[] {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let t = from;
  return Array.from({ length: n }, () => {
    t += Math.floor(rnd() * 4000);
    const late = rnd() < 0.1 ? Math.floor(rnd() * 3000) : 0;
    return { account: `a${Math.floor(rnd() * 6)}`, amount: 1 + Math.floor(rnd() * 9), ts: Math.max(0, t - late) };
  });
}

/**
 * The fold, record by record: per partition, stream time is the largest time seen; when it reaches a
 * group's last update + TTL the group is deleted (a null in its output), then the record folds.
 */
function reference(all: readonly Deposit[]): {
  table: Record<string, number>;
  outputs: Record<string, (number | null)[]>;
} {
  const streamTime = new Map<number, number>();
  const groups = new Map<string, { sum: number; last: number }>();
  const outputs: Record<string, (number | null)[]> = {};
  for (const d of all) {
    const p = partitionOf(d.account);
    const st = Math.max(streamTime.get(p) ?? -1, d.ts);
    streamTime.set(p, st);
    for (const [k, g] of [...groups].sort((a, b) => a[1].last - b[1].last)) {
      if (partitionOf(k) === p && g.last + TTL_MS <= st) {
        groups.delete(k);
        (outputs[k] ??= []).push(null);
      }
    }
    const g = groups.get(d.account) ?? { sum: 0, last: d.ts };
    g.sum += d.amount;
    g.last = Math.max(g.last, d.ts);
    groups.set(d.account, g);
    (outputs[d.account] ??= []).push(g.sum);
  }
  return { table: Object.fromEntries([...groups].map(([k, g]) => [k, g.sum])), outputs };
}

async function append(engine: Engine, ds: readonly Deposit[]): Promise<void> {
  const source = sourceForTopic(engine.catalog, "deposits")!;
  await engine.log.append(
    "deposits",
    ds.map((d) => ({
      ...encodeRecord(source, { key: d.account, value: { AMOUNT: d.amount }, timestamp: d.ts }),
      partition: partitionOf(d.account),
    })),
  );
}

async function table(engine: Engine): Promise<Record<string, number>> {
  await engine.drain();
  const r = await engine.pull("SELECT * FROM balances;");
  expect(r.diagnostics).toEqual([]);
  return Object.fromEntries(r.rows.map((row) => [row[0] as string, row[1] as number]));
}

/** The table's topic, per key: the balances written and null for tombstones, in order. */
async function outputs(engine: Engine): Promise<Record<string, (number | null)[]>> {
  const out: Record<string, (number | null)[]> = {};
  for (const p of [0, 1]) {
    for (const r of await engine.log.read("BALANCES", p, 0, 100_000)) {
      const v = r.value === null ? null : (JSON.parse(r.value.toString()) as { BALANCE: number }).BALANCE;
      (out[r.key!.toString()] ??= []).push(v);
    }
  }
  return out;
}

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
    const ds = deposits(300, 11);
    const open = () => openEngine({ dataDir, persistent: true, changelogs: true, properties: PROPS });
    let engine = await open();
    expect((await engine.execute(STATEMENTS)).diagnostics).toEqual([]);
    await append(engine, ds.slice(0, 100));
    await engine.drain();
    await engine.close();
    engine = await open();
    await append(engine, ds.slice(100, 200));
    await engine.drain();
    await engine.close();
    // The stores are lost: the query restores them (groups and their TTL index) from its changelog.
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    engine = await open();
    await append(engine, ds.slice(200));
    const want = reference(ds);
    expect(await table(engine)).toEqual(want.table);
    expect(await outputs(engine)).toEqual(want.outputs);
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
