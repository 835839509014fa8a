/**
 * `WITH (...)` properties of CREATE / CSAS / CTAS / INSERT INTO, and the format rules (which formats hold
 * which columns and types), as ksqlDB states them.
 */
import type { Property } from "../ast/nodes.ts";
import { error, type Diagnostic, type Span } from "../diagnostics/diagnostic.ts";
import type { StartPosition } from "../plan/topology.ts";
import { formatType, type SqlType } from "../types/sqltype.ts";
import { parseIsoTimestamp } from "../types/values.ts";
import type { CatalogColumn, FormatName, FormatSpec } from "./catalog.ts";
import { Codes } from "./codes.ts";
import { closest } from "./exprText.ts";

export const FORMATS: readonly FormatName[] = [
  "KAFKA",
  "JSON",
  "DELIMITED",
  "NONE",
  "AVRO",
  "PROTOBUF",
  "JSON_SR",
  "PROTOBUF_NOSR",
];

/** Properties allowed on CREATE STREAM/TABLE (with columns). */
export const SOURCE_PROPERTIES = [
  "KAFKA_TOPIC",
  "FORMAT",
  "KEY_FORMAT",
  "VALUE_FORMAT",
  "PARTITIONS",
  "REPLICAS",
  "TIMESTAMP",
  "TIMESTAMP_FORMAT",
  "VALUE_DELIMITER",
  "KEY_DELIMITER",
  "WRAP_SINGLE_VALUE",
  "RETENTION_MS",
  "WINDOW_TYPE",
  "WINDOW_SIZE",
  "KEY_SCHEMA_ID",
  "VALUE_SCHEMA_ID",
  "KEY_SCHEMA_FULL_NAME",
  "VALUE_SCHEMA_FULL_NAME",
  "VALUE_AVRO_SCHEMA_FULL_NAME",
  "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
  "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
] as const;

/** Properties of the persistent query itself (CSAS, CTAS, INSERT INTO ... SELECT), not of its sink. */
export const QUERY_PROPERTIES = ["START_FROM"] as const;

/**
 * Properties allowed on CSAS/CTAS (no windowing; the sink's window comes from the query); `TTL` and
 * `HISTORY_RETENTION`: CTAS only.
 */
export const SINK_PROPERTIES = [
  ...SOURCE_PROPERTIES.filter((p) => p !== "WINDOW_TYPE" && p !== "WINDOW_SIZE"),
  ...QUERY_PROPERTIES,
  "TTL",
  "HISTORY_RETENTION",
];

/** The largest instant JavaScript dates (and so esql's timestamps) hold, in ms either side of the epoch. */
const MAX_INSTANT_MS = 8.64e15;

/**
 * Reads `START_FROM` of a persistent query's WITH clause: `'earliest'`, `'latest'`, an ISO timestamp
 * (`'2024-05-01T00:00:00Z'`; UTC without a zone) or epoch milliseconds, or `'offsets:0=100,1=250'`
 * (explicit offsets per partition, for a query that reads one source topic). Undefined when absent or bad
 * (reported).
 */
export function readStartFrom(
  props: readonly Property[],
  sourceTopics: number,
  diags: Diagnostic[],
): StartPosition | undefined {
  const p = props.find((x) => x.name === "START_FROM");
  if (!p || p.value.value === null) return undefined;
  const bad = (why: string) => {
    diags.push(
      error(
        Codes.INVALID_PROPERTY,
        `Invalid START_FROM ${JSON.stringify(String(p.value.value))}: ${why}`,
        p.span,
        "START_FROM is 'earliest', 'latest', a timestamp such as '2024-05-01T00:00:00Z' (or epoch milliseconds), or 'offsets:<partition>=<offset>,...'",
      ),
    );
    return undefined;
  };
  const raw = p.value.value;
  const text = String(raw).trim();
  const lower = text.toLowerCase();
  if (lower === "earliest" || lower === "latest") return { kind: lower };
  if (typeof raw === "number" || /^-?\d+$/.test(text)) {
    const ms = Number(text);
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > MAX_INSTANT_MS) return bad("epoch milliseconds out of range");
    return { kind: "timestamp", timestamp: ms };
  }
  if (lower.startsWith("offsets:")) {
    if (sourceTopics !== 1)
      return bad(`explicit offsets need a query that reads one source topic, this one reads ${sourceTopics}`);
    const offsets: { partition: number; offset: number }[] = [];
    for (const part of text.slice("offsets:".length).split(",")) {
      const m = /^\s*(\d+)\s*=\s*(\d+)\s*$/.exec(part);
      if (!m) return bad(`expected <partition>=<offset>, found ${JSON.stringify(part.trim())}`);
      const partition = Number(m[1]);
      const offset = Number(m[2]);
      if (!Number.isSafeInteger(offset) || partition > 1_000_000) return bad(`${part.trim()} is out of range`);
      if (offsets.some((o) => o.partition === partition)) return bad(`partition ${partition} is given twice`);
      offsets.push({ partition, offset });
    }
    offsets.sort((a, b) => a.partition - b.partition);
    return { kind: "offsets", offsets };
  }
  let ms: number;
  try {
    ms = parseIsoTimestamp(text);
  } catch {
    return bad("not earliest, latest, a timestamp or offsets");
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_INSTANT_MS) return bad("the timestamp is out of range");
  return { kind: "timestamp", timestamp: ms };
}

export interface Props {
  readonly values: ReadonlyMap<string, { value: string | number | boolean | null; span: Span }>;
  get(name: string): string | undefined;
  span(name: string): Span | undefined;
}

/** Reads the properties, reporting unknown and repeated ones. */
export function readProperties(props: readonly Property[], allowed: readonly string[], diags: Diagnostic[]): Props {
  const values = new Map<string, { value: string | number | boolean | null; span: Span }>();
  for (const p of props) {
    if (!allowed.includes(p.name)) {
      diags.push(
        error(
          Codes.UNKNOWN_PROPERTY,
          `Invalid config variable(s) in the WITH clause: ${p.name}. Known properties: ${allowed.join(", ")}`,
          p.nameSpan,
          hint(closest(p.name, allowed)),
        ),
      );
      continue;
    }
    if (values.has(p.name)) {
      diags.push(error(Codes.INVALID_PROPERTY, `Duplicate property in the WITH clause: ${p.name}`, p.nameSpan));
    }
    values.set(p.name, { value: p.value.value, span: p.span });
  }
  return {
    values,
    get: (n) => {
      const v = values.get(n);
      return v === undefined || v.value === null ? undefined : String(v.value);
    },
    span: (n) => values.get(n)?.span,
  };
}

const hint = (names: string[]) =>
  names.length ? `did you mean ${names.map((n) => `'${n}'`).join(" or ")}?` : undefined;

/** Parses a format name; reports unknown ones. */
export function parseFormat(text: string, span: Span, diags: Diagnostic[]): FormatName | undefined {
  const f = text.toUpperCase() as FormatName;
  if (FORMATS.includes(f)) return f;
  diags.push(error(Codes.UNKNOWN_FORMAT, `Unknown format: ${text}`, span, hint(closest(f, FORMATS))));
  return undefined;
}

/**
 * The key and value format specs a WITH clause asks for (undefined parts: inherit/default).
 * Reports FORMAT given together with KEY_FORMAT/VALUE_FORMAT, bad delimiters, delimiters on other formats.
 */
export function readFormats(
  props: Props,
  fallbackSpan: Span,
  diags: Diagnostic[],
): {
  key?: FormatName;
  value?: FormatName;
  valueProps: Record<string, string>;
  keyProps: Record<string, string>;
} {
  const both = props.get("FORMAT");
  let key = props.get("KEY_FORMAT");
  let value = props.get("VALUE_FORMAT");
  const sp = (n: string) => props.span(n) ?? fallbackSpan;
  if (both !== undefined) {
    if (key !== undefined)
      diags.push(
        error(
          Codes.INVALID_PROPERTY,
          "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
          sp("KEY_FORMAT"),
        ),
      );
    if (value !== undefined)
      diags.push(
        error(
          Codes.INVALID_PROPERTY,
          "Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
          sp("VALUE_FORMAT"),
        ),
      );
    key = both;
    value = both;
  }
  const keyF =
    key !== undefined ? parseFormat(key, sp(both !== undefined ? "FORMAT" : "KEY_FORMAT"), diags) : undefined;
  const valueF =
    value !== undefined ? parseFormat(value, sp(both !== undefined ? "FORMAT" : "VALUE_FORMAT"), diags) : undefined;
  const valueProps: Record<string, string> = {};
  const keyProps: Record<string, string> = {};
  const vd = props.get("VALUE_DELIMITER");
  if (vd !== undefined) {
    const d = checkDelimiter("VALUE_DELIMITER", vd, sp("VALUE_DELIMITER"), diags);
    if (d !== undefined) valueProps.delimiter = d;
  }
  const kd = props.get("KEY_DELIMITER");
  if (kd !== undefined) {
    const d = checkDelimiter("KEY_DELIMITER", kd, sp("KEY_DELIMITER"), diags);
    if (d !== undefined) keyProps.delimiter = d;
  }
  const fullName = props.get("VALUE_AVRO_SCHEMA_FULL_NAME") ?? props.get("VALUE_SCHEMA_FULL_NAME");
  if (fullName !== undefined) valueProps.fullSchemaName = fullName;
  const wrap = props.get("WRAP_SINGLE_VALUE");
  if (wrap !== undefined) {
    if (!/^(true|false)$/i.test(wrap))
      diags.push(
        error(
          Codes.INVALID_PROPERTY,
          `WRAP_SINGLE_VALUE must be true or false, found '${wrap}'`,
          sp("WRAP_SINGLE_VALUE"),
        ),
      );
    else valueProps.wrapSingleValue = wrap.toLowerCase();
  }
  return {
    ...(keyF ? { key: keyF } : {}),
    ...(valueF ? { value: valueF } : {}),
    valueProps,
    keyProps,
  };
}

function checkDelimiter(name: string, d: string, span: Span, diags: Diagnostic[]): string | undefined {
  if (d.trim() === "") {
    diags.push(
      error(
        Codes.INVALID_PROPERTY,
        `Failed to prepare statement: Configuration ${name} is invalid: Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the word 'TAB' or 'SPACE'`,
        span,
      ),
    );
    return undefined;
  }
  if (d.toUpperCase() === "TAB") return "\t";
  if (d.toUpperCase() === "SPACE") return " ";
  if (d.length !== 1) {
    diags.push(
      error(
        Codes.INVALID_PROPERTY,
        `Failed to prepare statement: Configuration ${name} is invalid: Invalid delimiter value: '${d}'. Delimiter must be a single character or TAB,SPACE Example valid value: ';'`,
        span,
      ),
    );
    return undefined;
  }
  return d;
}

const containsMap = (t: SqlType): boolean =>
  t.kind === "MAP" ||
  (t.kind === "ARRAY" && containsMap(t.element)) ||
  (t.kind === "STRUCT" && t.fields.some((f) => containsMap(f.type)));

const colText = (c: CatalogColumn) => `\`${c.name}\` ${formatType(c.type)}${c.namespace === "KEY" ? " KEY" : ""}`;

/**
 * Checks that the key format can hold the key columns and the value format the value columns.
 * `what` names the thing for messages. Reports with `span`.
 */
export function checkFormats(
  keyFormat: FormatSpec,
  valueFormat: FormatSpec,
  columns: readonly CatalogColumn[],
  span: Span,
  diags: Diagnostic[],
): void {
  const keys = columns.filter((c) => c.namespace === "KEY");
  const values = columns.filter((c) => c.namespace === "VALUE");
  const push = (m: string) => diags.push(error(Codes.FORMAT_UNSUPPORTED, m, span));
  for (const k of keys) {
    if (containsMap(k.type)) {
      push(
        `Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: \`${k.name}\`. Column type: ${formatType(k.type)}. See https://github.com/confluentinc/ksql/issues/6621 for more.`,
      );
      return;
    }
  }
  const keyReason = formatReason(keyFormat.format, keys, true);
  if (keyReason)
    push(
      `Key format does not support schema. format: ${keyFormat.format} schema: Persistence{columns=[${keys.map(colText).join(", ")}], features=[]} reason: ${keyReason}`,
    );
  const valueReason = formatReason(valueFormat.format, values, false);
  if (valueReason) push(valueReason);
  if (valueFormat.format !== "DELIMITED" && valueFormat.properties.delimiter !== undefined)
    push(`${valueFormat.format} does not support the following configs: [delimiter]`);
  if (keyFormat.format !== "DELIMITED" && keyFormat.properties.delimiter !== undefined)
    push(`${keyFormat.format} does not support the following configs: [delimiter]`);
  if (
    valueFormat.properties.fullSchemaName !== undefined &&
    !["AVRO", "PROTOBUF", "JSON_SR"].includes(valueFormat.format)
  )
    push(`${valueFormat.format} does not support the following configs: [fullSchemaName]`);
  if (valueFormat.properties.wrapSingleValue !== undefined && values.length !== 1)
    push("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas");
  if (valueFormat.format === "JSON" || valueFormat.format === "JSON_SR") {
    const badMap = (t: SqlType): boolean =>
      (t.kind === "MAP" && (t.key.kind !== "STRING" || badMap(t.value))) ||
      (t.kind === "ARRAY" && badMap(t.element)) ||
      (t.kind === "STRUCT" && t.fields.some((f) => badMap(f.type)));
    if (values.some((c) => badMap(c.type))) push("JSON only supports MAP types with STRING keys");
  }
}

function formatReason(format: FormatName, cols: readonly CatalogColumn[], isKey: boolean): string | undefined {
  switch (format) {
    case "NONE":
      return cols.length
        ? `The 'NONE' format can only be used when no columns are defined. Got: [${cols.map(colText).join(", ")}]`
        : undefined;
    case "KAFKA": {
      if (cols.length > 1)
        return `The 'KAFKA' format only supports a single field. Got: [${cols.map(colText).join(", ")}]`;
      const c = cols[0];
      if (c && !["INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES", "NULL"].includes(c.type.kind))
        return `The 'KAFKA' format does not support type '${c.type.kind}'`;
      return undefined;
    }
    case "DELIMITED": {
      const c = cols.find((x) => x.type.kind === "ARRAY" || x.type.kind === "MAP" || x.type.kind === "STRUCT");
      return c
        ? `The 'DELIMITED' format does not support type '${c.type.kind}'${isKey ? "" : `, column: \`${c.name}\``}`
        : undefined;
    }
    default:
      return undefined;
  }
}
