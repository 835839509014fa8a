/**
 * Mistakes people make, one per case: each must produce at least one diagnostic whose rendered form is
 * snapshotted in test/corpus/__snapshots__/errors.txt. The shared preamble defines sources to refer to.
 */
export const PREAMBLE = `CREATE STREAM s (id STRING KEY, amount DOUBLE, name STRING, tags ARRAY<STRING>, info STRUCT<city STRING>, ts BIGINT)
  WITH (kafka_topic = 's', value_format = 'JSON', partitions = 2);
CREATE TABLE t (id STRING PRIMARY KEY, label STRING) WITH (kafka_topic = 't', value_format = 'JSON', partitions = 2);
`;

export const MISTAKES: readonly { readonly name: string; readonly sql: string }[] = [
  { name: "missing comma between columns", sql: "SELECT id amount name FROM s EMIT CHANGES;" },
  { name: "missing FROM", sql: "SELECT id, amount s EMIT CHANGES;" },
  { name: "unclosed parenthesis", sql: "SELECT COUNT(id FROM s GROUP BY id EMIT CHANGES;" },
  { name: "unterminated string", sql: "SELECT id FROM s WHERE name = 'bob EMIT CHANGES;" },
  { name: "double equals", sql: "SELECT id FROM s WHERE name == 'bob' EMIT CHANGES;" },
  {
    name: "unknown type",
    sql: "CREATE STREAM x (a STRNG) WITH (kafka_topic = 'x', value_format = 'JSON', partitions = 1);",
  },
  { name: "misspelled keyword", sql: "SELECT id FORM s EMIT CHANGES;" },
  {
    name: "reserved word as column name",
    sql: "CREATE STREAM x (select INT) WITH (kafka_topic = 'x', value_format = 'JSON', partitions = 1);",
  },
  { name: "unknown column with a close name", sql: "SELECT amout FROM s EMIT CHANGES;" },
  { name: "unknown source", sql: "SELECT * FROM nope EMIT CHANGES;" },
  { name: "unknown function", sql: "SELECT UPPERCASE(name) FROM s EMIT CHANGES;" },
  { name: "wrong argument types", sql: "SELECT SUBSTRING(amount, 'x') FROM s EMIT CHANGES;" },
  { name: "wrong number of arguments", sql: "SELECT UCASE(name, name) FROM s EMIT CHANGES;" },
  { name: "comparing string with number", sql: "SELECT id FROM s WHERE name > 5 EMIT CHANGES;" },
  { name: "WHERE is not boolean", sql: "SELECT id FROM s WHERE amount EMIT CHANGES;" },
  {
    name: "non-aggregate column not in GROUP BY",
    sql: "CREATE TABLE x AS SELECT id, name, COUNT(*) FROM s GROUP BY id;",
  },
  { name: "aggregate in WHERE", sql: "SELECT id FROM s WHERE COUNT(*) > 1 GROUP BY id EMIT CHANGES;" },
  {
    name: "window on a table",
    sql: "CREATE TABLE x AS SELECT id, COUNT(*) FROM t WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id;",
  },
  {
    name: "window retention shorter than size plus grace",
    sql: "CREATE TABLE x AS SELECT id, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 HOURS) GROUP BY id;",
  },
  { name: "EMIT FINAL without a window", sql: "SELECT id, COUNT(*) FROM s GROUP BY id EMIT FINAL;" },
  {
    name: "unknown WITH property",
    sql: "CREATE STREAM x (a INT) WITH (kafka_topic = 'x', value_format = 'JSON', partitions = 1, colour = 'red');",
  },
  { name: "missing value format", sql: "CREATE STREAM x (a INT) WITH (kafka_topic = 'x', partitions = 1);" },
  {
    name: "unknown format",
    sql: "CREATE STREAM x (a INT) WITH (kafka_topic = 'x', value_format = 'XML', partitions = 1);",
  },
  {
    name: "table without primary key",
    sql: "CREATE TABLE x (a INT) WITH (kafka_topic = 'x', value_format = 'JSON', partitions = 1);",
  },
  {
    name: "source already exists",
    sql: "CREATE STREAM s (a INT) WITH (kafka_topic = 's2', value_format = 'JSON', partitions = 1);",
  },
  { name: "drop unknown source", sql: "DROP STREAM nothing;" },
  { name: "insert with wrong value type", sql: "INSERT INTO s (id, amount) VALUES ('a', ARRAY[1, 2]);" },
  { name: "insert into unknown column", sql: "INSERT INTO s (id, amont) VALUES ('a', 1.0);" },
  { name: "dereference of a non-struct", sql: "SELECT name->city FROM s EMIT CHANGES;" },
  { name: "unknown struct field", sql: "SELECT info->town FROM s EMIT CHANGES;" },
  { name: "invalid cast", sql: "SELECT CAST(tags AS INT) FROM s EMIT CHANGES;" },
  { name: "undefined variable", sql: "SELECT * FROM ${missing} EMIT CHANGES;" },
  { name: "stream-stream join without WITHIN", sql: "CREATE STREAM x AS SELECT * FROM s a JOIN s b ON a.id = b.id;" },
  { name: "ambiguous column in a join", sql: "CREATE STREAM x AS SELECT id FROM s JOIN t ON s.id = t.id;" },
  { name: "CTAS from a stream without GROUP BY", sql: "CREATE TABLE x AS SELECT id, name FROM s;" },
  { name: "lambda with the wrong arity", sql: "SELECT TRANSFORM(tags, (a, b) => a) FROM s EMIT CHANGES;" },
  { name: "HAVING without GROUP BY", sql: "SELECT id FROM s HAVING COUNT(*) > 1 EMIT CHANGES;" },
];
