import type { SqlType } from "../../src/types/sqltype.ts";
import { formatDecimal, parseDecimal } from "./decimal.ts";
import {
  decodeBase64,
  encodeBase64,
  javaDoubleToString,
  parseJavaDouble,
  parseJavaInt,
  parseJavaLong,
  outOfRange,
} from "./text.ts";
import { SerdeError, type Serde, type SerdeColumn } from "./types.ts";

/** ksqlDB's delimiter names, besides a single character. */
const NAMED_DELIMITERS: Readonly<Record<string, string>> = { TAB: "\t", SPACE: " " };

/**
 * The delimiter character for a `delimiter` option (`,` when absent; `TAB`, `SPACE` by name), or
 * `undefined` when ksqlDB would reject it (empty, a bare space, or several characters).
 */
export function resolveDelimiter(option: string | undefined): string | undefined {
  if (option === undefined) return ",";
  const named = NAMED_DELIMITERS[option.toUpperCase()];
  if (named !== undefined) return named;
  return option.length === 1 && option !== " " ? option : undefined;
}

/**
 * ksqlDB's DELIMITED format: one CSV record (Apache Commons CSV, `CSVFormat.DEFAULT` with the given
 * delimiter), one field per column, primitive types only.
 *
 * Reading: fields may be quoted with `"` (a doubled `""` inside is a quote); an empty field, quoted or
 * not, is null; the field count must equal the column count. BOOLEAN is `true` ignoring case (anything
 * else is false, as Java's `Boolean.parseBoolean`), INT/BIGINT strict integers, DOUBLE Java's
 * `Double.parseDouble`, DECIMAL exact, BYTES base64, DATE days, TIME ms, TIMESTAMP epoch ms.
 *
 * Writing: null is an empty unquoted field; DOUBLE as Java's `Double.toString`; DECIMAL as plain text
 * with the type's scale. A field is quoted (commons-csv's MINIMAL mode, as ksqlDB's version does it) when
 * it is the first of the record and empty or starting with a character other than a letter or digit;
 * when it starts with a character up to `#`; when it contains the delimiter, a quote, CR or LF; or when
 * it ends with a character up to space.
 */
export function createDelimitedSerde(
  columns: readonly SerdeColumn[],
  delimiterOption: string | undefined,
  target: string,
  /** The columns to read (see `SerdeOptions.decode`); default all. */
  decode?: readonly boolean[],
): Serde {
  const delimiter = resolveDelimiter(delimiterOption);
  if (delimiter === undefined) throw new Error(`internal: invalid DELIMITED delimiter '${delimiterOption}'`);
  const n = columns.length;
  const parsers = columns.map((c) => parserFor(c.type));
  const printers = columns.map((c) => printerFor(c.type));
  const delimCode = delimiter.charCodeAt(0);

  return {
    serialize(row) {
      // A row of nothing but NULLs has no fields to write: ksqlDB writes a null record part.
      if (row === null || row.every((v) => v === null || v === undefined)) return null;
      let out = "";
      for (let i = 0; i < n; i++) {
        if (i > 0) out += delimiter;
        const v = row[i];
        if (v === null || v === undefined) continue;
        out += quoteIfNeeded(printers[i]!(v), i === 0, delimCode);
      }
      return Buffer.from(out, "utf8");
    },
    deserialize(bytes) {
      if (bytes === null) return null;
      const fields = parseCsvRecord(bytes.toString("utf8"), delimCode);
      if (typeof fields === "string") throw new SerdeError(`cannot deserialize the ${target}: ${fields}`);
      if (fields.length !== n) {
        throw new SerdeError(
          `cannot deserialize the ${target}: unexpected field count, csvFields:${fields.length} schemaFields:${n}`,
        );
      }
      const row: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const f = fields[i]!;
        if (f === "" || (decode !== undefined && !decode[i])) {
          row[i] = null;
          continue;
        }
        try {
          row[i] = parsers[i]!(f);
        } catch (e) {
          if (e instanceof SerdeError) {
            e.message = `cannot deserialize the ${target}: ${e.message}, column: ${columns[i]!.name}`;
          }
          throw e;
        }
      }
      return row;
    },
  };
}

type Parser = (field: string) => unknown;

function parseFailure(field: string, t: SqlType): SerdeError {
  return new SerdeError(`cannot parse '${field}' as ${t.kind}`);
}

function parserFor(t: SqlType): Parser {
  switch (t.kind) {
    case "BOOLEAN":
      return (f) => f.length === 4 && f.toLowerCase() === "true";
    case "INTEGER":
    case "DATE":
    case "TIME":
      return (f) => {
        const n = parseJavaInt(f);
        return typeof n === "number" ? n : failWith(n === undefined ? parseFailure(f, t) : outOfRange(f, t));
      };
    case "BIGINT":
    case "TIMESTAMP":
      return (f) => {
        const n = parseJavaLong(f);
        if (typeof n === "number" || (typeof n === "bigint" && t.kind === "BIGINT")) return n;
        return failWith(n === undefined ? parseFailure(f, t) : outOfRange(f, t));
      };
    case "DOUBLE":
      return (f) => parseJavaDouble(f) ?? failWith(parseFailure(f, t));
    case "DECIMAL":
      return (f) => parseDecimal(f, t.precision, t.scale);
    case "STRING":
      return (f) => f;
    case "BYTES":
      return (f) => decodeBase64(f) ?? failWith(new SerdeError(`value is not a valid Base64 encoded string: ${f}`));
    case "NULL":
      return () => null;
    case "ARRAY":
    case "MAP":
    case "STRUCT":
      throw new Error(`internal: the 'DELIMITED' format does not support type '${t.kind}'`);
  }
}

function failWith(e: SerdeError): never {
  throw e;
}

type Printer = (v: unknown) => string;

function printerFor(t: SqlType): Printer {
  switch (t.kind) {
    case "DOUBLE":
      return (v) => javaDoubleToString(v as number);
    case "DECIMAL":
      return (v) => (typeof v === "bigint" ? formatDecimal(v, t.scale) : String(v));
    case "BYTES":
      return (v) => encodeBase64(v as Uint8Array);
    default:
      return (v) => String(v);
  }
}

function isAlphanumeric(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function quoteIfNeeded(s: string, first: boolean, delim: number): string {
  let quote = false;
  if (s.length === 0) {
    quote = first;
  } else {
    const c = s.charCodeAt(0);
    if ((first && !isAlphanumeric(c)) || c <= 0x23) {
      quote = true;
    } else {
      for (let i = 0; i < s.length; i++) {
        const d = s.charCodeAt(i);
        if (d === 0x0a || d === 0x0d || d === 0x22 || d === delim) {
          quote = true;
          break;
        }
      }
      if (!quote && s.charCodeAt(s.length - 1) <= 0x20) quote = true;
    }
  }
  return quote ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The fields of the first CSV record in `text` (empty lines before it are skipped), or an error
 * message. Unquoted fields run to the delimiter or line end; after a closing quote only whitespace may
 * come before the delimiter.
 */
export function parseCsvRecord(text: string, delim: number): string[] | string {
  const n = text.length;
  let i = 0;
  while (i < n && (text.charCodeAt(i) === 0x0a || text.charCodeAt(i) === 0x0d)) i++;
  if (i >= n) return "no fields in record";
  const fields: string[] = [];
  for (;;) {
    if (text.charCodeAt(i) === 0x22) {
      let value = "";
      let from = ++i;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return "unterminated quoted field";
        if (text.charCodeAt(q + 1) === 0x22) {
          value += text.slice(from, q + 1);
          i = from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === delim || c === 0x0a || c === 0x0d) break;
        if (c === 0x20 || c === 0x09) i++;
        else return "invalid char between encapsulated token and delimiter";
      }
      fields.push(value);
    } else {
      const from = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === delim || c === 0x0a || c === 0x0d) break;
        i++;
      }
      fields.push(text.slice(from, i));
    }
    if (i < n && text.charCodeAt(i) === delim) {
      i++;
      continue;
    }
    return fields;
  }
}
