/**
 * Snapshot tests of the plan texts (logical before/after rules, physical) for representative queries,
 * plus structural checks: determinism, JSON round trip, rule behaviour.
 */
import { describe, expect, it } from "vitest";
import { compileScript, type CompiledStatement } from "../../src/compile.ts";
import { formatLogicalPlan } from "../../src/logical/index.ts";
import { formatPhysicalPlan } from "../../src/physical/index.ts";

const DDL = `
CREATE STREAM pageviews (user_id STRING KEY, page STRING, ms BIGINT, tags ARRAY<STRING>, info STRUCT<referrer STRING, secs INT>)
  WITH (kafka_topic='pageviews', value_format='JSON', timestamp='ms', partitions=2);
CREATE SOURCE TABLE users (id STRING PRIMARY KEY, region STRING, age INT) WITH (kafka_topic='users', value_format='JSON', partitions=2);
CREATE STREAM clicks (id STRING KEY, user_id STRING, x INT, y INT) WITH (kafka_topic='clicks', format='JSON', partitions=2);
CREATE TABLE orders (order_id BIGINT PRIMARY KEY, user_id STRING, amount DECIMAL(10, 2)) WITH (kafka_topic='orders', value_format='JSON', partitions=2);
`;

export const QUERIES: Record<string, string> = {
  "filter and project":
    "CREATE STREAM adults AS SELECT user_id, UCASE(page) AS page, ms + 1 AS next_ms FROM pageviews WHERE info->secs > 10 AND page <> 'home';",
  "struct dereference naming": "CREATE STREAM refs AS SELECT user_id, info->referrer, info->secs * 2 FROM pageviews;",
  "group by key":
    "CREATE TABLE per_user AS SELECT user_id, COUNT(*) AS views, MAX(ms) AS last_ms FROM pageviews GROUP BY user_id;",
  "group by expression (re-key)":
    "CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM pageviews GROUP BY page HAVING COUNT(*) > 2;",
  "tumbling window":
    "CREATE TABLE per_minute AS SELECT page, COUNT(*) AS n, WINDOWSTART AS ws FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS) GROUP BY page EMIT CHANGES;",
  "session window emit final":
    "CREATE TABLE sessions AS SELECT user_id, COUNT(*) AS n FROM pageviews WINDOW SESSION (30 SECONDS) GROUP BY user_id EMIT FINAL;",
  "partition by": "CREATE STREAM by_page AS SELECT page, user_id, ms FROM pageviews PARTITION BY page;",
  explode: "CREATE STREAM tags AS SELECT user_id, EXPLODE(tags) AS tag FROM pageviews;",
  "stream-table join with pushdown":
    "CREATE STREAM enriched AS SELECT pv.user_id AS user_id, pv.page, u.region FROM pageviews pv JOIN users u ON pv.user_id = u.id WHERE u.age > 18 AND pv.page LIKE '/a%';",
  "stream-stream join with repartition":
    "CREATE STREAM pairs AS SELECT c.user_id AS uid, c.x, p.page FROM clicks c JOIN pageviews p WITHIN 1 MINUTE ON c.user_id = p.user_id;",
  "foreign key join":
    "CREATE TABLE order_users AS SELECT o.order_id AS order_id, o.amount, u.region FROM orders o JOIN users u ON o.user_id = u.id;",
  "table aggregation":
    "CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, SUM(age) AS ages FROM users GROUP BY region;",
  "insert into": "INSERT INTO adults SELECT user_id, page, ms AS next_ms FROM pageviews;",
  "push query": "SELECT user_id, page FROM pageviews WHERE ms > 100 EMIT CHANGES LIMIT 5;",
  "pull query by key": "SELECT * FROM users WHERE id = 'u1' OR id = 'u2';",
  "pull query scan": "SELECT id, age FROM users WHERE age > 30;",
};

function compileOne(sql: string): CompiledStatement {
  const pre = sql.startsWith("INSERT INTO adults")
    ? "CREATE STREAM adults AS SELECT user_id, page, ms AS next_ms FROM pageviews;"
    : "";
  const r = compileScript(DDL + pre + sql);
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return r.statements[r.statements.length - 1]!;
}

function planText(s: CompiledStatement): string {
  const steps = (s.steps ?? []).map((st) => `-- after ${st.rule}${st.changed ? "" : " (unchanged)"}`).join("\n");
  return [formatLogicalPlan(s.logical!), steps, formatLogicalPlan(s.optimized!), formatPhysicalPlan(s.physical!)].join(
    "\n\n",
  );
}

describe("plan snapshots", () => {
  for (const [name, sql] of Object.entries(QUERIES)) {
    it(name, () => {
      const s = compileOne(sql);
      expect(s.physical).toBeDefined();
      expect(planText(s)).toMatchSnapshot();
    });
  }
});

describe("plan properties", () => {
  it("plans are deterministic", () => {
    for (const sql of Object.values(QUERIES)) {
      expect(planText(compileOne(sql))).toBe(planText(compileOne(sql)));
    }
  });

  it("physical plans survive a JSON round trip", () => {
    for (const sql of Object.values(QUERIES)) {
      const p = compileOne(sql).physical!;
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      expect(p.version).toBe(1);
    }
  });

  it("pushDownFilter moves one-side conjuncts below an inner join and keeps the rest", () => {
    const s = compileOne(QUERIES["stream-table join with pushdown"]!);
    const text = formatLogicalPlan(s.optimized!);
    expect(text).toMatch(/Join INNER STREAM_TABLE[\s\S]*Filter \(U_AGE > 18\)[\s\S]*Source USERS/);
    expect(text).toMatch(/Filter \(PV_PAGE LIKE '\/a%'\)\n\s+Source PAGEVIEWS/);
    expect(s.steps!.find((x) => x.rule === "pushDownFilter")!.changed).toBe(true);
  });

  it("pushDownFilter leaves filters above a FULL join", () => {
    const r = compileScript(
      DDL +
        "CREATE TABLE t2 (id STRING PRIMARY KEY, v INT) WITH (kafka_topic='t2', value_format='JSON', partitions=2);" +
        "CREATE TABLE j AS SELECT ROWKEY, u.region, t.v FROM users u FULL OUTER JOIN t2 t ON u.id = t.id WHERE t.v > 1;",
    );
    expect(r.diagnostics).toEqual([]);
    const s = r.statements[r.statements.length - 1]!;
    expect(s.steps!.find((x) => x.rule === "pushDownFilter")!.changed).toBe(false);
  });

  it("pruneColumns narrows sources to the columns read", () => {
    const s = compileOne("CREATE STREAM p AS SELECT user_id, page FROM pageviews;");
    expect(formatLogicalPlan(s.optimized!)).toContain("columns=[USER_ID, PAGE, MS]");
  });

  it("the pull query on the key becomes a key lookup", () => {
    const p = compileOne(QUERIES["pull query by key"]!).physical!;
    expect(p.kind).toBe("PULL");
    expect(formatPhysicalPlan(p)).toContain("TableLookup_0 [table] USERS lookup keys=[{'u1', 'u2'}]");
  });

  it("statements without a query get no plan", () => {
    const r = compileScript(
      DDL + "SHOW STREAMS; DESCRIBE users; INSERT INTO clicks (id, user_id, x, y) VALUES ('a', 'b', 1, 2);",
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.statements.slice(4).every((s) => s.physical === undefined)).toBe(true);
  });
});
