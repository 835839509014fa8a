/**
 * Statement analysis: one statement against a catalog gives the analyzed statement, the catalog after it
 * and diagnostics. A statement with errors leaves the catalog unchanged (the caller keeps the old one).
 */
import type {
  CreateAsSelect,
  CreateSource,
  DropSource,
  InsertInto,
  InsertValues,
  Property,
  Statement,
} from "../ast/nodes.ts";
import { error, type Diagnostic, type Span } from "../diagnostics/diagnostic.ts";
import type { FunctionRegistry } from "../functions/types.ts";
import { formatType, typeEquals, type SqlType } from "../types/sqltype.ts";
import { canImplicitlyCast } from "../types/values.ts";
import type { AnalyzedQuery } from "./analyzed.ts";
import type {
  Catalog,
  CatalogColumn,
  CatalogSource,
  FormatName,
  FormatSpec,
  SourceWindow,
  TimestampSpec,
} from "./catalog.ts";
import { Codes } from "./codes.ts";
import { analyzeExpr, coerce, resolveType } from "./expressions.ts";
import { closest } from "./exprText.ts";
import {
  SINK_PROPERTIES,
  SOURCE_PROPERTIES,
  checkFormats,
  QUERY_PROPERTIES,
  readFormats,
  readProperties,
  readStartFrom,
  type Props,
} from "./properties.ts";
import { RESERVED_NAMES, analyzeQuery } from "./query.ts";
import { replaceIncompatibility, replaceMessage, type Definition } from "./replace.ts";
import type { TExpr } from "./typed.ts";
import { PROPERTIES } from "../plan/properties.ts";

export interface AnalyzeEnv {
  readonly functions: FunctionRegistry;
  /** Session properties (`SET`, compile options): `ksql.persistence.default.format.value`, ... */
  readonly properties: Readonly<Record<string, string>>;
  /** When true, a source on a topic the catalog does not know needs PARTITIONS (ksqlDB's rule). */
  readonly strictTopics: boolean;
}

export type AnalyzedStatement =
  | { readonly kind: "CreateSource"; readonly source: CatalogSource }
  | {
      readonly kind: "CreateAsSelect";
      readonly sink: CatalogSource;
      readonly query: AnalyzedQuery;
      readonly queryId: string;
    }
  | {
      readonly kind: "InsertInto";
      readonly sink: CatalogSource;
      readonly query: AnalyzedQuery;
      readonly queryId: string;
    }
  | {
      readonly kind: "InsertValues";
      readonly target: CatalogSource;
      readonly values: readonly {
        readonly column: string;
        readonly expr: TExpr;
      }[];
    }
  | { readonly kind: "Query"; readonly query: AnalyzedQuery }
  | {
      readonly kind: "DropSource";
      readonly name: string;
      readonly deleteTopic: boolean;
      readonly terminated?: string;
    }
  /** `EXPLAIN statement`: the inner statement's analysis; its plans are built but nothing runs. */
  | { readonly kind: "Explain"; readonly inner: AnalyzedStatement }
  /** Nothing to plan (SHOW, DESCRIBE, SET, CREATE TYPE, a no-op IF [NOT] EXISTS, ...). */
  | { readonly kind: "Other"; readonly statement: Statement["kind"] };

export interface StatementAnalysis {
  readonly analyzed?: AnalyzedStatement;
  readonly catalog: Catalog;
  readonly diagnostics: readonly Diagnostic[];
}

const cap = (t: "STREAM" | "TABLE") => (t === "STREAM" ? "Stream" : "Table");
const low = (t: "STREAM" | "TABLE") => t.toLowerCase();
const hintOf = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

export function analyzeStatement(stmt: Statement, text: string, catalog: Catalog, env: AnalyzeEnv): StatementAnalysis {
  const diags: Diagnostic[] = [];
  const r = analyzeInner(stmt, text, catalog, env, diags);
  if (diags.some((d) => d.severity === "error")) return { catalog, diagnostics: diags };
  return { analyzed: r.analyzed, catalog: r.catalog, diagnostics: diags };
}

function analyzeInner(
  stmt: Statement,
  text: string,
  catalog: Catalog,
  env: AnalyzeEnv,
  diags: Diagnostic[],
): { analyzed: AnalyzedStatement; catalog: Catalog } {
  const other = {
    analyzed: { kind: "Other", statement: stmt.kind } as AnalyzedStatement,
    catalog,
  };
  switch (stmt.kind) {
    case "CreateSource":
      return createSource(stmt, text, catalog, env, diags) ?? other;
    case "CreateAsSelect":
      return createAsSelect(stmt, text, catalog, env, diags) ?? other;
    case "InsertInto":
      return insertInto(stmt, text, catalog, env, diags) ?? other;
    case "InsertValues":
      return insertValues(stmt, catalog, env, diags) ?? other;
    case "DropSource":
      return dropSource(stmt, catalog, diags) ?? other;
    case "CreateType": {
      const existing = catalog.type(stmt.name.value);
      const t = resolveType(stmt.type, catalog, diags);
      if (existing) {
        if (!stmt.ifNotExists)
          diags.push(
            error(
              Codes.TYPE_EXISTS,
              `Cannot register custom type '${stmt.name.value}' since it is already registered with type: ${formatType(existing)}`,
              stmt.name.span,
            ),
          );
        return other;
      }
      return { ...other, catalog: catalog.withType(stmt.name.value, t) };
    }
    case "DropType": {
      if (!catalog.type(stmt.name.value)) {
        if (!stmt.ifExists)
          diags.push(error(Codes.UNKNOWN_TYPE, `Type ${stmt.name.value} does not exist.`, stmt.name.span));
        return other;
      }
      return { ...other, catalog: catalog.withoutType(stmt.name.value) };
    }
    case "Terminate": {
      if (stmt.all) {
        let c = catalog;
        for (const id of catalog.queries.keys()) c = c.withoutQuery(id);
        return { ...other, catalog: c };
      }
      const id = stmt.queryId ?? "";
      const found = [...catalog.queries.keys()].find((q) => q.toUpperCase() === id.toUpperCase());
      if (!found) {
        diags.push(
          error(Codes.UNKNOWN_QUERY, `Unknown queryId: ${id}`, stmt.span, hintOf(closest(id, catalog.queries.keys()))),
        );
        return other;
      }
      return { ...other, catalog: catalog.withoutQuery(found) };
    }
    case "Describe": {
      const t = stmt.target;
      if (t.kind === "Source" && !catalog.source(t.name.value))
        diags.push(
          error(
            Codes.UNKNOWN_SOURCE,
            `Could not find STREAM/TABLE '${t.name.value}' in the Metastore`,
            t.name.span,
            hintOf(closest(t.name.value, catalog.sources.keys())),
          ),
        );
      if (t.kind === "Function" && !env.functions.get(t.name.value))
        diags.push(
          error(Codes.UNKNOWN_FUNCTION, `Can't find any functions with the name '${t.name.value}'`, t.name.span),
        );
      return other;
    }
    case "Explain": {
      if (stmt.statement) {
        // The explained statement is analyzed (and planned by the caller) but changes nothing.
        const inner = analyzeInner(stmt.statement, text, catalog, env, diags);
        return {
          analyzed: { kind: "Explain", inner: inner.analyzed },
          catalog,
        };
      } else if (stmt.queryId && !catalog.queries.has(stmt.queryId))
        diags.push(
          error(
            Codes.UNKNOWN_QUERY,
            `Query with id:${stmt.queryId} does not exist, use SHOW QUERIES to view the full set of running queries.`,
            stmt.span,
          ),
        );
      return other;
    }
    case "QueryStatement": {
      const q = analyzeQuery(
        stmt.query,
        {
          catalog,
          functions: env.functions,
          properties: env.properties,
          statementKind: "QUERY",
        },
        diags,
      );
      return q ? { analyzed: { kind: "Query", query: q }, catalog } : other;
    }
    case "Print":
      if (env.strictTopics && !catalog.topic(stmt.topic))
        diags.push(
          error(
            Codes.TOPIC,
            `Could not find topic '${stmt.topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.`,
            stmt.span,
            hintOf(closest(stmt.topic, catalog.topics.keys())),
          ),
        );
      return other;
    case "Define":
    case "Undefine":
    case "SetProperty":
    case "UnsetProperty":
      return other;
    case "Show":
      if (stmt.all && stmt.what !== "TOPICS")
        diags.push(
          error(
            Codes.UNSUPPORTED,
            `SHOW ALL ${stmt.what} is not a statement: ALL goes with TOPICS only.`,
            stmt.span,
            "SHOW ALL TOPICS lists internal topics too",
          ),
        );
      return other;
    case "RunScript":
      // A client command in ksqlDB (its server does not know the statement): the engine cannot run it.
      diags.push(
        error(
          Codes.UNSUPPORTED,
          "Unknown statement 'RUN': RUN SCRIPT is a client command; run the script's statements instead.",
          stmt.span,
        ),
      );
      return other;
  }
}

function columnsText(cols: readonly CatalogColumn[]): string {
  return cols.map((c) => `\`${c.name}\` ${formatType(c.type)}${c.namespace === "KEY" ? " KEY" : ""}`).join(", ");
}

/** The key/value formats of a new source from its WITH clause and the session defaults. */
function formatsFor(
  props: Props,
  span: Span,
  hasKey: boolean,
  env: AnalyzeEnv,
  diags: Diagnostic[],
  inherit?: { key: FormatSpec; value: FormatSpec },
): { key: FormatSpec; value: FormatSpec } | undefined {
  const f = readFormats(props, span, diags);
  let valueFormat: FormatName | undefined = f.value ?? inherit?.value.format;
  if (!valueFormat) {
    const d = env.properties[PROPERTIES.defaultValueFormat];
    if (d) valueFormat = d.toUpperCase() as FormatName;
  }
  if (!valueFormat) {
    diags.push(
      error(
        Codes.MISSING_PROPERTY,
        "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config.",
        span,
      ),
    );
    return undefined;
  }
  let keyFormat: FormatName | undefined = f.key;
  if (!keyFormat && inherit && inherit.key.format !== "NONE") keyFormat = inherit.key.format;
  if (!keyFormat)
    keyFormat = hasKey
      ? ((env.properties[PROPERTIES.defaultKeyFormat]?.toUpperCase() as FormatName | undefined) ?? "KAFKA")
      : "NONE";
  const valueProps: Record<string, string> = { ...f.valueProps };
  if (!f.value && inherit && inherit.value.format === valueFormat) {
    if (inherit.value.properties.delimiter !== undefined && valueProps.delimiter === undefined)
      valueProps.delimiter = inherit.value.properties.delimiter;
  }
  const wrapDefault = env.properties[PROPERTIES.wrapSingleValues];
  if (
    valueProps.wrapSingleValue === undefined &&
    wrapDefault !== undefined &&
    props.get("WRAP_SINGLE_VALUE") === undefined
  ) {
    // The session default applies only where wrapping is meaningful (checked with the columns later).
    valueProps.wrapSingleValueDefault = wrapDefault.toLowerCase();
  }
  const keyProps: Record<string, string> = { ...f.keyProps };
  if (!f.key && inherit && inherit.key.format === keyFormat && inherit.key.properties.delimiter !== undefined)
    keyProps.delimiter = inherit.key.properties.delimiter;
  return {
    key: { format: keyFormat, properties: keyProps },
    value: { format: valueFormat, properties: valueProps },
  };
}

/** Applies the session wrap default once the value columns are known. */
function finishValueFormat(v: FormatSpec, valueCount: number): FormatSpec {
  const { wrapSingleValueDefault, ...rest } = v.properties;
  if (
    wrapSingleValueDefault !== undefined &&
    valueCount === 1 &&
    (v.format === "JSON" || v.format === "DELIMITED" || v.format === "KAFKA")
  )
    return {
      format: v.format,
      properties: { ...rest, wrapSingleValue: wrapSingleValueDefault },
    };
  return wrapSingleValueDefault === undefined ? v : { format: v.format, properties: rest };
}

function readRetention(props: Props, span: Span, diags: Diagnostic[]): number | undefined {
  const p = props.get("RETENTION_MS");
  if (p === undefined) return undefined;
  const n = Number(p);
  if (!Number.isInteger(n) || n < -1) {
    diags.push(
      error(
        Codes.INVALID_PROPERTY,
        `Invalid RETENTION_MS: ${p}; expected milliseconds (a whole number, or -1 to keep records forever)`,
        props.span("RETENTION_MS") ?? span,
      ),
    );
    return undefined;
  }
  return n;
}

function readPartitions(props: Props, span: Span, diags: Diagnostic[]): number | undefined {
  const p = props.get("PARTITIONS");
  if (p === undefined) return undefined;
  const n = Number(p);
  if (!Number.isInteger(n) || n <= 0) {
    diags.push(
      error(
        Codes.INVALID_PROPERTY,
        `Invalid number of partitions: ${p}; expected a positive integer`,
        props.span("PARTITIONS") ?? span,
      ),
    );
    return undefined;
  }
  return n;
}

/**
 * Refuses a topic name Kafka would refuse (1-249 characters from `[a-zA-Z0-9._-]`, not `.` or `..`), on
 * every log, so a statement means the same on the embedded log as on Kafka.
 */
function checkTopicName(topic: string, props: Props, span: Span, diags: Diagnostic[]): void {
  if (topic.length <= 249 && /^[a-zA-Z0-9._-]+$/.test(topic) && topic !== "." && topic !== "..") return;
  const shown =
    topic.length > 60
      ? `${JSON.stringify(topic.slice(0, 60)).slice(0, -1)}..." (${topic.length} characters)`
      : JSON.stringify(topic);
  const from = props.get("KAFKA_TOPIC") === undefined ? " (the default topic is the name; set KAFKA_TOPIC)" : "";
  diags.push(
    error(
      Codes.INVALID_PROPERTY,
      `Invalid topic name ${shown}${from}: Kafka topic names are 1 to 249 characters from [a-zA-Z0-9._-], and not '.' or '..'`,
      props.span("KAFKA_TOPIC") ?? span,
    ),
  );
}

/**
 * A duration property of a CTAS (`'30 DAYS'`): its milliseconds, or undefined when it is absent or not a
 * positive duration (reported); `bad` refuses it at its position for another reason.
 */
function durationProperty(
  props: Props,
  name: string,
  example: string,
  span: Span,
  diags: Diagnostic[],
): { ms: number | undefined; bad: (why: string) => undefined } {
  const text = props.get(name);
  const at = props.span(name) ?? span;
  const bad = (why: string) => (
    diags.push(error(Codes.INVALID_PROPERTY, `Invalid ${name} '${text}': ${why}`, at)),
    undefined
  );
  if (text === undefined) return { ms: undefined, bad };
  const ms = parseDurationText(text);
  if (ms === undefined || ms <= 0)
    return { ms: bad(`expected a positive duration such as '${example}' or '12 HOURS'`), bad };
  return { ms, bad };
}

/** `TTL` of a CTAS: a duration (`'30 DAYS'`), on a table whose rows a query writes and that has no window. */
function readTtl(
  props: Props,
  kind: "STREAM" | "TABLE",
  q: AnalyzedQuery,
  span: Span,
  diags: Diagnostic[],
): number | undefined {
  const { ms, bad } = durationProperty(props, "TTL", "30 DAYS", span, diags);
  if (ms === undefined) return undefined;
  if (kind !== "TABLE") return bad("TTL applies to tables (a stream's records are events, not rows that expire)");
  if (q.window) return bad("a windowed table's rows expire with the window's RETENTION");
  if (!q.aggregation) return bad("TTL is supported on aggregated tables (CREATE TABLE ... AS SELECT ... GROUP BY)");
  return ms;
}

/**
 * `HISTORY_RETENTION` of a CTAS: a duration (`'7 DAYS'`) for which the table keeps every version of its rows,
 * so pull queries can read it `FOR SYSTEM_TIME AS OF` an event time; on a table without windows.
 */
function readHistoryRetention(
  props: Props,
  kind: "STREAM" | "TABLE",
  q: AnalyzedQuery,
  span: Span,
  diags: Diagnostic[],
): number | undefined {
  const { ms, bad } = durationProperty(props, "HISTORY_RETENTION", "7 DAYS", span, diags);
  if (ms === undefined) return undefined;
  if (kind !== "TABLE") return bad("HISTORY_RETENTION applies to tables (a stream is its own history)");
  if (q.window) return bad("a windowed table has no versions to keep (each window is its own row)");
  return ms;
}

/** Parses `'10 SECONDS'` style durations of WINDOW_SIZE. */
function parseDurationText(s: string): number | undefined {
  const m = /^\s*(\d+)\s*(MILLISECOND|SECOND|MINUTE|HOUR|DAY)S?\s*$/i.exec(s);
  if (!m) return undefined;
  const unit = {
    MILLISECOND: 1,
    SECOND: 1000,
    MINUTE: 60000,
    HOUR: 3600000,
    DAY: 86400000,
  }[m[2]!.toUpperCase() as "DAY"];
  return Number(m[1]) * unit;
}

function readTimestamp(
  props: Props,
  columns: readonly CatalogColumn[],
  span: Span,
  diags: Diagnostic[],
): TimestampSpec | undefined {
  const ts = props.get("TIMESTAMP");
  if (ts === undefined) return undefined;
  const name = ts.startsWith("`") && ts.endsWith("`") ? ts.slice(1, -1) : ts.toUpperCase();
  const sp = props.span("TIMESTAMP") ?? span;
  const col = columns.find((c) => c.name === name);
  if (!col) {
    diags.push(
      error(
        Codes.TIMESTAMP_COLUMN,
        `The TIMESTAMP column set in the WITH clause does not exist in the schema: '${name}'`,
        sp,
        hintOf(
          closest(
            name,
            columns.map((c) => c.name),
          ),
        ),
      ),
    );
    return undefined;
  }
  const format = props.get("TIMESTAMP_FORMAT");
  const ok =
    col.type.kind === "BIGINT" || col.type.kind === "TIMESTAMP" || (col.type.kind === "STRING" && format !== undefined);
  if (!ok) {
    diags.push(
      error(
        Codes.TIMESTAMP_COLUMN,
        `Timestamp column, \`${name}\`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified.`,
        sp,
      ),
    );
    return undefined;
  }
  return format !== undefined ? { column: name, format } : { column: name };
}

function checkTopic(
  topic: string,
  partitions: number | undefined,
  catalog: Catalog,
  env: AnalyzeEnv,
  span: Span,
  diags: Diagnostic[],
): void {
  if (env.strictTopics && partitions === undefined && !catalog.topic(topic))
    diags.push(
      error(
        Codes.TOPIC,
        `Topic '${topic}' does not exist. If you want to create a new topic for the stream/table please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS').`,
        span,
      ),
    );
}

/**
 * Whether a CREATE may take the name of `existing`: only with OR REPLACE, and only by a source of the same
 * kind. Reports why not.
 */
function replaceable(
  stmt: { readonly orReplace: boolean; readonly name: { readonly value: string; readonly span: Span } },
  kind: "STREAM" | "TABLE",
  existing: CatalogSource,
  diags: Diagnostic[],
): boolean {
  const name = stmt.name.value;
  if (!stmt.orReplace) {
    diags.push(
      error(
        Codes.SOURCE_EXISTS,
        `Cannot add ${low(kind)} '${name}': A ${low(existing.sourceType)} with the same name already exists`,
        stmt.name.span,
      ),
    );
    return false;
  }
  if (existing.sourceType !== kind) {
    diags.push(
      error(
        Codes.WRONG_SOURCE_TYPE,
        `Cannot add ${low(kind)} '${name}': a ${low(existing.sourceType)} with the same name already exists`,
        stmt.name.span,
      ),
    );
    return false;
  }
  return true;
}

function createSource(stmt: CreateSource, text: string, catalog: Catalog, env: AnalyzeEnv, diags: Diagnostic[]) {
  const name = stmt.name.value;
  const existing = catalog.source(name);
  const kind = stmt.sourceType;
  if (existing) {
    if (stmt.orReplace && (existing.isSource || stmt.isSource)) {
      diags.push(
        error(
          Codes.READ_ONLY,
          `Cannot add ${low(kind)} '${name}': CREATE OR REPLACE is not supported on source ${low(kind)}s.`,
          stmt.name.span,
        ),
      );
      return undefined;
    }
    if (stmt.ifNotExists) return undefined;
    if (!replaceable(stmt, kind, existing, diags)) return undefined;
  } else if (stmt.orReplace && stmt.isSource) {
    diags.push(
      error(
        Codes.READ_ONLY,
        `Cannot add ${low(kind)} '${name}': CREATE OR REPLACE is not supported on source ${low(kind)}s.`,
        stmt.name.span,
      ),
    );
    return undefined;
  }
  const props = readProperties(stmt.properties, SOURCE_PROPERTIES, diags);
  const topic = props.get("KAFKA_TOPIC");
  if (topic === undefined)
    diags.push(
      error(Codes.MISSING_PROPERTY, `Missing required property "KAFKA_TOPIC" which has no default value.`, stmt.span),
    );
  else checkTopicName(topic, props, stmt.span, diags);
  // Columns.
  const columns: CatalogColumn[] = [];
  const seen = new Set<string>();
  for (const el of stmt.elements) {
    const n = el.name.value;
    if (RESERVED_NAMES.has(n.toUpperCase()) && n === n.toUpperCase()) {
      diags.push(
        error(
          Codes.RESERVED_NAME,
          `'${n}' is a reserved column name. You cannot use it as a name for a column.`,
          el.name.span,
        ),
      );
      continue;
    }
    if (seen.has(n)) {
      diags.push(error(Codes.DUPLICATE_COLUMN, `Duplicate column names: ${n}`, el.name.span));
      continue;
    }
    seen.add(n);
    const type = resolveType(el.type, catalog, diags);
    const c = el.constraint;
    if (c.kind === "PrimaryKey" && kind === "STREAM") {
      diags.push(
        error(
          Codes.KEY_COLUMNS,
          `Column \`${n}\` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.`,
          el.span,
        ),
      );
    }
    if (c.kind === "Key" && kind === "TABLE") {
      diags.push(
        error(
          Codes.KEY_COLUMNS,
          `Column \`${n}\` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.`,
          el.span,
        ),
      );
    }
    if (c.kind === "Header" && type.kind !== "BYTES")
      diags.push(
        error(
          Codes.TYPE_MISMATCH,
          `Invalid type for HEADER('${c.key}') column: expected BYTES, got ${formatType(type)}`,
          el.type.span,
        ),
      );
    if (c.kind === "Headers") {
      const ok =
        type.kind === "ARRAY" &&
        type.element.kind === "STRUCT" &&
        type.element.fields.length === 2 &&
        type.element.fields[0]!.name === "KEY" &&
        type.element.fields[0]!.type.kind === "STRING" &&
        type.element.fields[1]!.name === "VALUE" &&
        type.element.fields[1]!.type.kind === "BYTES";
      if (!ok)
        diags.push(
          error(
            Codes.TYPE_MISMATCH,
            `Invalid type for HEADERS column: expected ARRAY<STRUCT<\`KEY\` STRING, \`VALUE\` BYTES>>, got ${formatType(type)}`,
            el.type.span,
          ),
        );
    }
    const namespace =
      c.kind === "Key" || c.kind === "PrimaryKey"
        ? "KEY"
        : c.kind === "Header" || c.kind === "Headers"
          ? "HEADER"
          : "VALUE";
    columns.push(c.kind === "Header" ? { name: n, type, namespace, headerKey: c.key } : { name: n, type, namespace });
  }
  const keys = columns.filter((c) => c.namespace === "KEY");
  const formats = formatsFor(props, stmt.span, keys.length > 0, env, diags);
  if (!formats) return undefined;
  const schemaInference = ["AVRO", "PROTOBUF", "JSON_SR", "PROTOBUF_NOSR"].includes(formats.value.format);
  const noColumns = stmt.elements.length === 0 && !schemaInference && formats.value.format !== "NONE";
  if (kind === "TABLE" && keys.length === 0 && !diags.length && !noColumns)
    diags.push(error(Codes.KEY_COLUMNS, "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.", stmt.span));
  // Window.
  let window: SourceWindow | undefined;
  const wt = props.get("WINDOW_TYPE");
  if (wt !== undefined) {
    const t = wt.toUpperCase();
    if (t !== "TUMBLING" && t !== "HOPPING" && t !== "SESSION") {
      diags.push(
        error(
          Codes.INVALID_PROPERTY,
          `Invalid WINDOW_TYPE '${wt}': expected SESSION, HOPPING or TUMBLING`,
          props.span("WINDOW_TYPE") ?? stmt.span,
        ),
      );
    } else {
      const ws = props.get("WINDOW_SIZE");
      if (t === "SESSION" && ws !== undefined)
        diags.push(
          error(
            Codes.INVALID_PROPERTY,
            "'WINDOW_SIZE' should not be set for SESSION windows.",
            props.span("WINDOW_SIZE") ?? stmt.span,
          ),
        );
      if (t !== "SESSION" && ws === undefined)
        diags.push(
          error(
            Codes.INVALID_PROPERTY,
            `'WINDOW_SIZE' must be set for ${t} windows.`,
            props.span("WINDOW_TYPE") ?? stmt.span,
          ),
        );
      const size = ws !== undefined ? parseDurationText(ws) : undefined;
      if (ws !== undefined && size === undefined && t !== "SESSION")
        diags.push(
          error(
            Codes.INVALID_PROPERTY,
            `Invalid WINDOW_SIZE '${ws}': expected e.g. '10 SECONDS'`,
            props.span("WINDOW_SIZE") ?? stmt.span,
          ),
        );
      window = size !== undefined ? { type: t, sizeMs: size } : { type: t };
    }
    if (keys.length === 0) diags.push(error(Codes.KEY_COLUMNS, "Windowed sources require a key column.", stmt.span));
  } else if (props.get("WINDOW_SIZE") !== undefined) {
    diags.push(
      error(Codes.INVALID_PROPERTY, "'WINDOW_SIZE' requires 'WINDOW_TYPE'.", props.span("WINDOW_SIZE") ?? stmt.span),
    );
  }
  const valueFormat = finishValueFormat(formats.value, columns.filter((c) => c.namespace === "VALUE").length);
  checkFormats(formats.key, valueFormat, columns, stmt.span, diags);
  const timestamp = readTimestamp(props, columns, stmt.span, diags);
  const partitions = readPartitions(props, stmt.span, diags);
  const retentionMs = readRetention(props, stmt.span, diags);
  if (topic !== undefined) checkTopic(topic, partitions, catalog, env, stmt.span, diags);
  if (noColumns)
    diags.push(error(Codes.KEY_COLUMNS, "The statement does not define any columns. No columns supplied.", stmt.span));
  if (diags.length) return undefined;
  const source: CatalogSource = {
    name,
    sourceType: kind,
    columns,
    topic: topic ?? name,
    keyFormat: formats.key,
    valueFormat,
    ...(timestamp ? { timestamp } : {}),
    ...(window ? { window } : {}),
    ...(partitions !== undefined ? { partitions } : {}),
    ...(retentionMs !== undefined ? { retentionMs } : {}),
    isSource: stmt.isSource,
    sql: text,
  };
  if (existing && !inPlace(existing, { sink: source }, catalog, stmt.name.span, diags)) return undefined;
  return {
    analyzed: { kind: "CreateSource", source } as AnalyzedStatement,
    catalog: catalog.withSource(source),
  };
}

/**
 * Whether `neu` may replace `existing` in place (CREATE OR REPLACE keeps its query id, stores and offsets);
 * reports the first incompatible change when not (the rules: `replace.ts`).
 */
function inPlace(existing: CatalogSource, neu: Definition, catalog: Catalog, span: Span, diags: Diagnostic[]): boolean {
  const oldQuery = existing.writtenBy ? catalog.queries.get(existing.writtenBy)?.query : undefined;
  const old: Definition = { sink: existing, ...(oldQuery ? { query: oldQuery } : {}) };
  const problem = replaceIncompatibility(old, neu, existing.writtenBy !== undefined);
  if (!problem) return true;
  diags.push(error(Codes.INCOMPATIBLE_REPLACE, replaceMessage(existing, problem), span));
  return false;
}

/** The sink source a query writes, from the analyzed query and the WITH clause. */
function sinkFor(
  name: string,
  kind: "STREAM" | "TABLE",
  q: AnalyzedQuery,
  properties: readonly Property[],
  span: Span,
  text: string,
  catalog: Catalog,
  env: AnalyzeEnv,
  diags: Diagnostic[],
): CatalogSource | undefined {
  const props = readProperties(properties, SINK_PROPERTIES, diags);
  const first = firstSource(q);
  const columns: CatalogColumn[] = q.projection.map((c) => ({
    name: c.name,
    type: c.type,
    namespace: c.namespace,
  }));
  const hasKey = columns.some((c) => c.namespace === "KEY");
  const formats = formatsFor(props, span, hasKey, env, diags, {
    key: first.keyFormat,
    value: first.valueFormat,
  });
  if (!formats) return undefined;
  let keyFormat = formats.key;
  if (!hasKey && props.get("KEY_FORMAT") === undefined && props.get("FORMAT") === undefined)
    keyFormat = { format: "NONE", properties: {} };
  const valueFormat = finishValueFormat(formats.value, columns.filter((c) => c.namespace === "VALUE").length);
  for (const c of columns)
    if (c.type.kind === "NULL")
      diags.push(
        error(
          Codes.TYPE_MISMATCH,
          `Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR). Column: \`${c.name}\``,
          span,
        ),
      );
  checkFormats(keyFormat, valueFormat, columns, span, diags);
  const timestamp = readTimestamp(props, columns, span, diags);
  const partitions = readPartitions(props, span, diags);
  const retentionMs = readRetention(props, span, diags);
  const prefix = env.properties[PROPERTIES.outputTopicPrefix] ?? "";
  const topic = props.get("KAFKA_TOPIC") ?? `${prefix}${name}`;
  checkTopicName(topic, props, span, diags);
  const ttlMs = readTtl(props, kind, q, span, diags);
  const historyMs = readHistoryRetention(props, kind, q, span, diags);
  const w = q.window;
  return {
    name,
    sourceType: kind,
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    ...(historyMs !== undefined ? { historyMs } : {}),
    columns,
    topic,
    keyFormat,
    valueFormat,
    ...(timestamp ? { timestamp } : {}),
    ...(w
      ? {
          window: w.sizeMs !== undefined ? { type: w.type, sizeMs: w.sizeMs } : { type: w.type },
        }
      : {}),
    ...(partitions !== undefined
      ? { partitions }
      : first.partitions !== undefined
        ? { partitions: first.partitions }
        : {}),
    ...(retentionMs !== undefined ? { retentionMs } : {}),
    isSource: false,
    sql: text,
  };
}

/** `q` with the start position its WITH clause asks for (`START_FROM`), if any. */
function withStart(q: AnalyzedQuery, properties: readonly Property[], catalog: Catalog, diags: Diagnostic[]) {
  const topics = new Set(q.sources.map((n) => catalog.source(n)?.topic));
  const start = readStartFrom(properties, topics.size, diags);
  return start ? { ...q, start } : q;
}

function firstSource(q: AnalyzedQuery): CatalogSource {
  let f = q.from;
  while (f.kind === "Join") f = f.left;
  return f.source;
}

function createAsSelect(stmt: CreateAsSelect, text: string, catalog: Catalog, env: AnalyzeEnv, diags: Diagnostic[]) {
  const name = stmt.name.value;
  const kind = stmt.sourceType;
  const existing = catalog.source(name);
  if (existing) {
    if (stmt.ifNotExists) return undefined;
    if (existing.isSource) {
      diags.push(
        error(
          Codes.READ_ONLY,
          `Cannot add ${low(kind)} '${name}': CREATE OR REPLACE is not supported on source ${low(existing.sourceType)}s.`,
          stmt.name.span,
        ),
      );
      return undefined;
    }
    if (!replaceable(stmt, kind, existing, diags)) return undefined;
  }
  const q0 = analyzeQuery(
    stmt.query,
    {
      catalog,
      functions: env.functions,
      sinkName: name,
      expectedType: kind,
      properties: env.properties,
      statementKind: kind === "STREAM" ? "CSAS" : "CTAS",
    },
    diags,
  );
  if (!q0 || diags.length) return undefined;
  const q = withStart(q0, stmt.properties, catalog, diags);
  const sink = sinkFor(name, kind, q, stmt.properties, stmt.span, text, catalog, env, diags);
  if (!sink || diags.length) return undefined;
  const replacing = existing?.writtenBy;
  const queryId = replacing ?? catalog.nextQueryId(kind === "STREAM" ? "CSAS" : "CTAS", name);
  const withSink = { ...sink, writtenBy: queryId };
  if (existing && !inPlace(existing, { sink: withSink, query: q }, catalog, stmt.name.span, diags)) return undefined;
  if (replacing && q.start) {
    diags.push({
      ...error(
        Codes.INVALID_PROPERTY,
        `START_FROM is ignored: ${name} is replaced in place, and its query continues from the offsets it has`,
        stmt.properties.find((p) => p.name === "START_FROM")!.span,
      ),
      severity: "warning",
    });
  }
  const entry = { id: queryId, sink: name, sources: q.sources, sql: text, query: q };
  let c = catalog.withSource(withSink);
  c = replacing ? c.withoutQuery(replacing).withQuery(entry) : c.withQuery(entry);
  return {
    analyzed: {
      kind: "CreateAsSelect",
      sink: withSink,
      query: q,
      queryId,
    } as AnalyzedStatement,
    catalog: c,
  };
}

function insertInto(stmt: InsertInto, text: string, catalog: Catalog, env: AnalyzeEnv, diags: Diagnostic[]) {
  const target = catalog.source(stmt.target.value);
  if (!target) {
    diags.push(
      error(
        Codes.UNKNOWN_SOURCE,
        `Source \`${stmt.target.value}\` does not exist.`,
        stmt.target.span,
        hintOf(closest(stmt.target.value, catalog.sources.keys())),
      ),
    );
    return undefined;
  }
  if (target.sourceType !== "STREAM") {
    diags.push(
      error(
        Codes.WRONG_SOURCE_TYPE,
        `INSERT INTO can only be used to insert into a stream. ${target.name} is a table.`,
        stmt.target.span,
      ),
    );
    return undefined;
  }
  if (target.isSource) {
    diags.push(error(Codes.READ_ONLY, `Cannot insert into read-only stream: ${target.name}`, stmt.target.span));
    return undefined;
  }
  if (target.columns.some((c) => c.namespace === "HEADER")) {
    diags.push(
      error(Codes.READ_ONLY, `Cannot insert into ${target.name} because it has header columns`, stmt.target.span),
    );
    return undefined;
  }
  readProperties(stmt.properties, ["QUERY_ID", ...QUERY_PROPERTIES], diags);
  const q0 = analyzeQuery(
    stmt.query,
    {
      catalog,
      functions: env.functions,
      sinkName: target.name,
      expectedType: "STREAM",
      properties: env.properties,
      statementKind: "INSERT",
    },
    diags,
  );
  if (!q0 || diags.length) return undefined;
  const q = withStart(q0, stmt.properties, catalog, diags);
  if (diags.length) return undefined;
  const result: CatalogColumn[] = q.projection.map((c) => ({
    name: c.name,
    type: c.type,
    namespace: c.namespace,
  }));
  const sinkCols = [
    ...target.columns.filter((c) => c.namespace === "KEY"),
    ...target.columns.filter((c) => c.namespace === "VALUE"),
  ];
  const same =
    result.length === sinkCols.length &&
    result.every(
      (c, i) =>
        c.name === sinkCols[i]!.name && c.namespace === sinkCols[i]!.namespace && typeEquals(c.type, sinkCols[i]!.type),
    );
  if (!same) {
    diags.push(
      error(
        Codes.SCHEMA_MISMATCH,
        `Incompatible schema between results and sink. Result schema is ${columnsText(result)} Sink schema is ${columnsText(sinkCols)}`,
        stmt.query.span,
      ),
    );
    return undefined;
  }
  if (!!q.window !== !!target.window) {
    diags.push(
      error(
        Codes.SCHEMA_MISMATCH,
        `Incompatible windowing between results and sink ${target.name}: ${q.window ? "the query is windowed" : "the sink is windowed"}`,
        stmt.query.span,
      ),
    );
    return undefined;
  }
  const queryId = catalog.nextQueryId("INSERT", target.name);
  return {
    analyzed: {
      kind: "InsertInto",
      sink: target,
      query: q,
      queryId,
    } as AnalyzedStatement,
    catalog: catalog.withQuery({
      id: queryId,
      sink: target.name,
      sources: q.sources,
      sql: text,
    }),
  };
}

function insertValues(stmt: InsertValues, catalog: Catalog, env: AnalyzeEnv, diags: Diagnostic[]) {
  const target = catalog.source(stmt.target.value);
  if (!target) {
    const upper = stmt.target.value.toUpperCase();
    const hint = catalog.source(upper)
      ? `Did you mean ${upper}? Hint: try removing double quotes from the source name.`
      : hintOf(closest(stmt.target.value, catalog.sources.keys()));
    diags.push(
      error(
        Codes.UNKNOWN_SOURCE,
        `Cannot insert values into an unknown stream/table: \`${stmt.target.value}\``,
        stmt.target.span,
        hint,
      ),
    );
    return undefined;
  }
  if (target.isSource) {
    diags.push(
      error(
        Codes.READ_ONLY,
        `Cannot insert values into read-only ${low(target.sourceType)}: ${target.name}`,
        stmt.target.span,
      ),
    );
    return undefined;
  }
  const pseudo = [{ name: "ROWTIME", type: { kind: "BIGINT" } as SqlType }];
  let cols: { name: string; type: SqlType; span: Span }[];
  if (stmt.columns) {
    cols = [];
    for (const n of stmt.columns) {
      const c = target.columns.find((x) => x.name === n.value) ?? pseudo.find((p) => p.name === n.value);
      if (!c) {
        diags.push(
          error(
            Codes.UNKNOWN_COLUMN,
            `Column name ${n.value} does not exist.`,
            n.span,
            hintOf(
              closest(
                n.value,
                target.columns.map((x) => x.name),
              ),
            ),
          ),
        );
        continue;
      }
      if ("namespace" in c && c.namespace === "HEADER") {
        diags.push(error(Codes.INSERT_VALUES, `Cannot insert into HEADER columns: ${c.name}`, n.span));
        continue;
      }
      cols.push({ name: c.name, type: c.type, span: n.span });
    }
  } else {
    if (target.columns.some((c) => c.namespace === "HEADER")) {
      diags.push(
        error(Codes.INSERT_VALUES, `Cannot insert into ${target.name} because it has header columns`, stmt.target.span),
      );
      return undefined;
    }
    cols = [
      ...target.columns.filter((c) => c.namespace === "KEY"),
      ...target.columns.filter((c) => c.namespace === "VALUE"),
    ].map((c) => ({
      name: c.name,
      type: c.type,
      span: stmt.target.span,
    }));
  }
  if (diags.length) return undefined;
  if (cols.length !== stmt.values.length) {
    diags.push(
      error(
        Codes.INSERT_VALUES,
        `Expected a value for each column. Expected Columns: [${cols.map((c) => c.name).join(", ")}]. Got [${stmt.values.length} value${stmt.values.length === 1 ? "" : "s"}]`,
        stmt.span,
      ),
    );
    return undefined;
  }
  const values: { column: string; expr: TExpr }[] = [];
  stmt.values.forEach((v, i) => {
    const col = cols[i]!;
    const e = analyzeExpr(v, {
      catalog,
      functions: env.functions,
      scope: { columns: [], qualifiers: new Set() },
      clause: "VALUES",
      diags,
      allowAggregates: false,
      allowTableFunctions: false,
    });
    const stringLiteral = e.kind === "Literal" && e.type.kind === "STRING";
    // A STRUCT constructor may give a subset of the fields (the others are NULL).
    const partialStruct =
      e.kind === "Struct" &&
      col.type.kind === "STRUCT" &&
      e.fields.every((f) => {
        const t = (col.type as Extract<SqlType, { kind: "STRUCT" }>).fields.find((x) => x.name === f.name);
        return t !== undefined && (canImplicitlyCast(f.value.type, t.type) || f.value.type.kind === "STRING");
      });
    const ok =
      canImplicitlyCast(e.type, col.type) ||
      partialStruct ||
      (stringLiteral && col.type.kind !== "BYTES") ||
      (e.type.kind === "DECIMAL" && (col.type.kind === "DOUBLE" || col.type.kind === "DECIMAL")) ||
      (e.type.kind === "DOUBLE" && col.type.kind === "DECIMAL") ||
      (e.type.kind === "INTEGER" && e.kind === "Literal" && ["TIMESTAMP", "DATE", "TIME"].includes(col.type.kind));
    if (!ok) {
      diags.push(
        error(
          Codes.INSERT_VALUES,
          `Expected type ${formatType(col.type)} for field ${col.name} but got ${formatType(e.type)}`,
          v.span,
        ),
      );
      return;
    }
    values.push({ column: col.name, expr: coerce(e, col.type) });
  });
  if (diags.length) return undefined;
  return {
    analyzed: { kind: "InsertValues", target, values } as AnalyzedStatement,
    catalog,
  };
}

function dropSource(stmt: DropSource, catalog: Catalog, diags: Diagnostic[]) {
  const name = stmt.name.value;
  const s = catalog.source(name);
  if (!s) {
    if (!stmt.ifExists)
      diags.push(
        error(
          Codes.UNKNOWN_SOURCE,
          `${cap(stmt.sourceType)} ${name} does not exist.`,
          stmt.name.span,
          hintOf(closest(name, catalog.sources.keys())),
        ),
      );
    return undefined;
  }
  if (s.sourceType !== stmt.sourceType) {
    diags.push(
      error(
        Codes.WRONG_SOURCE_TYPE,
        `Incompatible data source type is ${s.sourceType}, but statement was DROP ${stmt.sourceType}`,
        stmt.name.span,
      ),
    );
    return undefined;
  }
  if (s.isSource && stmt.deleteTopic) {
    diags.push(error(Codes.READ_ONLY, `Cannot delete topic for read-only source: ${name}`, stmt.span));
    return undefined;
  }
  const readers = catalog.queriesReading(name).filter((q) => q.id !== s.writtenBy);
  if (readers.length) {
    const sinks = readers.map((q) => q.sink ?? q.id);
    diags.push(
      error(
        Codes.SOURCE_IN_USE,
        `Cannot drop ${name}.\nThe following streams and/or tables read from this source: [${sinks.join(", ")}].\nYou need to drop them before dropping ${name}.`,
        stmt.name.span,
      ),
    );
    return undefined;
  }
  let c = catalog.withoutSource(name);
  // Other queries still writing into it (INSERT INTO) are terminated with it, as the one that created it.
  for (const q of catalog.queries.values()) if (q.sink === name) c = c.withoutQuery(q.id);
  return {
    analyzed: {
      kind: "DropSource",
      name,
      deleteTopic: stmt.deleteTopic,
      ...(s.writtenBy ? { terminated: s.writtenBy } : {}),
    } as AnalyzedStatement,
    catalog: c,
  };
}
