/** Rules of semantic analysis, each with the diagnostic (code, message, span) or the schema it produces. */
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";
import { Codes } from "../../src/semantic/codes.ts";
import { formatType } from "../../src/types/sqltype.ts";

const BASE = `
CREATE STREAM s (id INT KEY, name STRING, age INT, tags ARRAY<STRING>, addr STRUCT<city STRING, zip INT>, amount DECIMAL(6, 2)) WITH (kafka_topic='s', value_format='JSON');
CREATE TABLE t (id INT PRIMARY KEY, region STRING, score DOUBLE) WITH (kafka_topic='t', value_format='JSON');
`;

function compile(sql: string) {
  return compileScript(BASE + sql);
}
function errors(sql: string) {
  return compile(sql).diagnostics.map((d) => ({
    code: d.code,
    message: d.message,
  }));
}
function schema(sql: string, name = "OUT"): string {
  const r = compile(sql);
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  const src = r.catalog.source(name)!;
  return src.columns.map((c) => `${c.name} ${formatType(c.type)}${c.namespace === "KEY" ? " KEY" : ""}`).join(", ");
}
function firstError(sql: string) {
  const d = compile(sql).diagnostics[0];
  expect(d).toBeDefined();
  return d!;
}

describe("names", () => {
  it("unknown column: message, closest names, span of the reference", () => {
    const sql = "CREATE STREAM out AS SELECT id, nmae FROM s;";
    const d = firstError(sql);
    expect(d.code).toBe(Codes.UNKNOWN_COLUMN);
    expect(d.message).toBe("SELECT column 'NMAE' cannot be resolved.");
    expect(d.hint).toContain("'NAME'");
    const text = BASE + sql;
    expect(text.slice(d.span.start, d.span.end)).toBe("nmae");
  });
  it("unknown source with a hint", () => {
    const d = firstError("CREATE STREAM out AS SELECT * FROM ss;");
    expect(d.code).toBe(Codes.UNKNOWN_SOURCE);
    expect(d.hint).toContain("'S'");
  });
  it("unknown qualifier", () => {
    expect(errors("CREATE STREAM out AS SELECT x.id FROM s;")[0]!.message).toBe(
      "'X' is not a valid stream/table name or alias.",
    );
  });
  it("aliases, qualified names and struct dereference", () => {
    expect(schema("CREATE STREAM out AS SELECT a.id, a.addr->city, UCASE(a.name), a.addr->zip + 1 FROM s a;")).toBe(
      "ID INTEGER KEY, CITY STRING, KSQL_COL_0 STRING, KSQL_COL_1 INTEGER",
    );
  });
  it("ambiguous column in a join", () => {
    const e = errors("CREATE STREAM out AS SELECT s.id, region FROM s JOIN t ON s.id = t.id WHERE id > 1;");
    expect(e[0]!.code).toBe(Codes.AMBIGUOUS_COLUMN);
  });
  it("unknown function lists near names", () => {
    const d = firstError("CREATE STREAM out AS SELECT id, UCAS(name) FROM s;");
    expect(d.code).toBe(Codes.UNKNOWN_FUNCTION);
    expect(d.hint).toContain("UCASE");
  });
  it("wrong argument types list the signatures", () => {
    const d = firstError("CREATE STREAM out AS SELECT id, UCASE(age) FROM s;");
    expect(d.code).toBe(Codes.NO_MATCHING_SIGNATURE);
    expect(d.hint).toMatch(/UCASE/);
  });
});

describe("types", () => {
  it("comparisons need comparable types", () => {
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age > 'x';")[0]!.message).toBe(
      "Error in WHERE expression: Cannot compare AGE (INTEGER) to 'x' (STRING) with GREATER_THAN.",
    );
  });
  it("WHERE must be boolean", () => {
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age;")[0]!.message).toContain(
      "Should evaluate to boolean",
    );
  });
  it("numeric widening and decimal arithmetic", () => {
    expect(schema("CREATE STREAM out AS SELECT id, age + 1.5 AS a, amount * 2 AS b, age * 2.0E0 AS c FROM s;")).toBe(
      "ID INTEGER KEY, A DECIMAL(12, 1), B DECIMAL(17, 2), C DOUBLE",
    );
  });
  it("CASE result type and errors", () => {
    expect(schema("CREATE STREAM out AS SELECT id, CASE WHEN age > 1 THEN 1 ELSE 2.5 END AS c FROM s;")).toBe(
      "ID INTEGER KEY, C DECIMAL(11, 1)",
    );
    expect(errors("CREATE STREAM out AS SELECT id, CASE WHEN age > 1 THEN 1 ELSE 'x' END AS c FROM s;")[0]!.code).toBe(
      Codes.TYPE_MISMATCH,
    );
  });
  it("CAST validity", () => {
    expect(errors("CREATE STREAM out AS SELECT id, CAST(name AS ARRAY<INT>) AS c FROM s;")[0]!.message).toBe(
      "Invalid Select: Cast of STRING to ARRAY<INTEGER> is not supported",
    );
  });
  it("IN list items convert or fail", () => {
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age IN (1, '2');")).toEqual([]);
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age IN (1, 'x');")[0]!.message).toContain(
      'invalid input syntax for type INTEGER: "x"',
    );
  });
  it("LIKE needs strings; BETWEEN", () => {
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age LIKE 'a%';")[0]!.code).toBe(Codes.TYPE_MISMATCH);
    expect(errors("CREATE STREAM out AS SELECT * FROM s WHERE age BETWEEN 1 AND 10;")).toEqual([]);
  });
  it("lambdas", () => {
    expect(schema("CREATE STREAM out AS SELECT id, TRANSFORM(tags, x => UCASE(x)) AS up FROM s;")).toBe(
      "ID INTEGER KEY, UP ARRAY<STRING>",
    );
  });
  it("custom types", () => {
    expect(
      schema(
        "CREATE TYPE addr_t AS STRUCT<city STRING>; CREATE STREAM out (k STRING KEY, a ADDR_T) WITH (kafka_topic='o', value_format='JSON');",
      ),
    ).toBe("K STRING KEY, A STRUCT<`CITY` STRING>");
  });
});

describe("aggregation", () => {
  it("group by key names and value columns", () => {
    expect(schema("CREATE TABLE out AS SELECT name, COUNT(*) AS n FROM s GROUP BY name;")).toBe(
      "NAME STRING KEY, N BIGINT",
    );
    expect(schema("CREATE TABLE out AS SELECT LCASE(name), COUNT(*) FROM s GROUP BY LCASE(name);")).toBe(
      "KSQL_COL_0 STRING KEY, KSQL_COL_1 BIGINT",
    );
  });
  it("non-aggregate select expressions must be grouped", () => {
    expect(errors("CREATE TABLE out AS SELECT name, age, COUNT(*) FROM s GROUP BY name;")[0]!.message).toBe(
      "Non-aggregate SELECT expression(s) not part of GROUP BY: AGE",
    );
  });
  it("grouping expression must be projected", () => {
    expect(errors("CREATE TABLE out AS SELECT COUNT(*) AS n FROM s GROUP BY name;")[0]!.message).toContain(
      "must include the grouping expression NAME in its projection",
    );
  });
  it("aggregates are not allowed in WHERE or GROUP BY", () => {
    expect(errors("CREATE TABLE out AS SELECT name, COUNT(*) FROM s WHERE COUNT(*) > 1 GROUP BY name;")[0]!.code).toBe(
      Codes.AGGREGATE_NOT_ALLOWED,
    );
    expect(errors("CREATE TABLE out AS SELECT COUNT(*) FROM s GROUP BY SUM(age);")[0]!.message).toContain(
      "GROUP BY does not support aggregate functions",
    );
  });
  it("HAVING", () => {
    expect(errors("CREATE TABLE out AS SELECT name, COUNT(*) FROM s GROUP BY name HAVING SUM(age) > 3;")).toEqual([]);
    expect(errors("CREATE TABLE out AS SELECT name, COUNT(*) FROM s GROUP BY name HAVING age > 3;")[0]!.code).toBe(
      Codes.NOT_IN_GROUP_BY,
    );
  });
  it("windows: on streams only, need GROUP BY; EMIT FINAL only windowed", () => {
    expect(
      schema(
        "CREATE TABLE out AS SELECT name, COUNT(*) AS n, WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY name;",
      ),
    ).toBe("NAME STRING KEY, N BIGINT, WS BIGINT");
    expect(
      errors("CREATE TABLE out AS SELECT region, COUNT(*) FROM t WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region;")[0]!
        .code,
    ).toBe(Codes.INVALID_WINDOW);
    expect(errors("CREATE TABLE out AS SELECT name, COUNT(*) FROM s GROUP BY name EMIT FINAL;")[0]!.message).toBe(
      "EMIT FINAL is only supported for windowed aggregations.",
    );
  });
  it("table functions", () => {
    expect(schema("CREATE STREAM out AS SELECT id, EXPLODE(tags) AS tag FROM s;")).toBe("ID INTEGER KEY, TAG STRING");
    expect(errors("CREATE TABLE out AS SELECT name, EXPLODE(tags), COUNT(*) FROM s GROUP BY name;")[0]!.message).toBe(
      "Table functions cannot be used with aggregations.",
    );
  });
});

describe("keys, sinks, stream/table rules", () => {
  it("key must be projected for tables; streams may drop it", () => {
    expect(errors("CREATE TABLE out AS SELECT region FROM t;")[0]!.message).toContain("must include the key column ID");
    expect(schema("CREATE STREAM out AS SELECT name FROM s;")).toBe("NAME STRING");
  });
  it("PARTITION BY re-keys; not on tables", () => {
    expect(schema("CREATE STREAM out AS SELECT name, age FROM s PARTITION BY name;")).toBe(
      "NAME STRING KEY, AGE INTEGER",
    );
    expect(errors("CREATE TABLE out AS SELECT * FROM t PARTITION BY region;").length).toBeGreaterThan(0);
  });
  it("CTAS from a stream without GROUP BY and CSAS from a table are refused", () => {
    expect(errors("CREATE TABLE out AS SELECT * FROM s;")[0]!.message).toContain("produces a STREAM");
    expect(errors("CREATE STREAM out AS SELECT * FROM t;")[0]!.message).toContain("produces a TABLE");
  });
  it("sink defaults: topic = name, formats inherited, KAFKA key for new keys", () => {
    const r = compile("CREATE STREAM out WITH (value_format='DELIMITED') AS SELECT * FROM s WHERE age > 1;");
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      "The 'DELIMITED' format does not support type 'ARRAY', column: `TAGS`",
    ]);
    const ok = compile("CREATE STREAM out AS SELECT id, name FROM s;").catalog.source("OUT")!;
    expect(ok.topic).toBe("OUT");
    expect(ok.valueFormat.format).toBe("JSON");
    expect(ok.keyFormat.format).toBe("KAFKA");
  });
  it("query ids follow ksqlDB's naming", () => {
    const r = compile(
      "CREATE STREAM a AS SELECT * FROM s; CREATE TABLE b AS SELECT name, COUNT(*) AS n FROM s GROUP BY name; INSERT INTO a SELECT * FROM s;",
    );
    expect([...r.catalog.queries.keys()]).toEqual(["CSAS_A_0", "CTAS_B_1", "INSERTQUERY_2"]);
  });
  it("reserved names in projections", () => {
    expect(errors("CREATE STREAM out AS SELECT id, ROWTIME FROM s;")[0]!.message).toBe(
      "Reserved column name in select: `ROWTIME`. Please remove or alias the column.",
    );
    expect(schema("CREATE STREAM out AS SELECT id, ROWTIME AS ts FROM s;")).toBe("ID INTEGER KEY, TS BIGINT");
  });
});

describe("DDL", () => {
  it("WITH properties: unknown ones name the known ones", () => {
    const d = firstError("CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='JSON', partitons=1);");
    expect(d.code).toBe(Codes.UNKNOWN_PROPERTY);
    expect(d.message).toContain("KAFKA_TOPIC");
    expect(d.hint).toContain("PARTITIONS");
  });
  it("value format required; FORMAT and KEY_FORMAT exclusive; unknown format", () => {
    expect(errors("CREATE STREAM x (a INT) WITH (kafka_topic='x');")[0]!.code).toBe(Codes.MISSING_PROPERTY);
    expect(errors("CREATE STREAM x (a INT) WITH (kafka_topic='x', format='JSON', key_format='KAFKA');")[0]!.code).toBe(
      Codes.INVALID_PROPERTY,
    );
    expect(errors("CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='FOO');")[0]!.message).toBe(
      "Unknown format: FOO",
    );
  });
  it("key rules: tables need PRIMARY KEY, streams use KEY, KAFKA single column, NONE none", () => {
    expect(errors("CREATE TABLE x (a INT) WITH (kafka_topic='x', value_format='JSON');")[0]!.message).toBe(
      "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.",
    );
    expect(
      errors("CREATE STREAM x (a INT PRIMARY KEY) WITH (kafka_topic='x', value_format='JSON');").length,
    ).toBeGreaterThan(0);
    expect(
      errors("CREATE STREAM x (a INT KEY, b INT KEY, c INT) WITH (kafka_topic='x', value_format='JSON');")[0]!.message,
    ).toContain("only supports a single field");
    expect(
      errors("CREATE STREAM x (a INT KEY, c INT) WITH (kafka_topic='x', key_format='NONE', value_format='JSON');")[0]!
        .message,
    ).toContain("'NONE' format");
  });
  it("timestamp column checks", () => {
    expect(
      errors("CREATE STREAM x (a INT, ts STRING) WITH (kafka_topic='x', value_format='JSON', timestamp='ts');")[0]!
        .code,
    ).toBe(Codes.TIMESTAMP_COLUMN);
    expect(
      errors(
        "CREATE STREAM x (a INT, ts STRING) WITH (kafka_topic='x', value_format='JSON', timestamp='ts', timestamp_format='yyyy');",
      ),
    ).toEqual([]);
  });
  it("topics must exist or PARTITIONS be given under strictTopics", () => {
    const r = compileScript("CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='JSON');", {
      strictTopics: true,
    });
    expect(r.diagnostics[0]!.code).toBe(Codes.TOPIC);
    expect(
      compileScript("CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='JSON', partitions=1);", {
        strictTopics: true,
      }).diagnostics,
    ).toEqual([]);
  });
  it("a statement with errors leaves the catalog unchanged; later statements still run", () => {
    const r = compile("CREATE STREAM bad AS SELECT nope FROM s; CREATE STREAM good AS SELECT id, name FROM s;");
    expect(r.catalog.source("BAD")).toBeUndefined();
    expect(r.catalog.source("GOOD")).toBeDefined();
    expect(r.diagnostics).toHaveLength(1);
  });
  it("DROP: unknown, in use, then allowed once readers are gone", () => {
    expect(errors("DROP STREAM nope;")[0]!.message).toBe("Stream NOPE does not exist.");
    expect(errors("DROP STREAM IF EXISTS nope;")).toEqual([]);
    expect(errors("CREATE STREAM a AS SELECT * FROM s; DROP STREAM s;")[0]!.code).toBe(Codes.SOURCE_IN_USE);
    expect(errors("CREATE STREAM a AS SELECT * FROM s; DROP STREAM a; DROP STREAM s;")).toEqual([]);
  });
  it("INSERT INTO schema compatibility and target type", () => {
    expect(errors("CREATE STREAM a AS SELECT id, name FROM s; INSERT INTO a SELECT id, age FROM s;")[0]!.code).toBe(
      Codes.SCHEMA_MISMATCH,
    );
    expect(errors("INSERT INTO t SELECT * FROM t;")[0]!.message).toBe(
      "INSERT INTO can only be used to insert into a stream. T is a table.",
    );
  });
  it("INSERT VALUES: columns, count, types", () => {
    expect(errors("INSERT INTO s (id, name) VALUES (1, 'a');")).toEqual([]);
    expect(errors("INSERT INTO s (id, nam) VALUES (1, 'a');")[0]!.code).toBe(Codes.UNKNOWN_COLUMN);
    expect(errors("INSERT INTO s (id, name) VALUES (1);")[0]!.code).toBe(Codes.INSERT_VALUES);
    expect(errors("INSERT INTO s (id, age) VALUES (1, ARRAY[1]);")[0]!.code).toBe(Codes.INSERT_VALUES);
  });
});

describe("joins", () => {
  it("stream-stream needs WITHIN", () => {
    expect(
      errors(
        "CREATE STREAM s2 (id INT KEY, v INT) WITH (kafka_topic='s2', value_format='JSON'); CREATE STREAM out AS SELECT s.id, v FROM s JOIN s2 ON s.id = s2.id;",
      )[0]!.code,
    ).toBe(Codes.INVALID_JOIN);
  });
  it("stream-table on the table's key; result key and names", () => {
    expect(schema("CREATE STREAM out AS SELECT s.id, name, region FROM s JOIN t ON s.id = t.id;")).toBe(
      "S_ID INTEGER KEY, NAME STRING, REGION STRING",
    );
    expect(errors("CREATE STREAM out AS SELECT s.id, name FROM s JOIN t ON s.id = t.score;")[0]!.message).toContain(
      "types don't match",
    );
    expect(errors("CREATE STREAM out AS SELECT t.id, name FROM t JOIN s ON s.id = t.id;")[0]!.message).toContain(
      "table-stream joins are not supported",
    );
  });
  it("join key must be projected", () => {
    expect(errors("CREATE STREAM out AS SELECT name, region FROM s JOIN t ON s.id = t.id;")[0]!.message).toContain(
      "must include the join expression",
    );
  });
  it("co-partitioning: known partition counts must match", () => {
    const e = errors(
      "CREATE STREAM a (id INT KEY, v INT) WITH (kafka_topic='a', value_format='JSON', partitions=2);" +
        "CREATE TABLE b (id INT PRIMARY KEY, w INT) WITH (kafka_topic='b', value_format='JSON', partitions=3);" +
        "CREATE STREAM out AS SELECT a.id, v, w FROM a JOIN b ON a.id = b.id;",
    );
    expect(e[0]!.message).toContain("number of partitions don't match");
  });
  it("self joins are refused", () => {
    expect(
      errors("CREATE STREAM out AS SELECT a.id FROM s a JOIN s b WITHIN 1 SECOND ON a.id = b.id;")[0]!.message,
    ).toContain("self joins are not yet supported");
  });
});

describe("join output names and keys (ksqlDB's rules)", () => {
  const TT = `
CREATE TABLE u (id INT PRIMARY KEY, name STRING, region STRING) WITH (kafka_topic='u', value_format='JSON');
CREATE TABLE v (id INT PRIMARY KEY, name STRING, f1 STRING) WITH (kafka_topic='v', value_format='JSON');
`;
  it("a column reference is prefixed only when several sources have the name", () => {
    expect(
      schema(TT + "CREATE TABLE out AS SELECT u.id, u.name, v.name, region, v.f1 FROM u JOIN v ON u.id = v.id;"),
    ).toBe("U_ID INTEGER KEY, U_NAME STRING, V_NAME STRING, REGION STRING, F1 STRING");
  });
  it("`*` always prefixes; the key is named after the left join column", () => {
    expect(schema(TT + "CREATE TABLE out AS SELECT v.*, u.* FROM u JOIN v ON u.id = v.id;")).toBe(
      "U_ID INTEGER KEY, V_ID INTEGER, V_NAME STRING, V_F1 STRING, U_NAME STRING, U_REGION STRING",
    );
  });
  it("a RIGHT join's key is still named after the left join column", () => {
    expect(schema(TT + "CREATE TABLE out AS SELECT * FROM u RIGHT JOIN v ON u.id = v.id;")).toBe(
      "U_ID INTEGER KEY, U_NAME STRING, U_REGION STRING, V_ID INTEGER, V_NAME STRING, V_F1 STRING",
    );
  });
  it("generated names skip the sources' column names", () => {
    expect(
      schema(
        "CREATE STREAM i (KSQL_COL_1 INT KEY, v INT) WITH (kafka_topic='i', value_format='JSON');" +
          "CREATE STREAM out AS SELECT KSQL_COL_1, ABS(v), ABS(v) FROM i;",
      ),
    ).toBe("KSQL_COL_1 INTEGER KEY, KSQL_COL_0 INTEGER, KSQL_COL_2 INTEGER");
  });
  it("a foreign-key join keeps the left table's whole primary key", () => {
    const FK = `
CREATE TABLE l (a INT PRIMARY KEY, b INT PRIMARY KEY, fk INT) WITH (kafka_topic='l', format='JSON');
CREATE TABLE r (id INT PRIMARY KEY, x STRING) WITH (kafka_topic='r', format='JSON');
`;
    expect(schema(FK + "CREATE TABLE out AS SELECT a, b, x FROM l JOIN r ON fk = id;")).toBe(
      "A INTEGER KEY, B INTEGER KEY, X STRING",
    );
    expect(errors(FK + "CREATE TABLE out AS SELECT a, x FROM l JOIN r ON fk = id;")[0]!.message).toBe(
      "Primary key column missing in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (`L`). Missing column: `B`.",
    );
  });
});

describe("other ksqlDB rules", () => {
  it("TOPK(sort_col, cols..., k) gives STRUCT<sort_col, col0, ...> rows", () => {
    expect(schema("CREATE TABLE out AS SELECT id, TOPK(age, name, 2) AS top FROM s GROUP BY id;")).toBe(
      "ID INTEGER KEY, TOP ARRAY<STRUCT<`sort_col` INTEGER, `col0` STRING>>",
    );
  });
  it("aggregates with a structured state are refused over DELIMITED", () => {
    expect(
      errors(
        "CREATE STREAM d (id INT KEY, v INT) WITH (kafka_topic='d', value_format='DELIMITED');" +
          "CREATE TABLE out AS SELECT id, AVG(v) AS a FROM d GROUP BY id;",
      )[0]!.message,
    ).toContain("intermediate type that the value format can not handle");
  });
  it("RUN SCRIPT is a client command", () => {
    expect(errors("RUN SCRIPT 'x.sql';")[0]!.code).toBe(Codes.UNSUPPORTED);
  });
  it("IN compares numbers in their common type", () => {
    const r = compile("CREATE STREAM out AS SELECT * FROM s WHERE age IN (1, 2.5, '3');");
    expect(r.diagnostics).toEqual([]);
  });
  it("pull queries with table scans disabled must look up keys", () => {
    const sql =
      BASE + "CREATE TABLE agg AS SELECT id, COUNT(*) AS c FROM s GROUP BY id;" + "SELECT * FROM agg WHERE c > 1;";
    const r = compileScript(sql, {
      properties: { "ksql.query.pull.table.scan.enabled": "false" },
    });
    expect(r.diagnostics[0]!.message).toBe("WHERE clause missing key column for disjunct: (C > 1)");
    expect(compileScript(sql).diagnostics).toEqual([]);
  });
});
