/**
 * Every diagnostic code esql reports, in one list: the code (stable: tools match on it, never renumber or
 * reuse one), a short title and the documentation. docs/language.md ("Diagnostic codes") shows the same
 * table, and test/docs/diagnostic-codes.test.ts checks that the two agree and that every code the sources
 * use is here.
 */
export const DIAGNOSTIC_CODES = [
  {
    code: "LEX001",
    title: "bad input character",
    doc: "A character that starts no token, or a string, quoted name or comment left unterminated.",
  },
  {
    code: "SYN001",
    title: "syntax error",
    doc: "The text does not fit the grammar: the message says what was expected and what was found.",
  },
  { code: "SYN002", title: "undefined variable", doc: "A `${name}` reference to a variable no DEFINE set." },
  {
    code: "SYN003",
    title: "literal out of range",
    doc: "A number literal too large for its type (BIGINT, DOUBLE, DECIMAL), or a literal longer than the compiler's limit.",
  },
  {
    code: "SYN004",
    title: "KEY vs PRIMARY KEY",
    doc: "A stream column marked PRIMARY KEY, or a table column marked KEY.",
  },
  {
    code: "SYN005",
    title: "nested too deeply",
    doc: "An expression or type nested deeper than the compiler's limit.",
  },
  {
    code: "SYN006",
    title: "too long",
    doc: "A statement (after ${variables} are substituted) or an identifier longer than the compiler's limit.",
  },
  {
    code: "SYN007",
    title: "too many errors",
    doc: "So many errors that the rest of the script is not checked.",
  },
  {
    code: "ESQL-S001",
    title: "unknown source",
    doc: "Unknown source / qualifier (`'X' is not a valid stream/table name or alias.`)",
  },
  {
    code: "ESQL-S002",
    title: "unknown column",
    doc: "Unknown column (`SELECT column 'X' cannot be resolved.`, hint: closest names)",
  },
  { code: "ESQL-S003", title: "ambiguous column", doc: "Ambiguous column (several sources have it)" },
  { code: "ESQL-S004", title: "unknown field", doc: "Unknown struct field" },
  { code: "ESQL-S005", title: "unknown type", doc: "Unknown type (CREATE TYPE name)" },
  { code: "ESQL-S006", title: "unknown function", doc: "Unknown function (hint: closest names)" },
  {
    code: "ESQL-S007",
    title: "no matching signature",
    doc: "No signature of the function accepts the argument types (hint: the signatures)",
  },
  {
    code: "ESQL-S008",
    title: "type mismatch",
    doc: "Type mismatch (comparison, arithmetic, boolean expected, constructor, IN, CASE...)",
  },
  { code: "ESQL-S009", title: "invalid cast", doc: "CAST not supported between the types" },
  {
    code: "ESQL-S010",
    title: "invalid type",
    doc: "Invalid type (e.g. DECIMAL precision/scale: 1 ≤ p ≤ 1000, 0 ≤ s ≤ p; also an arithmetic result beyond p = 1000)",
  },
  { code: "ESQL-S011", title: "duplicate field", doc: "Duplicate STRUCT field" },
  { code: "ESQL-S012", title: "lambda position", doc: "Lambda outside a function argument" },
  {
    code: "ESQL-S013",
    title: "aggregate not allowed",
    doc: "Aggregate function where not allowed (WHERE, GROUP BY, nested)",
  },
  {
    code: "ESQL-S014",
    title: "table function not allowed",
    doc: "Table function where not allowed (not SELECT; with aggregation; on a table)",
  },
  {
    code: "ESQL-S015",
    title: "not in group by",
    doc: "Non-aggregate expression not part of GROUP BY (SELECT or HAVING)",
  },
  {
    code: "ESQL-S016",
    title: "invalid property",
    doc: "Invalid property value (delimiter, WRAP_SINGLE_VALUE, PARTITIONS, FORMAT with KEY/VALUE_FORMAT...)",
  },
  { code: "ESQL-S017", title: "unknown property", doc: "Unknown WITH property (message lists the known ones)" },
  { code: "ESQL-S018", title: "missing property", doc: "Missing required property (KAFKA_TOPIC, VALUE_FORMAT)" },
  { code: "ESQL-S019", title: "unknown format", doc: "Unknown format" },
  {
    code: "ESQL-S020",
    title: "format unsupported",
    doc: "Format cannot hold the columns/types (KAFKA single field, NONE no columns, DELIMITED no complex types, map keys in keys...)",
  },
  {
    code: "ESQL-S021",
    title: "key column rules",
    doc: "Key column rules (PRIMARY KEY for tables, KEY for streams, windowed sources need a key, no columns)",
  },
  { code: "ESQL-S022", title: "duplicate column", doc: "Duplicate column name" },
  {
    code: "ESQL-S023",
    title: "reserved name",
    doc: "Reserved column name (ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND)",
  },
  { code: "ESQL-S024", title: "source exists", doc: "A source with that name exists" },
  { code: "ESQL-S025", title: "source in use", doc: "Source in use by queries (DROP)" },
  {
    code: "ESQL-S026",
    title: "read-only source",
    doc: "Read-only (SOURCE streams/tables: INSERT, CREATE OR REPLACE, DELETE TOPIC; header columns)",
  },
  {
    code: "ESQL-S027",
    title: "wrong source type",
    doc: "Wrong source type (DROP TABLE on a stream, INSERT INTO a table, replace with other type)",
  },
  {
    code: "ESQL-S028",
    title: "topic missing",
    doc: "Topic does not exist and no PARTITIONS (only with `strictTopics`)",
  },
  {
    code: "ESQL-S029",
    title: "key missing from the projection",
    doc: "Key / grouping / partitioning / join expression missing from the projection, or there twice",
  },
  {
    code: "ESQL-S030",
    title: "invalid join",
    doc: "Invalid join (condition, order, type, keys, WITHIN, windowed sources)",
  },
  { code: "ESQL-S031", title: "invalid window", doc: "Invalid WINDOW (no GROUP BY, on a table)" },
  {
    code: "ESQL-S032",
    title: "invalid query",
    doc: "Invalid query (result type vs CSAS/CTAS, EMIT FINAL, HAVING without GROUP BY...)",
  },
  { code: "ESQL-S033", title: "schema mismatch", doc: "INSERT INTO result schema differs from the sink's" },
  { code: "ESQL-S034", title: "invalid INSERT VALUES", doc: "INSERT VALUES (column count, types, header columns)" },
  { code: "ESQL-S035", title: "timestamp column", doc: "TIMESTAMP column missing or of the wrong type" },
  { code: "ESQL-S036", title: "type exists", doc: "Custom type already exists" },
  { code: "ESQL-S037", title: "unknown query", doc: "Unknown query id (TERMINATE, EXPLAIN)" },
  { code: "ESQL-S038", title: "unsupported", doc: "Unsupported feature" },
  {
    code: "ESQL-S039",
    title: "replacement cannot run in place",
    doc: "CREATE OR REPLACE with a change that cannot run in place (state, key, columns, source, topic: see `replace.ts`)",
  },
  {
    code: "ESQL-INTERNAL",
    title: "internal compiler error",
    doc: "A compiler bug caught by `compileScript`: reported as a diagnostic, never thrown.",
  },
  {
    code: "DEPLOY001",
    title: "not a definition",
    doc: "A statement in a deployed folder that is not a definition (CREATE STREAM/TABLE [AS SELECT], CREATE TYPE, SET, DEFINE): `esql plan`/`apply` make the deployed objects match the folder.",
  },
  {
    code: "DEPLOY002",
    title: "change deploy cannot make",
    doc: "A change between the folder and the deployed objects that `esql apply` cannot carry out (the message says which and why).",
  },
  {
    code: "QRY001",
    title: "not one statement",
    doc: "The API's pull or subscribe call was given no statement or several; it takes one SELECT.",
  },
  {
    code: "QRY002",
    title: "not a SELECT",
    doc: "The API's pull or subscribe call was given a statement other than SELECT.",
  },
  {
    code: "QRY003",
    title: "push query given to pull",
    doc: "A push query (EMIT CHANGES) passed to `pull()`: use `subscribe()`.",
  },
  {
    code: "RUN001",
    title: "query the runtime cannot run yet",
    doc: "The statement compiles, but the runtime has no operator for it yet.",
  },
  {
    code: "RUN002",
    title: "runtime failure",
    doc: "Applying the statement failed at run time (the message says why).",
  },
  {
    code: "RUN003",
    title: "push query given to execute",
    doc: "A push query (EMIT CHANGES) in a script the engine executes: it streams its rows, so run it with `subscribe()` or `POST /query`.",
  },
  {
    code: "RUN010",
    title: "already deployed differently",
    doc: "`esql run` found the source or query already deployed in its data folder with another definition: run with `--fresh`, or use CREATE OR REPLACE.",
  },
  {
    code: "RUN011",
    title: "recorded plan cannot run",
    doc: "A query plan recorded in the command topic that this release cannot run: another plan format version, or a plan that does not match its statement.",
  },
  {
    code: "RUN012",
    title: "not consistent in time",
    doc: "A pull query given a position token (`esql.consistency.token`) or a ksqlDB consistency vector: the token cannot be read, or the table had not folded past it when the timeout (`esql.consistency.timeout.ms`) passed.",
  },
] as const satisfies readonly { code: string; title: string; doc: string }[];

export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number]["code"];
