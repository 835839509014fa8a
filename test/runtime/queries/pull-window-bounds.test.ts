/**
 * Pull queries on windowed tables with WINDOWSTART/WINDOWEND bounds: the plan's access path carries the bounds,
 * a key lookup seeks only the windows in range (fewer store entries read), and the rows are the same as those of
 * the same WHERE clause applied to a scan, for tumbling, hopping and session windows.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { runPull } from "../../../runtime/engine/pull.ts";
import type { QueryEngineEnv } from "../../../runtime/engine/queries.ts";
import { compileScript, formatPhysicalPlan, planTableRead, type AnalyzedQuery } from "../../../src/compile.ts";
import { formatAccess } from "../../../src/physical/format.ts";
import { rng } from "../../../scripts/random.ts";
import { openEngine } from "../../fixtures/engine.ts";

const SETUP = `
CREATE STREAM clicks (user STRING KEY, n INT) WITH (kafka_topic='clicks', value_format='JSON', partitions=2);
CREATE TABLE tum AS SELECT user, COUNT(*) AS c FROM clicks WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY user;
CREATE TABLE hop AS SELECT user, COUNT(*) AS c FROM clicks WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS) GROUP BY user;
CREATE TABLE ses AS SELECT user, COUNT(*) AS c FROM clicks WINDOW SESSION (3 SECONDS) GROUP BY user;
`;

/** Bounds on exact window starts and ends, between them, beyond every window, empty and NULL. */
const FIXED = [
  "WINDOWSTART >= 20000",
  "WINDOWSTART > 20000",
  "WINDOWSTART < 50000",
  "WINDOWSTART <= 50000",
  "WINDOWSTART = 30000",
  "WINDOWSTART = 30001",
  "20000 <= WINDOWSTART",
  "WINDOWSTART BETWEEN 20000 AND 40000",
  "WINDOWEND > 30000",
  "WINDOWEND >= 30000",
  "WINDOWEND <= 42000",
  "WINDOWEND < 42000",
  "WINDOWEND = 32000",
  "WINDOWEND BETWEEN 31000 AND 52000",
  "WINDOWSTART >= 20000 AND WINDOWEND <= 60000",
  "WINDOWSTART >= '1970-01-01T00:00:20' AND WINDOWEND < '1970-01-01T00:01:00'",
  "WINDOWSTART > 95000",
  "WINDOWSTART >= 50000 AND WINDOWSTART < 20000",
  "WINDOWSTART >= 20000 AND WINDOWSTART >= 40000",
  "WINDOWSTART >= CAST(NULL AS BIGINT)",
  "WINDOWSTART >= 20000 AND c > 1",
];

describe("pull queries with window bounds", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine();
    expect((await engine.execute(SETUP)).diagnostics).toEqual([]);
    // User a: bursts of three clicks at the start of every 10 s (one session each); b: one click every 20 s.
    const inserts: string[] = [];
    for (let k = 0; k < 10; k++) {
      for (const d of [0, 1000, 2000])
        inserts.push(`INSERT INTO clicks (user, n, rowtime) VALUES ('a', ${k}, ${k * 10000 + d});`);
      if (k % 2 === 0) inserts.push(`INSERT INTO clicks (user, n, rowtime) VALUES ('b', ${k}, ${k * 10000 + 500});`);
    }
    expect((await engine.execute(inserts.join("\n"))).diagnostics).toEqual([]);
    await engine.drain();
  });

  const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();

  /** The rows of a key lookup with `bound`, and of a scan (LIKE is no key lookup) with the same WHERE. */
  const both = async (table: string, keys: string, bound: string) => {
    const lookup = await engine.pull(`SELECT * FROM ${table} WHERE user IN (${keys}) AND ${bound};`);
    const like = keys
      .split(", ")
      .map((k) => `user LIKE ${k}`)
      .join(" OR ");
    const scan = await engine.pull(`SELECT * FROM ${table} WHERE (${like}) AND ${bound};`);
    expect(lookup.diagnostics).toEqual([]);
    expect(scan.diagnostics).toEqual([]);
    return { lookup: sorted(lookup.rows), scan: sorted(scan.rows) };
  };

  /** The plan of a pull query, as the engine plans it. */
  const planOf = (sql: string) => {
    const c = compileScript(sql, { catalog: engine.catalog });
    expect(c.diagnostics).toEqual([]);
    return planTableRead((c.statements[0]!.analyzed as { query: AnalyzedQuery }).query, (id) =>
      engine.queries.has(id),
    )!;
  };

  it("the plan's lookup carries the bounds, and EXPLAIN of the pull query shows them", async () => {
    const plan = planOf("SELECT * FROM tum WHERE user = 'a' AND WINDOWSTART BETWEEN 20000 AND 40000;");
    expect(plan.access.kind).toBe("lookup");
    expect(formatAccess(plan.access)).toMatch(/^lookup keys=\[\{'a'\}\] windowstart=\[.*20000.*, .*40000.*\]$/);
    const c = compileScript("SELECT * FROM hop WHERE user = 'a' AND WINDOWSTART > 20000 AND WINDOWEND <= 60000;", {
      catalog: engine.catalog,
    });
    expect(formatPhysicalPlan(c.statements[0]!.physical!)).toMatch(
      /TableLookup_0 \[table\] HOP lookup keys=\[\{'a'\}\] windowstart=\(.*20000.*, \+inf\) windowend=\(-inf, .*60000.*\] window=HOPPING/,
    );
    // A bound on something else than a constant is no seek bound (the WHERE clause filters it).
    expect(formatAccess(planOf("SELECT * FROM tum WHERE user = 'a' AND WINDOWSTART > c;").access)).toBe(
      "lookup keys=[{'a'}]",
    );
  });

  for (const table of ["tum", "hop", "ses"]) {
    it(`${table}: a lookup with bounds returns what the scan with the same WHERE returns`, async () => {
      for (const bound of FIXED) {
        for (const keys of ["'a'", "'a', 'b'"]) {
          const { lookup, scan } = await both(table, keys, bound);
          expect(lookup, `${table} ${keys} ${bound}`).toEqual(scan);
        }
      }
      // Random bounds around the windows' starts and ends (seeded: a failure repeats).
      const next = rng(table.length * 7919);
      const ops = ["<", "<=", ">", ">=", "="];
      for (let i = 0; i < 40; i++) {
        const t = () => Math.round((next() * 110000 - 5000) / 500) * 500;
        const one = () =>
          `${next() < 0.5 ? "WINDOWSTART" : "WINDOWEND"} ${ops[Math.floor(next() * ops.length)]} ${t()}`;
        const bound = next() < 0.5 ? one() : `${one()} AND ${one()}`;
        const { lookup, scan } = await both(table, "'a', 'b'", bound);
        expect(lookup, `${table} ${bound}`).toEqual(scan);
      }
    });
  }

  it("seeks only the windows in range: fewer store entries are read", async () => {
    const id = engine.catalog.source("TUM")!.writtenBy!;
    const q = engine.queries.get(id)!;
    let read = 0;
    for (const t of q.tasks) {
      const store = t.stateStore;
      const iterate = store.iterate.bind(store);
      store.iterate = async function* (name, range) {
        for await (const e of iterate(name, range)) {
          read++;
          yield e;
        }
      };
    }
    const count = async (sql: string) => {
      read = 0;
      const r = await engine.pull(sql);
      expect(r.diagnostics).toEqual([]);
      return { rows: r.rows.length, read };
    };
    // User a has ten tumbling windows; the bounds select two of them.
    expect(await count("SELECT * FROM tum WHERE user = 'a';")).toEqual({ rows: 10, read: 10 });
    expect(await count("SELECT * FROM tum WHERE user = 'a' AND WINDOWSTART BETWEEN 20000 AND 30000;")).toEqual({
      rows: 2,
      read: 2,
    });
    // WINDOWEND bounds the start through the size: end <= 30000 is start <= 20000.
    expect(await count("SELECT * FROM tum WHERE user = 'a' AND WINDOWEND <= 30000;")).toEqual({ rows: 3, read: 3 });
    expect(await count("SELECT * FROM tum WHERE user = 'a' AND WINDOWSTART > 95000;")).toEqual({ rows: 0, read: 0 });
  });

  it("a round-tripped plan (JSON) reads the same rows", async () => {
    // The engine's own environment for pull queries (what engine.pull runs the plan with).
    const env = (engine as unknown as { queryEnv(): QueryEngineEnv }).queryEnv();
    for (const sql of [
      "SELECT * FROM tum WHERE user = 'a' AND WINDOWSTART >= 20000 AND WINDOWEND < 60000;",
      "SELECT * FROM ses WHERE user IN ('a', 'b') AND WINDOWEND BETWEEN 31000 AND 52000;",
    ]) {
      const plan = planOf(sql);
      expect(plan.access).toHaveProperty("window");
      const direct = await runPull(env, plan);
      const copy = await runPull(env, JSON.parse(JSON.stringify(plan)) as typeof plan);
      expect(copy.rows).toEqual(direct.rows);
      expect(direct.rows.length).toBeGreaterThan(0);
      expect(sorted(direct.rows)).toEqual(sorted((await engine.pull(sql)).rows));
    }
  });
});
