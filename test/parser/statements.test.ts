import { describe, expect, it } from "vitest";
import { stmt, strip, show } from "./helpers.ts";
import { parseScript, KEYWORDS } from "../../src/parse.ts";
import type { Query, Statement } from "../../src/ast/nodes.ts";

function query(text: string): Query {
  const s = stmt(text);
  if (s.kind !== "QueryStatement" && s.kind !== "CreateAsSelect" && s.kind !== "InsertInto") throw new Error(s.kind);
  return s.query;
}

describe("CREATE STREAM / TABLE", () => {
  it("with columns, constraints and properties", () => {
    const s = stmt(
      "CREATE OR REPLACE SOURCE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, `Name` STRING, h ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, x BYTES HEADER('abc')) WITH (kafka_topic='t', value_format='JSON', partitions=2)",
    );
    expect(strip(s)).toEqual({
      kind: "CreateSource",
      sourceType: "TABLE",
      orReplace: true,
      isSource: true,
      ifNotExists: true,
      name: { kind: "Name", value: "T", quoted: false },
      elements: [
        {
          kind: "TableElement",
          name: { kind: "Name", value: "ID", quoted: false },
          type: { kind: "PrimitiveType", name: "INTEGER" },
          constraint: { kind: "PrimaryKey" },
        },
        {
          kind: "TableElement",
          name: { kind: "Name", value: "Name", quoted: true },
          type: { kind: "PrimitiveType", name: "STRING" },
          constraint: { kind: "None" },
        },
        {
          kind: "TableElement",
          name: { kind: "Name", value: "H", quoted: false },
          type: {
            kind: "ArrayType",
            element: {
              kind: "StructType",
              fields: [
                { kind: "StructField", name: "KEY", type: { kind: "PrimitiveType", name: "STRING" } },
                { kind: "StructField", name: "VALUE", type: { kind: "PrimitiveType", name: "BYTES" } },
              ],
            },
          },
          constraint: { kind: "Headers" },
        },
        {
          kind: "TableElement",
          name: { kind: "Name", value: "X", quoted: false },
          type: { kind: "PrimitiveType", name: "BYTES" },
          constraint: { kind: "Header", key: "abc" },
        },
      ],
      properties: [
        {
          kind: "Property",
          name: "KAFKA_TOPIC",
          value: { kind: "Literal", literal: "string", value: "t", text: "'t'" },
        },
        {
          kind: "Property",
          name: "VALUE_FORMAT",
          value: { kind: "Literal", literal: "string", value: "JSON", text: "'JSON'" },
        },
        { kind: "Property", name: "PARTITIONS", value: { kind: "Literal", literal: "integer", value: 2, text: "2" } },
      ],
    });
  });

  it("without a column list; KEY columns on streams", () => {
    const s = stmt("create stream s with (kafka_topic='s', format='AVRO')");
    expect(s).toMatchObject({
      kind: "CreateSource",
      sourceType: "STREAM",
      elements: [],
      orReplace: false,
      isSource: false,
    });
    const k = stmt("CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s')");
    expect(k.kind === "CreateSource" && k.elements[0]!.constraint).toEqual({ kind: "Key" });
  });

  it("KEY on a table / PRIMARY KEY on a stream is SYN004", () => {
    expect(parseScript("CREATE STREAM s (k INT PRIMARY KEY) WITH (kafka_topic='s');").diagnostics[0]?.code).toBe(
      "SYN004",
    );
    expect(parseScript("CREATE TABLE s (k INT KEY) WITH (kafka_topic='s');").diagnostics[0]?.code).toBe("SYN004");
  });

  it("CSAS / CTAS", () => {
    const s = stmt(
      "CREATE TABLE IF NOT EXISTS out WITH (KEY_FORMAT='JSON') AS SELECT id, COUNT(*) AS n FROM s GROUP BY id EMIT CHANGES",
    );
    expect(s).toMatchObject({ kind: "CreateAsSelect", sourceType: "TABLE", ifNotExists: true, orReplace: false });
    if (s.kind !== "CreateAsSelect") throw new Error();
    expect(s.properties.map((p) => p.name)).toEqual(["KEY_FORMAT"]);
    expect(s.query.emit).toBe("CHANGES");
    expect(stmt("CREATE OR REPLACE STREAM o AS SELECT * FROM s")).toMatchObject({
      kind: "CreateAsSelect",
      orReplace: true,
      properties: [],
    });
  });
});

describe("other statements", () => {
  const cases: [string, unknown][] = [
    ["INSERT INTO t SELECT * FROM s", { kind: "InsertInto", target: { value: "T" }, properties: [] }],
    ["INSERT INTO t WITH (QUERY_ID='q') SELECT * FROM s", { kind: "InsertInto", properties: [{ name: "QUERY_ID" }] }],
    [
      "INSERT INTO t (ROWTIME, k, `v`) VALUES (1, 'a', NULL)",
      { kind: "InsertValues", columns: [{ value: "ROWTIME" }, { value: "K" }, { value: "v" }] },
    ],
    ["INSERT INTO t VALUES ('a', 1 + 2)", { kind: "InsertValues", target: { value: "T" } }],
    ["DROP STREAM s", { kind: "DropSource", sourceType: "STREAM", ifExists: false, deleteTopic: false }],
    [
      "DROP TABLE IF EXISTS t DELETE TOPIC",
      { kind: "DropSource", sourceType: "TABLE", ifExists: true, deleteTopic: true },
    ],
    [
      "CREATE TYPE IF NOT EXISTS address AS STRUCT<n INT>",
      { kind: "CreateType", ifNotExists: true, name: { value: "ADDRESS" }, type: { kind: "StructType" } },
    ],
    ["DROP TYPE IF EXISTS address", { kind: "DropType", ifExists: true, name: { value: "ADDRESS" } }],
    ["TERMINATE CSAS_OUT_0", { kind: "Terminate", all: false, queryId: "CSAS_OUT_0" }],
    ["TERMINATE ALL", { kind: "Terminate", all: true }],
    ["DEFINE topic = 'my''topic'", { kind: "Define", name: "TOPIC", value: "my'topic" }],
    ["UNDEFINE topic", { kind: "Undefine", name: "TOPIC" }],
    ["SET 'auto.offset.reset' = 'earliest'", { kind: "SetProperty", name: "auto.offset.reset", value: "earliest" }],
    ["UNSET 'auto.offset.reset'", { kind: "UnsetProperty", name: "auto.offset.reset" }],
    ["SHOW STREAMS", { kind: "Show", what: "STREAMS", extended: false }],
    ["list tables extended", { kind: "Show", what: "TABLES", extended: true }],
    ["SHOW QUERIES", { kind: "Show", what: "QUERIES" }],
    ["SHOW TOPICS", { kind: "Show", what: "TOPICS" }],
    ["SHOW ALL TOPICS EXTENDED", { kind: "Show", what: "TOPICS", all: true, extended: true }],
    ["SHOW FUNCTIONS", { kind: "Show", what: "FUNCTIONS" }],
    ["SHOW PROPERTIES", { kind: "Show", what: "PROPERTIES" }],
    ["SHOW VARIABLES", { kind: "Show", what: "VARIABLES" }],
    ["SHOW TYPES", { kind: "Show", what: "TYPES" }],
    ["DESCRIBE s", { kind: "Describe", target: { kind: "Source", name: { value: "S" } }, extended: false }],
    ["DESCRIBE EXTENDED s", { kind: "Describe", target: { kind: "Source" }, extended: true }],
    ["DESCRIBE STREAMS", { kind: "Describe", target: { kind: "AllSources", sourceType: "STREAM" }, extended: false }],
    [
      "DESCRIBE TABLES EXTENDED",
      { kind: "Describe", target: { kind: "AllSources", sourceType: "TABLE" }, extended: true },
    ],
    ["DESCRIBE FUNCTION substring", { kind: "Describe", target: { kind: "Function", name: { value: "SUBSTRING" } } }],
    ["EXPLAIN CSAS_OUT_0", { kind: "Explain", queryId: "CSAS_OUT_0" }],
    ["EXPLAIN SELECT * FROM s EMIT CHANGES", { kind: "Explain", statement: { kind: "QueryStatement" } }],
    ["EXPLAIN CREATE STREAM o AS SELECT * FROM s", { kind: "Explain", statement: { kind: "CreateAsSelect" } }],
    ["PRINT my_topic", { kind: "Print", topic: "my_topic", fromBeginning: false }],
    [
      "PRINT 'my-topic' FROM BEGINNING INTERVAL 2 LIMIT 10",
      { kind: "Print", topic: "my-topic", fromBeginning: true, interval: 2, limit: 10 },
    ],
    ["RUN SCRIPT '/tmp/x.sql'", { kind: "RunScript", path: "/tmp/x.sql" }],
    ["SELECT * FROM t WHERE k = 1", { kind: "QueryStatement", query: { kind: "Query" } }],
  ];
  for (const [text, shape] of cases) it(text, () => expect(stmt(text)).toMatchObject(shape as Partial<Statement>));
});

describe("queries", () => {
  it("select items", () => {
    const q = query("SELECT *, s.*, a, b AS x, c y, v->*, `Q`.v->* FROM s");
    expect(strip(q.select)).toEqual([
      { kind: "SelectAll" },
      { kind: "SelectAll", qualifier: "S" },
      { kind: "SelectExpr", expr: { kind: "ColumnRef", name: "A" } },
      {
        kind: "SelectExpr",
        expr: { kind: "ColumnRef", name: "B" },
        alias: { kind: "Name", value: "X", quoted: false },
      },
      {
        kind: "SelectExpr",
        expr: { kind: "ColumnRef", name: "C" },
        alias: { kind: "Name", value: "Y", quoted: false },
      },
      { kind: "SelectStructAll", expr: { kind: "ColumnRef", name: "V" } },
      { kind: "SelectStructAll", expr: { kind: "ColumnRef", qualifier: "Q", name: "V" } },
    ]);
    expect(parseScript("SELECT a->* + 1 FROM s").diagnostics[0]?.message).toMatch(/'->\*' is only allowed/);
  });

  it("clauses", () => {
    const q = query("SELECT a FROM s WHERE a > 1 GROUP BY a, b PARTITION BY c HAVING COUNT(*) > 2 EMIT FINAL LIMIT 5");
    expect(show(q.where!)).toBe("(A > 1)");
    expect(q.groupBy!.map(show)).toEqual(["A", "B"]);
    expect(q.partitionBy!.map(show)).toEqual(["C"]);
    expect(show(q.having!)).toBe("(COUNT(*) > 2)");
    expect(q.emit).toBe("FINAL");
    expect(q.limit).toBe(5);
    expect(query("SELECT a FROM s").emit).toBeUndefined();
  });

  it("parenthesised GROUP BY / PARTITION BY", () => {
    expect(query("SELECT a FROM s GROUP BY (a, b)").groupBy!.map(show)).toEqual(["A", "B"]);
    expect(query("SELECT a FROM s GROUP BY (a)").groupBy!.map(show)).toEqual(["A"]);
    expect(query("SELECT * FROM s PARTITION BY (name IS NULL)").partitionBy!.map(show)).toEqual(["(NAME IS NULL)"]);
    expect(parseScript("SELECT * FROM s PARTITION BY a AND b").diagnostics[0]?.code).toBe("SYN001");
  });

  it("joins, n-way, with WITHIN and GRACE", () => {
    const q = query(
      "SELECT * FROM a AS x JOIN b y WITHIN 1 MINUTE ON x.k = y.k LEFT OUTER JOIN c WITHIN (10 SECONDS, 2 HOURS) GRACE PERIOD 500 MILLISECOND ON x.k = c.k RIGHT JOIN d ON 1 = 1 FULL OUTER JOIN e ON TRUE INNER JOIN f ON TRUE",
    );
    const joins: unknown[] = [];
    let r = q.from;
    while (r.kind === "Join") {
      joins.unshift({
        type: r.joinType,
        right: r.right.name.value,
        within: r.within && [r.within.before.millis, r.within.after.millis, r.within.grace?.millis],
      });
      r = r.left;
    }
    expect(r).toMatchObject({ kind: "AliasedSource", name: { value: "A" }, alias: { value: "X" } });
    expect(joins).toEqual([
      { type: "INNER", right: "B", within: [60000, 60000, undefined] },
      { type: "LEFT", right: "C", within: [10000, 7200000, 500] },
      { type: "RIGHT", right: "D", within: undefined },
      { type: "FULL", right: "E", within: undefined },
      { type: "INNER", right: "F", within: undefined },
    ]);
  });

  it("windows, units singular and plural", () => {
    expect(
      strip(
        query("SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 DAYS, GRACE PERIOD 10 MINUTES) GROUP BY a")
          .window,
      ),
    ).toEqual({
      kind: "TumblingWindow",
      size: { kind: "Duration", value: 1, unit: "HOURS", millis: 3600000 },
      retention: { kind: "Duration", value: 2, unit: "DAYS", millis: 172800000 },
      grace: { kind: "Duration", value: 10, unit: "MINUTES", millis: 600000 },
    });
    expect(
      strip(query("SELECT a FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 5 SECOND) GROUP BY a").window),
    ).toEqual({
      kind: "HoppingWindow",
      size: { kind: "Duration", value: 30, unit: "SECONDS", millis: 30000 },
      advance: { kind: "Duration", value: 5, unit: "SECONDS", millis: 5000 },
    });
    expect(
      strip(query("SELECT a FROM s WINDOW SESSION (1 MILLISECONDS, GRACE PERIOD 0 DAY) GROUP BY a").window),
    ).toEqual({
      kind: "SessionWindow",
      gap: { kind: "Duration", value: 1, unit: "MILLISECONDS", millis: 1 },
      grace: { kind: "Duration", value: 0, unit: "DAYS", millis: 0 },
    });
    expect(query("SELECT a FROM s WINDOW w TUMBLING (SIZE 1 SECOND) GROUP BY a").window?.kind).toBe("TumblingWindow");
  });

  it("window parameter errors", () => {
    expect(
      parseScript("SELECT a FROM s WINDOW TUMBLING (ADVANCE BY 1 SECOND) GROUP BY a").diagnostics.map((d) => d.message),
    ).toEqual(["a TUMBLING window needs SIZE", "ADVANCE BY is not allowed in a TUMBLING window"]);
    expect(parseScript("SELECT a FROM s WINDOW HOPPING (SIZE 1 SECOND) GROUP BY a").diagnostics[0]?.message).toBe(
      "a HOPPING window needs ADVANCE BY",
    );
    expect(
      parseScript("SELECT a FROM s WINDOW SESSION (SIZE 1 SECOND) GROUP BY a").diagnostics.map((d) => d.message),
    ).toEqual(["a SESSION window needs a gap duration", "SIZE is not allowed in a SESSION window"]);
  });
});

describe("scripts", () => {
  it("splits at ';', keeps statement text, allows a missing last ';' and comments", () => {
    const r = parseScript("-- head\nSELECT a FROM s; /* c; */ SELECT ';' FROM t ;;\nDROP STREAM x");
    expect(r.diagnostics).toEqual([]);
    expect(r.statements.map((s) => s.text)).toEqual(["SELECT a FROM s", "SELECT ';' FROM t", "DROP STREAM x"]);
  });

  it("skips a bad statement and goes on", () => {
    const r = parseScript("SELECT FROM s;\nSELECT a FROM t;\nCREATE STREAM;\nDROP TABLE x;");
    expect(r.statements.map((s) => s.statement.kind)).toEqual(["QueryStatement", "DropSource"]);
    expect(r.diagnostics.map((d) => d.span.line)).toEqual([1, 3]);
  });

  it("keywords are case-insensitive and listed", () => {
    expect(stmt("sElEcT a FrOm s WhErE a Is NoT nUlL").kind).toBe("QueryStatement");
    expect(KEYWORDS).toContain("SELECT");
    expect(KEYWORDS).toContain("TUMBLING");
    expect(KEYWORDS.every((k) => k === k.toUpperCase())).toBe(true);
  });
});
