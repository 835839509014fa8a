/** The canonical layout of representative statements (inline snapshots) and comment preservation. */
import { describe, expect, it } from "vitest";
import { format } from "../../src/format/plugin.ts";
import { EsqlSyntaxError } from "../../src/format/ast.ts";

const fmt = (text: string, printWidth?: number) => format(text, printWidth === undefined ? {} : { printWidth });

describe("layout", () => {
  it("short statements stay on one line, keywords upper case, identifiers as written", async () => {
    expect(await fmt("select Id, `Name` from Users u where u.Id=1 emit changes;")).toMatchInlineSnapshot(`
      "SELECT Id, \`Name\` FROM Users u WHERE u.Id = 1 EMIT CHANGES;
      "
    `);
  });

  it("CREATE STREAM with columns and WITH properties", async () => {
    expect(
      await fmt(
        "create stream pageviews (viewtime bigint, user_id varchar key, page_id varchar, tags array<string>, meta map<string, struct<a int, `b` decimal(10,2)>>) with (kafka_topic='pageviews', value_format='json', partitions=4);",
      ),
    ).toMatchInlineSnapshot(`
      "CREATE STREAM pageviews (
        viewtime BIGINT,
        user_id STRING KEY,
        page_id STRING,
        tags ARRAY<STRING>,
        meta MAP<STRING, STRUCT<a INTEGER, \`b\` DECIMAL(10, 2)>>
      ) WITH (KAFKA_TOPIC = 'pageviews', VALUE_FORMAT = 'json', PARTITIONS = 4);
      "
    `);
  });

  it("CSAS with clauses on their own lines", async () => {
    expect(
      await fmt(
        "CREATE TABLE totals WITH (kafka_topic='totals') AS SELECT account_id, SUM(amount) AS total, COUNT(*) AS n FROM transactions WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) WHERE amount > 0 GROUP BY account_id HAVING SUM(amount) > 100 EMIT CHANGES;",
      ),
    ).toMatchInlineSnapshot(`
      "CREATE TABLE totals WITH (KAFKA_TOPIC = 'totals') AS
        SELECT account_id, SUM(amount) AS total, COUNT(*) AS n
        FROM transactions
        WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES)
        WHERE amount > 0
        GROUP BY account_id
        HAVING SUM(amount) > 100
        EMIT CHANGES;
      "
    `);
  });

  it("long select lists and AND chains break", async () => {
    expect(
      await fmt(
        "SELECT first_column_name, second_column_name, third_column_name, fourth_column_name, fifth_column_name FROM some_stream WHERE first_column_name = 'a value' AND second_column_name > 10 AND (third_column_name IS NULL OR fourth_column_name LIKE 'x%') EMIT CHANGES;",
      ),
    ).toMatchInlineSnapshot(`
      "SELECT
        first_column_name,
        second_column_name,
        third_column_name,
        fourth_column_name,
        fifth_column_name
      FROM some_stream
      WHERE first_column_name = 'a value'
        AND second_column_name > 10
        AND (third_column_name IS NULL OR fourth_column_name LIKE 'x%')
      EMIT CHANGES;
      "
    `);
  });

  it("joins", async () => {
    expect(
      await fmt(
        "CREATE STREAM enriched AS SELECT c.user_id AS user_id, c.url, u.name, v.page FROM clicks c LEFT OUTER JOIN users u ON c.user_id = u.user_id INNER JOIN views v WITHIN (1 HOUR, 2 HOURS) GRACE PERIOD 5 MINUTES ON c.user_id = v.user_id PARTITION BY c.user_id;",
      ),
    ).toMatchInlineSnapshot(`
      "CREATE STREAM enriched AS
        SELECT c.user_id AS user_id, c.url, u.name, v.page
        FROM clicks c
        LEFT JOIN users u ON c.user_id = u.user_id
        JOIN views v WITHIN (1 HOUR, 2 HOURS) GRACE PERIOD 5 MINUTES ON c.user_id = v.user_id
        PARTITION BY c.user_id;
      "
    `);
  });

  it("CASE", async () => {
    expect(
      await fmt(
        "SELECT id, CASE WHEN amount < 10 THEN 'small' WHEN amount < 100 THEN 'medium' WHEN amount < 1000 THEN 'large' ELSE 'huge' END AS size FROM orders EMIT CHANGES;",
      ),
    ).toMatchInlineSnapshot(`
      "SELECT
        id,
        CASE
          WHEN amount < 10 THEN 'small'
          WHEN amount < 100 THEN 'medium'
          WHEN amount < 1000 THEN 'large'
          ELSE 'huge'
        END AS size
      FROM orders
      EMIT CHANGES;
      "
    `);
  });

  it("hopping and session windows", async () => {
    expect(
      await fmt(
        "select k, count(*) from s window hopping (size 1 hour, advance by 5 minute, retention 2 days) group by k emit final; select k, count(*) from s window session (30 seconds) group by k emit changes;",
      ),
    ).toMatchInlineSnapshot(`
      "SELECT k, COUNT(*)
      FROM s
      WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 5 MINUTE, RETENTION 2 DAYS)
      GROUP BY k
      EMIT FINAL;
      SELECT k, COUNT(*) FROM s WINDOW SESSION (30 SECONDS) GROUP BY k EMIT CHANGES;
      "
    `);
  });

  it("expressions: precedence, lambdas, constructors, casts", async () => {
    expect(
      await fmt(
        "SELECT (a + b) * c, a - (b - c), NOT (x AND y), -(-n), TRANSFORM(arr, (x, y) => x + 1), ARRAY[1, 2], MAP('a' := 1), STRUCT(f := 1), CAST(x AS DECIMAL(4, 2)), s->f[1], x IS NOT NULL, x NOT BETWEEN 1 AND 2, x IN (1, 2) FROM t;",
      ),
    ).toMatchInlineSnapshot(`
      "SELECT
        (a + b) * c,
        a - (b - c),
        NOT (x AND y),
        - -n,
        TRANSFORM(arr, (x, y) => x + 1),
        ARRAY[1, 2],
        MAP('a' := 1),
        STRUCT(f := 1),
        CAST(x AS DECIMAL(4, 2)),
        s->f[1],
        x IS NOT NULL,
        x NOT BETWEEN 1 AND 2,
        x IN (1, 2)
      FROM t;
      "
    `);
  });

  it("INSERT, DROP, SET, DEFINE and friends", async () => {
    expect(
      await fmt(
        "insert into s (a, b) values (1, 'x'); insert into s select * from t; drop table if exists t delete topic; set 'auto.offset.reset'='earliest'; define p = 'it''s'; show tables extended; list streams; describe extended s; terminate all; print 'topic' from beginning limit 2; create type address as struct<street string, zip int>;",
      ),
    ).toMatchInlineSnapshot(`
      "INSERT INTO s (a, b) VALUES (1, 'x');
      INSERT INTO s SELECT * FROM t;
      DROP TABLE IF EXISTS t DELETE TOPIC;
      SET 'auto.offset.reset' = 'earliest';
      DEFINE p = 'it''s';
      SHOW TABLES EXTENDED;
      SHOW STREAMS;
      DESCRIBE EXTENDED s;
      TERMINATE ALL;
      PRINT 'topic' FROM BEGINNING LIMIT 2;
      CREATE TYPE address AS STRUCT<street STRING, zip INTEGER>;
      "
    `);
  });

  it("a narrower print width breaks more", async () => {
    expect(await fmt("SELECT a, b FROM s WHERE a = 1 AND b = 2 EMIT CHANGES;", 30)).toMatchInlineSnapshot(`
      "SELECT a, b
      FROM s
      WHERE a = 1 AND b = 2
      EMIT CHANGES;
      "
    `);
  });

  it("keeps one blank line between statements at most", async () => {
    expect(await fmt("SHOW STREAMS;\n\n\n\nSHOW TABLES;\nSHOW QUERIES;")).toMatchInlineSnapshot(`
      "SHOW STREAMS;

      SHOW TABLES;
      SHOW QUERIES;
      "
    `);
  });

  it("${variables}: statements that use them print as written", async () => {
    expect(
      await fmt(
        "DEFINE col = 'id';\nSELECT  ${col}  FROM s;\nCREATE STREAM x WITH (kafka_topic='${col}') AS SELECT * FROM s;",
      ),
    ).toMatchInlineSnapshot(`
      "DEFINE col = 'id';
      SELECT  \${col}  FROM s;
      CREATE STREAM x WITH (KAFKA_TOPIC = '\${col}') AS SELECT * FROM s;
      "
    `);
  });
});

describe("comments", () => {
  const script = `-- header

/* block
   comment */
CREATE STREAM s (id STRING KEY, -- the key
  amount DOUBLE /* money */) WITH (kafka_topic='s', value_format='JSON'); -- after s

-- before t
CREATE TABLE t AS SELECT id, SUM(amount) AS total -- sum it
  -- own line in select
  FROM s
  -- before where
  WHERE amount > 0 AND /* inline */ id <> 'x'
  GROUP BY id EMIT CHANGES;
SELECT COUNT(/* all */ *) FROM t;
-- at the end
`;

  it("keeps every comment, in order", async () => {
    const out = await fmt(script);
    const comments = (t: string) => t.match(/--[^\n]*|\/\*[\s\S]*?\*\//g) ?? [];
    expect(comments(out)).toEqual(comments(script));
    expect(await fmt(out)).toBe(out);
    expect(out).toMatchInlineSnapshot(`
      "-- header

      /* block
         comment */
      CREATE STREAM s (
        id STRING KEY, -- the key
        amount DOUBLE /* money */
      ) WITH (KAFKA_TOPIC = 's', VALUE_FORMAT = 'JSON'); -- after s

      -- before t
      CREATE TABLE t AS
        SELECT
          id,
          SUM(amount) AS total -- sum it
          -- own line in select
        FROM s
        -- before where
        WHERE amount > 0 AND /* inline */ id <> 'x'
        GROUP BY id
        EMIT CHANGES;
      SELECT COUNT(*) /* all */ FROM t;
      -- at the end
      "
    `);
  });

  it("a script of comments only", async () => {
    expect(await fmt("-- nothing yet\n/* really */\n")).toBe("-- nothing yet\n/* really */\n");
  });
});

describe("errors", () => {
  it("rejects a script with a syntax error, with its position", async () => {
    const err = await fmt("SELECT a FROM s;\nSELECT a FORM s;").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EsqlSyntaxError);
    expect((err as EsqlSyntaxError).message).toMatch(/\(2:15\)/);
    expect((err as EsqlSyntaxError).loc.start).toEqual({ line: 2, column: 15 });
  });
});
