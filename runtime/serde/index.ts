import { formatType, type SqlType } from "../../src/types/sqltype.ts";
import { createDelimitedSerde, resolveDelimiter } from "./delimited.ts";
import { createJsonSerde, stringifyExact } from "./json.ts";
import { createKafkaSerde } from "./kafka.ts";
import { encodeBase64 } from "./text.ts";
import type { Serde, SerdeColumn, SerdeFormat, SerdeOptions } from "./types.ts";

export { SerdeError } from "./types.ts";
export type { Serde, SerdeColumn, SerdeFormat, SerdeOptions } from "./types.ts";
export { formatDecimal, parseDecimal } from "./decimal.ts";

/**
 * NONE: no columns. Serializes every row to null and reads any bytes (even null) as the empty row,
 * because a NONE key or value carries nothing (ksqlDB ignores whatever bytes are there).
 */
const NONE_SERDE: Serde = {
  serialize: () => null,
  deserialize: () => [],
};

/**
 * Why `format` cannot carry these columns, in ksqlDB's words, or `undefined` when it can. The
 * compiler reports this as a diagnostic; `createSerde` treats it as an internal bug.
 */
export function formatSupportProblem(
  format: SerdeFormat,
  columns: readonly SerdeColumn[],
  options: Pick<SerdeOptions, "isKey" | "delimiter">,
): string | undefined {
  const listed = (): string =>
    `[${columns.map((c) => `\`${c.name}\` ${formatType(c.type)}${options.isKey ? " KEY" : ""}`).join(", ")}]`;
  switch (format) {
    case "NONE":
      return columns.length === 0
        ? undefined
        : `The 'NONE' format can only be used when no columns are defined. Got: ${listed()}`;
    case "KAFKA": {
      if (columns.length > 1) return `The 'KAFKA' format only supports a single field. Got: ${listed()}`;
      const t = columns[0]?.type;
      if (t && !["INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES"].includes(t.kind)) {
        return `The 'KAFKA' format does not support type '${t.kind}'`;
      }
      return undefined;
    }
    case "DELIMITED": {
      if (resolveDelimiter(options.delimiter) === undefined) {
        return `Invalid delimiter value: '${options.delimiter}'. Delimiter must be a single character or TAB,SPACE`;
      }
      const bad = columns.find((c) => c.type.kind === "ARRAY" || c.type.kind === "MAP" || c.type.kind === "STRUCT");
      return bad ? `The 'DELIMITED' format does not support type '${bad.type.kind}'` : undefined;
    }
    case "JSON":
      return columns.some((c) => hasNonStringMapKey(c.type))
        ? "JSON only supports MAP types with STRING keys"
        : undefined;
  }
}

function hasNonStringMapKey(t: SqlType): boolean {
  switch (t.kind) {
    case "MAP":
      return t.key.kind !== "STRING" || hasNonStringMapKey(t.value);
    case "ARRAY":
      return hasNonStringMapKey(t.element);
    case "STRUCT":
      return t.fields.some((f) => hasNonStringMapKey(f.type));
    default:
      return false;
  }
}

/**
 * Compiles the serde of one record part. The columns must pass `formatSupportProblem` (the compiler
 * checks); otherwise this throws as for an internal bug. Create once per source/sink, not per record.
 */
export function createSerde(format: SerdeFormat, columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  const problem = formatSupportProblem(format, columns, options);
  if (problem) throw new Error(`internal: ${problem}`);
  const target = options.isKey ? "key" : "value";
  // No columns (a keyless stream's key, NONE): nothing to carry, whatever the format.
  if (columns.length === 0) return NONE_SERDE;
  switch (format) {
    case "NONE":
      return NONE_SERDE;
    case "KAFKA":
      return createKafkaSerde(columns[0]!, target);
    case "JSON": {
      const wrapped = columns.length !== 1 || (options.wrapSingleValue ?? !options.isKey);
      return createJsonSerde(columns, wrapped, target, options.decode);
    }
    case "DELIMITED":
      return createDelimitedSerde(columns, options.delimiter, target, options.decode);
  }
}

/**
 * The bytes of a key or value given as in ksqlDB's test files: for JSON the JSON document itself,
 * for DELIMITED the CSV text, for KAFKA the primitive (a JSON number or string; BYTES as base64),
 * for NONE anything (written as its text, since NONE ignores it). `null` → `null`.
 */
export function fromTestValue(
  format: SerdeFormat,
  columns: readonly SerdeColumn[],
  options: SerdeOptions,
  value: unknown,
): Buffer | null {
  if (value === null || value === undefined) return null;
  switch (format) {
    case "JSON":
      return Buffer.from(JSON.stringify(value), "utf8");
    case "DELIMITED":
    case "NONE":
      return Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8");
    case "KAFKA": {
      if (columns.length === 0) return Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8");
      // Coerce the JSON primitive as the JSON format would, then write it with Kafka's serializer.
      const row = createJsonSerde(columns, false, options.isKey ? "key" : "value").deserialize(
        Buffer.from(JSON.stringify(value), "utf8"),
      );
      return createSerde(format, columns, options).serialize(row);
    }
  }
}

/**
 * The inverse of `fromTestValue`: the test-file representation of serialized bytes (JSON: the parsed
 * document; DELIMITED: the text; KAFKA: the primitive, BYTES as base64; NONE: null).
 */
export function toTestValue(
  format: SerdeFormat,
  columns: readonly SerdeColumn[],
  options: SerdeOptions,
  bytes: Buffer | null,
): unknown {
  if (bytes === null) return null;
  switch (format) {
    case "JSON":
      return JSON.parse(bytes.toString("utf8"));
    case "DELIMITED":
      return bytes.toString("utf8");
    case "NONE":
      return null;
    case "KAFKA": {
      if (columns.length === 0) return null;
      const row = createSerde(format, columns, options).deserialize(bytes);
      const v = row === null ? null : row[0];
      return v instanceof Uint8Array ? encodeBase64(v) : v;
    }
  }
}

/** Exposed for code that must write JSON numbers (BIGINT, DECIMAL) without losing digits. */
export { stringifyExact };
