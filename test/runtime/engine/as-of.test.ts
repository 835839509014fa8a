/**
 * AS OF (issue 19): a table declared `WITH (HISTORY_RETENTION = ...)` keeps every version of its rows, and pull
 * queries read it `FOR SYSTEM_TIME AS OF` an event time: key lookups, key ranges and scans, compared with a
 * fold of the same events computed here, independently, at many times. Versions beyond the retention are
 * purged, and a time before it is refused.
 */
import { describe, expect, it } from "vitest";
import { STORE } from "../../../src/plan/topology.ts";
import { decodeKey } from "../../../runtime/state/keycodec.ts";
import { openEngine } from "../../fixtures/engine.ts";
import { events, foldAsOf, HOUR, insert, T0 } from "../../fixtures/as-of-fold.ts";

describe("FOR SYSTEM_TIME AS OF", () => {
  it("answers key lookups, ranges and scans as the fold at that time, within the retention", async () => {
    const engine = await openEngine();
    const evs = events(400, 19);
    const r = await engine.execute(`
      CREATE STREAM deposits (account VARCHAR KEY, amount INT) WITH (kafka_topic = 'deposits', value_format = 'JSON', partitions = 3);
      CREATE TABLE balances WITH (HISTORY_RETENTION = '1000 DAYS') AS
        SELECT account, SUM(amount) AS balance, COUNT(*) AS n FROM deposits GROUP BY account HAVING SUM(amount) <> 0;`);
    expect(r.diagnostics).toEqual([]);
    await engine.execute(evs.map(insert).join("\n"));
    await engine.drain();
    const last = evs[evs.length - 1]!.ts;
    const times = [T0 - 1, T0, evs[0]!.ts, evs[1]!.ts - 1];
    for (let i = 0; i < 30; i++) times.push(T0 + Math.floor(((last - T0) * i) / 29) + (i % 3) - 1);
    for (const e of evs.slice(100, 110)) times.push(e.ts, e.ts - 1);
    for (const t of times) {
      const want = foldAsOf(evs, t);
      const at = new Date(t).toISOString();
      const scan = await engine.pull(`SELECT * FROM balances FOR SYSTEM_TIME AS OF '${at}';`);
      expect(scan.diagnostics).toEqual([]);
      const got = new Map(scan.rows.map((row) => [row[0] as string, [row[1], row[2]] as [number, number]]));
      expect(got, at).toEqual(want);
      // Key lookups (a key with and without a row then), and a range; epoch ms and TIMESTAMP work too.
      for (const acc of ["acc03", "acc07"]) {
        const one = await engine.pull(
          `SELECT balance, n FROM balances FOR SYSTEM_TIME AS OF ${t} WHERE account = '${acc}';`,
        );
        expect(one.rows, `${acc} at ${at}`).toEqual(want.has(acc) ? [want.get(acc)] : []);
      }
      const range = await engine.pull(
        `SELECT account, balance FROM balances FOR SYSTEM_TIME AS OF FROM_UNIXTIME(${t}) b WHERE account >= 'acc04' AND account < 'acc09';`,
      );
      // Rows come partition by partition: compare in key order.
      expect([...range.rows].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1))).toEqual(
        [...want]
          .filter(([a]) => a >= "acc04" && a < "acc09")
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([a, [sum]]) => [a, sum]),
      );
    }
    // Without AS OF: the current rows, as before.
    expect((await engine.pull("SELECT * FROM balances;")).rows.length).toBe(foldAsOf(evs, Infinity).size);
  }, 120_000);

  it("purges versions beyond the retention and refuses times before it", async () => {
    const engine = await openEngine();
    const evs = events(300, 7);
    await engine.execute(`
      CREATE STREAM deposits (account VARCHAR KEY, amount INT) WITH (kafka_topic = 'deposits', value_format = 'JSON', partitions = 1);
      CREATE TABLE balances WITH (HISTORY_RETENTION = '24 HOURS') AS
        SELECT account, SUM(amount) AS balance, COUNT(*) AS n FROM deposits GROUP BY account HAVING SUM(amount) <> 0;`);
    await engine.execute(evs.map(insert).join("\n"));
    await engine.drain();
    const last = evs[evs.length - 1]!.ts;
    const cutoff = last - 24 * HOUR;
    const q = engine.queries.get(engine.catalog.source("BALANCES")!.writtenBy!)!;
    // At most one version per key at or before the cutoff (the one still valid then); all later ones kept.
    const perKey = new Map<string, number[]>();
    for (const t of q.tasks)
      for await (const [k] of t.stateStore.iterate(STORE.history)) {
        const parts = decodeKey(k);
        const key = parts[0] as string;
        perKey.set(key, [...(perKey.get(key) ?? []), parts[1] as number]);
      }
    let kept = 0;
    for (const [, ts] of perKey) {
      expect(ts.filter((x) => x <= cutoff).length).toBeLessThanOrEqual(1);
      kept += ts.length;
    }
    expect(kept).toBeLessThan(evs.length / 3);
    for (const t of [cutoff, cutoff + HOUR, last]) {
      const got = await engine.pull(`SELECT * FROM balances FOR SYSTEM_TIME AS OF ${t};`);
      expect(new Map(got.rows.map((row) => [row[0] as string, [row[1], row[2]] as [number, number]]))).toEqual(
        foldAsOf(evs, t),
      );
    }
    const old = await engine.pull(`SELECT * FROM balances FOR SYSTEM_TIME AS OF ${cutoff - 1};`);
    expect(old.diagnostics[0]?.message).toMatch(/keeps 86400000 ms of history \(HISTORY_RETENTION\)/);
  }, 60_000);

  it("keeps the versions of a table derived from a table, deletions included", async () => {
    const engine = await openEngine();
    await engine.execute(`
      CREATE TABLE profiles (id VARCHAR PRIMARY KEY, tier VARCHAR) WITH (kafka_topic = 'profiles', value_format = 'JSON', partitions = 1);
      CREATE TABLE tiers WITH (HISTORY_RETENTION = '7 DAYS') AS SELECT id, tier FROM profiles;`);
    await engine.log.append("profiles", [
      { key: Buffer.from("u1"), value: Buffer.from('{"TIER":"free"}'), timestamp: T0 },
      { key: Buffer.from("u1"), value: Buffer.from('{"TIER":"pro"}'), timestamp: T0 + HOUR },
      { key: Buffer.from("u1"), value: null, timestamp: T0 + 2 * HOUR },
      { key: Buffer.from("u1"), value: Buffer.from('{"TIER":"team"}'), timestamp: T0 + 3 * HOUR },
    ]);
    await engine.drain();
    const at = async (t: number) =>
      (await engine.pull(`SELECT tier FROM tiers FOR SYSTEM_TIME AS OF ${t} WHERE id = 'u1';`)).rows;
    expect(await at(T0 - 1)).toEqual([]);
    expect(await at(T0)).toEqual([["free"]]);
    expect(await at(T0 + HOUR + 5)).toEqual([["pro"]]);
    expect(await at(T0 + 2 * HOUR)).toEqual([]);
    expect(await at(T0 + 3 * HOUR)).toEqual([["team"]]);
  });

  it("is refused where it cannot apply, with the reason", async () => {
    const engine = await openEngine();
    await engine.execute(`
      CREATE STREAM deposits (account VARCHAR KEY, amount INT) WITH (kafka_topic = 'deposits', value_format = 'JSON', partitions = 1);
      CREATE TABLE plain AS SELECT account, SUM(amount) AS s FROM deposits GROUP BY account;`);
    const noHistory = await engine.pull("SELECT * FROM plain FOR SYSTEM_TIME AS OF 0;");
    expect(noHistory.diagnostics[0]?.message).toMatch(
      /PLAIN keeps no history: create it with WITH \(HISTORY_RETENTION/,
    );
    const onStream = await engine.execute(
      "CREATE STREAM s2 WITH (HISTORY_RETENTION = '1 DAY') AS SELECT * FROM deposits;",
    );
    expect(onStream.diagnostics[0]?.message).toMatch(/HISTORY_RETENTION applies to tables/);
    const badTime = await engine.execute(
      "CREATE TABLE h WITH (HISTORY_RETENTION = '1 DAY') AS SELECT account, COUNT(*) AS n FROM deposits GROUP BY account;",
    );
    expect(badTime.diagnostics).toEqual([]);
    const notATime = await engine.pull("SELECT * FROM h FOR SYSTEM_TIME AS OF 'yesterday';");
    expect(notATime.diagnostics[0]?.message).toMatch(/'yesterday' is not a time/);
    const push = await engine.subscribe("SELECT * FROM h FOR SYSTEM_TIME AS OF 0 EMIT CHANGES;");
    expect(push.ok).toBe(false);
    // FOR stays a name elsewhere.
    const alias = await engine.pull("SELECT for.n FROM h for;");
    expect(alias.diagnostics).toEqual([]);
  });
});
