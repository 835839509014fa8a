import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { keyRanges } from "../../../runtime/engine/pull.ts";
import { encodeKey } from "../../../runtime/state/keycodec.ts";
import { compileScript, planTableRead, type AnalyzedQuery } from "../../../src/compile.ts";
import { functions } from "../../../src/functions/registry.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

const SETUP = `
CREATE STREAM clicks (user STRING KEY, page STRING, n INT) WITH (kafka_topic='clicks', value_format='JSON', partitions=2);
CREATE TABLE users (id BIGINT PRIMARY KEY, name STRING, region STRING) WITH (kafka_topic='users', value_format='JSON', partitions=2);
CREATE TABLE q_users AS SELECT * FROM users;
CREATE TABLE per_user AS SELECT user, COUNT(*) AS c, SUM(n) AS total FROM clicks GROUP BY user;
CREATE TABLE per_user_w AS SELECT user, COUNT(*) AS c FROM clicks WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY user;
`;

describe("pull queries", () => {
  let dir: string;
  let engine: Engine;
  beforeAll(async () => {
    dir = tempDir("esql-pull-");
    engine = await openEngine({ dataDir: dir });
    const r = await engine.execute(SETUP);
    expect(r.diagnostics).toEqual([]);
    const inserts: string[] = [];
    for (let i = 1; i <= 20; i++)
      inserts.push(`INSERT INTO users (id, name, region) VALUES (${i}, 'u${i}', '${i % 2 ? "odd" : "even"}');`);
    const clicks: [string, string, number, number][] = [
      ["a", "p1", 1, 1000],
      ["a", "p2", 2, 2000],
      ["b", "p1", 5, 3000],
      ["a", "p3", 3, 12000],
      ["c", "p9", 7, 15000],
    ];
    for (const [u, p, n, t] of clicks)
      inserts.push(`INSERT INTO clicks (user, page, n, rowtime) VALUES ('${u}', '${p}', ${n}, ${t});`);
    const ins = await engine.execute(inserts.join("\n"));
    expect(ins.diagnostics).toEqual([]);
    await engine.drain();
  });

  const sorted = (rows: unknown[][]) =>
    [...rows].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[0]) - Number(y[0]));

  it("looks up one key", async () => {
    const r = await engine.pull("SELECT * FROM q_users WHERE id = 7;");
    expect(r.diagnostics).toEqual([]);
    expect(r.columns.map((c) => c.name)).toEqual(["ID", "NAME", "REGION"]);
    expect(r.columns[0]!.key).toBe(true);
    expect(r.rows).toEqual([[7, "u7", "odd"]]);
  });

  it("IN lists, ranges, projections, filters on values, LIMIT", async () => {
    expect(sorted((await engine.pull("SELECT name FROM q_users WHERE id IN (3, 5, 99);")).rows)).toEqual([
      ["u3"],
      ["u5"],
    ]);
    const range = await engine.pull("SELECT id FROM q_users WHERE id > 15 AND id <= 18;");
    expect(range.rows.map((r) => r[0]).sort()).toEqual([16, 17, 18]);
    const between = await engine.pull("SELECT id FROM q_users WHERE id BETWEEN 2 AND 4 AND region = 'even';");
    expect(between.rows.map((r) => r[0]).sort()).toEqual([2, 4]);
    const scan = await engine.pull("SELECT id, UCASE(name) AS up FROM q_users WHERE name LIKE 'u1%';");
    expect(scan.rows.length).toBe(11);
    expect(scan.columns.map((c) => c.name)).toEqual(["ID", "UP"]);
    expect((await engine.pull("SELECT * FROM q_users LIMIT 3;")).rows.length).toBe(3);
    expect((await engine.pull("SELECT * FROM q_users WHERE id = 1 AND id = 2;")).rows).toEqual([]);
  });

  it("reads aggregations by key and windowed tables with window bounds", async () => {
    expect((await engine.pull("SELECT * FROM per_user WHERE user = 'a';")).rows).toEqual([["a", 3, 6]]);
    expect(sorted((await engine.pull("SELECT user, total FROM per_user;")).rows)).toEqual([
      ["a", 6],
      ["b", 5],
      ["c", 7],
    ]);
    const w = await engine.pull("SELECT user, WINDOWSTART AS ws, c FROM per_user_w WHERE user = 'a';");
    expect(w.diagnostics).toEqual([]);
    expect(w.rows).toEqual([
      ["a", 0, 2],
      ["a", 10000, 1],
    ]);
    const late = await engine.pull("SELECT user, c FROM per_user_w WHERE user = 'a' AND WINDOWSTART >= 5000;");
    expect(late.rows).toEqual([["a", 1]]);
  });

  it("reads streams up to their end", async () => {
    const r = await engine.pull("SELECT user, n FROM clicks WHERE n > 2;");
    expect(r.diagnostics).toEqual([]);
    expect(sorted(r.rows)).toEqual([
      ["a", 3],
      ["b", 5],
      ["c", 7],
    ]);
  });

  it("execute() answers bare SELECTs with rows", async () => {
    const r = await engine.execute("SELECT * FROM q_users WHERE id = 2;");
    const res = r.results[0]!;
    expect(res.kind).toBe("ok");
    expect(res.kind === "ok" && res.rows?.rows).toEqual([[2, "u2", "even"]]);
  });

  it("reports errors as diagnostics with the statement's position", async () => {
    const r = await engine.pull("SELECT nope FROM q_users;");
    expect(r.rows).toEqual([]);
    expect(r.diagnostics[0]!.span.line).toBe(1);
    expect(r.diagnostics[0]!.message).toMatch(/NOPE/);
    const notQueryable = await engine.pull("SELECT * FROM users;");
    expect(notQueryable.diagnostics[0]!.message).toMatch(/isn't queryable/);
    const push = await engine.pull("SELECT * FROM q_users EMIT CHANGES;");
    expect(push.diagnostics[0]!.code).toBe("QRY003");
    expect((await engine.pull("SELEC x")).diagnostics.length).toBeGreaterThan(0);
  });
});

describe("keyRanges", () => {
  const c =
    compileScript(`CREATE TABLE t (id BIGINT PRIMARY KEY, v STRING) WITH (kafka_topic='t', value_format='JSON', partitions=1);
    CREATE TABLE m AS SELECT * FROM t;
    SELECT * FROM m WHERE id = 3;
    SELECT * FROM m WHERE id IN (1, 2) AND v = 'x';
    SELECT * FROM m WHERE id >= 5;
    SELECT * FROM m WHERE v = 'x' OR id = 1;
    SELECT * FROM m WHERE (id = 1 OR id = 2) AND id IN (2, 3);`);
  // The access path is the plan's (decided when the query is compiled); the key ranges are its constants, evaluated.
  const access = (i: number) =>
    planTableRead((c.statements[i]!.analyzed as { query: AnalyzedQuery }).query, () => true)!.access;
  it("seeks keys and ranges, scans otherwise", () => {
    expect(access(2).kind).toBe("lookup");
    expect(keyRanges(access(2), functions)).toHaveLength(1);
    expect(keyRanges(access(2), functions)[0]!.gte).toBeDefined();
    expect(keyRanges(access(3), functions)).toHaveLength(2);
    expect(access(4).kind).toBe("range");
    const r = keyRanges(access(4), functions);
    expect(r[0]!.gte).toBeDefined();
    expect(r[0]!.lt).toBeUndefined();
    expect(access(5)).toEqual({ kind: "scan" });
    expect(keyRanges(access(5), functions)).toEqual([{}]);
    // An OR of key equalities is a lookup too; conjuncts on one key intersect: only key 2 is read.
    const intersected = keyRanges(access(6), functions);
    expect(intersected).toHaveLength(1);
    expect(intersected[0]!.gte).toEqual(encodeKey([2]));
  });
  it("is plain JSON: a round-tripped access path seeks the same keys", () => {
    for (const i of [2, 3, 4]) {
      const a = access(i);
      expect(keyRanges(JSON.parse(JSON.stringify(a)) as typeof a, functions)).toEqual(keyRanges(a, functions));
    }
  });
});

describe("pull queries on a source table", () => {
  it("fold the topic per key (tombstones delete), in key order, LIMIT counting keys", async () => {
    const engine = await openEngine();
    try {
      const r = await engine.execute(
        `CREATE SOURCE TABLE loc (id STRING PRIMARY KEY, v INT) WITH (kafka_topic='loc', value_format='JSON', partitions=1);`,
      );
      expect(r.diagnostics).toEqual([]);
      const rec = (k: string, v: number | null) => ({
        key: Buffer.from(k),
        value: v === null ? null : Buffer.from(JSON.stringify({ V: v })),
      });
      await engine.log.append("loc", [rec("c", 1), rec("a", 2), rec("b", 3), rec("c", 4), rec("b", null), rec("d", 5)]);
      expect((await engine.pull("SELECT * FROM loc;")).rows).toEqual([
        ["a", 2],
        ["c", 4],
        ["d", 5],
      ]);
      expect((await engine.pull("SELECT * FROM loc LIMIT 2;")).rows).toEqual([
        ["a", 2],
        ["c", 4],
      ]);
      expect((await engine.pull("SELECT v FROM loc WHERE id = 'c';")).rows).toEqual([[4]]);
    } finally {
      await engine.close();
    }
  });
});
