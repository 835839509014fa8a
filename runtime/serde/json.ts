import { formatType, type SqlType } from "../../src/types/sqltype.ts";
import {
  type Long,
  LONG_MAX,
  LONG_MIN,
  fitsLong,
  normalizeLong,
  parseDecimal as parseDecimalText,
  pow10,
} from "../../src/types/values.ts";
import { formatDecimal, parseDecimal } from "./decimal.ts";
import {
  decodeBase64,
  encodeBase64,
  javaDoubleToString,
  parseJavaDouble,
  parseJavaInt,
  parseJavaLong,
  OUT_OF_RANGE,
  outOfRange,
} from "./text.ts";
import { SerdeError, type Serde, type SerdeColumn } from "./types.ts";

/**
 * ksqlDB's JSON format.
 *
 * Reading (`KsqlJsonDeserializer`): the columns are the fields of a JSON object (or, unwrapped, the
 * whole document is the single column's value). A column/struct field `NAME` takes the JSON field
 * named exactly `NAME`, else one whose upper-cased name is `NAME` (so unquoted, upper-cased columns
 * match any case; quoted lower-case ones match only exactly). Missing fields are null. Coercions:
 * INT/BIGINT from numbers (truncated) and from integer strings, exactly over the 64-bit range; a number
 * beyond the column's range is an `out-of-range` error (the record goes to the processing log);
 * DOUBLE from numbers and numeric strings; STRING from anything (numbers and booleans as text, objects
 * as compact JSON, arrays as `[a, b]`); BOOLEAN only from booleans; DECIMAL from numbers or strings,
 * exactly; BYTES from base64 strings; DATE (days), TIME (ms of day), TIMESTAMP (epoch ms) from numbers
 * or integer strings; MAP from objects (keys are strings); ARRAY from arrays; STRUCT from objects.
 * When a DECIMAL occurs in the columns, numbers are read from their source text (see
 * `parseJsonLossless`) so that no digit is lost through a double. Otherwise `JSON.parse` reads the record,
 * and only a record where a BIGINT meets a number beyond ±2^53 (which a double may have rounded) is read
 * again from its source text, so ordinary records pay nothing for exact BIGINTs.
 *
 * Writing: an object with the columns in column order (or the bare value when unwrapped; an
 * unwrapped null is a null record); DECIMAL as an exact JSON number with the type's scale; BYTES as
 * base64; DATE/TIME/TIMESTAMP as numbers; MAP as an object; STRUCT with its declared field names;
 * non-finite doubles as the strings "NaN", "Infinity", "-Infinity" (Jackson's default).
 */
export function createJsonSerde(
  columns: readonly SerdeColumn[],
  wrapped: boolean,
  target: string,
  /** The columns to read (see `SerdeOptions.decode`); default all. */
  readMask?: readonly boolean[],
): Serde {
  const n = columns.length;
  /** Positions of the columns read; the others stay NULL. */
  const read = columns.map((_, i) => i).filter((i) => readMask?.[i] ?? true);
  const names = columns.map((c) => c.name);
  const readers = columns.map((c) => readerFor(c.type));
  const writers = columns.map((c) => writerFor(c.type));
  const prefixes = columns.map((c, i) => (i === 0 ? "{" : ",") + JSON.stringify(c.name) + ":");
  const parse = read.some((i) => containsDecimal(columns[i]!.type)) ? parseJsonLossless : JSON.parse;
  const rowType = `STRUCT<${columns.map((c) => `${c.name} ${formatType(c.type)}`).join(", ")}>`;

  if (!wrapped && n !== 1) throw new Error(`internal: an unwrapped JSON serde needs exactly 1 column, got ${n}`);

  const parseText = (text: string, parser: (text: string) => unknown): unknown => {
    try {
      return parser(text);
    } catch (e) {
      throw new SerdeError(`cannot deserialize the ${target}: invalid JSON (${(e as Error).message})`, "$");
    }
  };
  /** Reads the record; again from its source text when a BIGINT reader met a double that may be rounded. */
  const decode = (bytes: Buffer, read: (doc: unknown) => unknown[] | null): unknown[] | null => {
    const text = bytes.toString("utf8");
    try {
      return read(parseText(text, parse));
    } catch (e) {
      if (e !== NEEDS_SOURCE_TEXT) throw e;
      return read(parseText(text, parseJsonLossless));
    }
  };
  const fail = (e: unknown, path: string): never => {
    if (e instanceof SerdeError) {
      e.path = path + (e.path ?? "");
      e.message = `cannot deserialize the ${target}: ${e.message}, path: ${e.path}`;
      throw e;
    }
    throw e;
  };

  if (!wrapped) {
    const read = readers[0]!;
    const write = writers[0]!;
    return {
      serialize(row) {
        if (row === null) return null;
        const v = row[0];
        return v === null || v === undefined ? null : Buffer.from(write(v), "utf8");
      },
      deserialize(bytes) {
        if (bytes === null) return null;
        return decode(bytes, (doc) => {
          if (doc === null) return null;
          try {
            return [read(doc)];
          } catch (e) {
            return fail(e, "$");
          }
        });
      },
    };
  }

  const readRow = (doc: unknown): unknown[] | null => {
    if (doc === null) return null;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      throw new SerdeError(
        `cannot deserialize the ${target}: can't convert type. sourceType: ${nodeType(doc)}, requiredType: ${rowType}, path: $`,
        "$",
      );
    }
    const obj = doc as Record<string, unknown>;
    const row: unknown[] = read.length === n ? new Array(n) : new Array(n).fill(null);
    let i = 0;
    try {
      for (let k = 0; k < read.length; k++) {
        i = read[k]!;
        const name = names[i]!;
        const v = Object.hasOwn(obj, name) ? obj[name] : fieldIgnoringCase(obj, name);
        row[i] = v === null || v === undefined ? null : readers[i]!(v);
      }
    } catch (e) {
      return fail(e, `$.${names[i]}`);
    }
    return row;
  };

  return {
    serialize(row) {
      if (row === null) return null;
      let out = n === 0 ? "{" : "";
      for (let i = 0; i < n; i++) {
        const v = row[i];
        out += prefixes[i]! + (v === null || v === undefined ? "null" : writers[i]!(v));
      }
      return Buffer.from(out + "}", "utf8");
    },
    deserialize(bytes) {
      return bytes === null ? null : decode(bytes, readRow);
    },
  };
}

/** The value of the field whose upper-cased name is `name` (the last one, as ksqlDB's HashMap keeps). */
function fieldIgnoringCase(obj: Record<string, unknown>, name: string): unknown {
  let found: unknown = undefined;
  for (const k in obj) if (k.toUpperCase() === name) found = obj[k];
  return found;
}

function containsDecimal(t: SqlType): boolean {
  switch (t.kind) {
    case "DECIMAL":
      return true;
    case "ARRAY":
      return containsDecimal(t.element);
    case "MAP":
      return containsDecimal(t.key) || containsDecimal(t.value);
    case "STRUCT":
      return t.fields.some((f) => containsDecimal(f.type));
    default:
      return false;
  }
}

// ---- reading ----

/** Coerces one non-null JSON value to the type; throws `SerdeError` (path relative to the value). */
type Reader = (v: unknown) => unknown;

/** A JSON number kept as its source text (from `parseJsonLossless`). */
export class JsonNumber {
  constructor(readonly text: string) {}
  toJSON(): number {
    return Number(this.text);
  }
}

/** Jackson's node class names, which ksqlDB's coercion messages show. */
function nodeType(v: unknown): string {
  if (typeof v === "string") return "TextNode";
  if (typeof v === "boolean") return "BooleanNode";
  if (v instanceof JsonNumber) v = Number(v.text);
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return "DecimalNode";
    return v >= -2147483648 && v <= 2147483647 ? "IntNode" : "LongNode";
  }
  if (Array.isArray(v)) return "ArrayNode";
  if (v === null) return "NullNode";
  return "ObjectNode";
}

function cannotConvert(v: unknown, t: SqlType): SerdeError {
  return new SerdeError(`can't convert type. sourceType: ${nodeType(v)}, requiredType: ${formatType(t)}`);
}

function cannotCoerceString(t: SqlType): SerdeError {
  return new SerdeError(`can't coerce string to type. targetType: ${formatType(t)}`);
}

function readerFor(t: SqlType): Reader {
  switch (t.kind) {
    case "BOOLEAN":
      return (v) => {
        if (typeof v === "boolean") return v;
        throw cannotConvert(v, t);
      };
    case "INTEGER":
    case "DATE":
    case "TIME":
      return (v) => {
        if (typeof v === "number") {
          const i = v | 0;
          return i === v ? i : truncateToInt(v, String(v), t);
        }
        if (typeof v === "string") {
          const n = parseJavaInt(v);
          if (n === undefined) throw cannotCoerceString(t);
          if (n === OUT_OF_RANGE) throw outOfRange(v, t);
          return n;
        }
        if (v instanceof JsonNumber) return truncateToInt(Number(v.text), v.text, t);
        throw cannotConvert(v, t);
      };
    case "BIGINT":
      return (v) => {
        if (typeof v === "number") {
          if (Number.isSafeInteger(v)) return v;
          // Beyond ±2^53 the double may be rounded: read the record again from its text (see createJsonSerde).
          if (Math.abs(v) >= 2 ** 53) throw NEEDS_SOURCE_TEXT;
          return Math.trunc(v) || 0;
        }
        if (typeof v === "string") {
          const n = parseJavaLong(v);
          if (n === undefined) throw cannotCoerceString(t);
          if (n === OUT_OF_RANGE) throw outOfRange(v, t);
          return n;
        }
        if (v instanceof JsonNumber) return longOfText(v.text, t);
        throw cannotConvert(v, t);
      };
    case "TIMESTAMP":
      return (v) => {
        if (typeof v === "number") return Math.trunc(v);
        if (typeof v === "string") {
          const n = parseJavaLong(v);
          if (n === undefined) throw cannotCoerceString(t);
          if (typeof n !== "number") throw outOfRange(v, t);
          return n;
        }
        if (v instanceof JsonNumber) return Math.trunc(Number(v.text));
        throw cannotConvert(v, t);
      };
    case "DOUBLE":
      return (v) => {
        if (typeof v === "number") return v;
        if (typeof v === "string") {
          const n = parseJavaDouble(v);
          if (n === undefined) throw cannotCoerceString(t);
          return n;
        }
        if (v instanceof JsonNumber) return Number(v.text);
        throw cannotConvert(v, t);
      };
    case "DECIMAL":
      return (v) => {
        if (typeof v === "string") return parseDecimal(v, t.precision, t.scale);
        if (v instanceof JsonNumber) return parseDecimal(v.text, t.precision, t.scale);
        if (typeof v === "number") return parseDecimal(String(v), t.precision, t.scale);
        throw cannotConvert(v, t);
      };
    case "STRING":
      return readString;
    case "BYTES":
      return (v) => {
        if (typeof v === "string") {
          const b = decodeBase64(v);
          if (b === undefined) throw new SerdeError(`value is not a valid Base64 encoded string: ${v}`);
          return b;
        }
        throw cannotConvert(v, t);
      };
    case "ARRAY": {
      const element = readerFor(t.element);
      return (v) => {
        if (!Array.isArray(v)) throw cannotConvert(v, t);
        const out: unknown[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const e = v[i];
          try {
            out[i] = e === null ? null : element(e);
          } catch (err) {
            throw prependPath(err, `[${i}]`);
          }
        }
        return out;
      };
    }
    case "MAP": {
      const key = readerFor(t.key);
      const value = readerFor(t.value);
      return (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof JsonNumber) {
          throw cannotConvert(v, t);
        }
        const out = new Map<unknown, unknown>();
        for (const k in v) {
          const e = (v as Record<string, unknown>)[k];
          try {
            out.set(key(k), e === null ? null : value(e));
          } catch (err) {
            throw prependPath(err, `.${k}.value`);
          }
        }
        return out;
      };
    }
    case "STRUCT": {
      const fields = t.fields.map((f) => ({ name: f.name, read: readerFor(f.type) }));
      return (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof JsonNumber) {
          throw cannotConvert(v, t);
        }
        const obj = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const f of fields) {
          const e = Object.hasOwn(obj, f.name) ? obj[f.name] : fieldIgnoringCase(obj, f.name);
          try {
            out[f.name] = e === null || e === undefined ? null : f.read(e);
          } catch (err) {
            throw prependPath(err, `.${f.name}`);
          }
        }
        return out;
      };
    }
    case "NULL":
      return () => null;
  }
}

/**
 * Thrown by a BIGINT reader that needs the record's source text (caught in `createJsonSerde`, by identity;
 * one instance made once, so throwing it costs no stack trace).
 */
const NEEDS_SOURCE_TEXT = new Error("a BIGINT beyond 2^53 needs the record's source text");

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** An INTEGER from a JSON number, truncated toward zero as Jackson's `asInt`; beyond 32 bits `out-of-range`. */
function truncateToInt(v: number, text: string, t: SqlType): number {
  const i = Math.trunc(v);
  if (i >= INT_MIN && i <= INT_MAX) return i || 0;
  throw outOfRange(text, t);
}

/** A BIGINT from a JSON number's text, exactly (a fraction truncated toward zero); beyond 64 bits `out-of-range`. */
function longOfText(text: string, t: SqlType): Long {
  let n: bigint;
  if (/^-?\d+$/.test(text)) n = BigInt(text);
  else {
    // A fraction or an exponent: anything whose double is far beyond 2^63 is out of range without expanding
    // its digits (`1e999999` would be a million-digit bigint).
    if (!(Math.abs(Number(text)) < 1e20)) throw outOfRange(text, t);
    const d = parseDecimalText(text)!;
    n = d.unscaled / pow10(d.scale);
  }
  if (!fitsLong(n)) {
    // No double is closer to Long.MAX_VALUE / MIN_VALUE than ±2^63, so that is what a double-based producer
    // (JavaScript's JSON.stringify among them) writes for them: it saturates, as Java's `(long)` of it does.
    const d = Number(text);
    if (d === 2 ** 63 || d === -(2 ** 63)) return d > 0 ? LONG_MAX : LONG_MIN;
    throw outOfRange(text, t);
  }
  return normalizeLong(n);
}

function readString(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map((e) => (e === null ? "null" : readString(e))).join(", ")}]`;
  return JSON.stringify(v);
}

function prependPath(err: unknown, segment: string): unknown {
  if (err instanceof SerdeError) err.path = segment + (err.path ?? "");
  return err;
}

// ---- writing ----

/** Writes one non-null value as JSON text. */
type Writer = (v: unknown) => string;

function writerFor(t: SqlType): Writer {
  switch (t.kind) {
    case "BOOLEAN":
      return (v) => (v ? "true" : "false");
    case "INTEGER":
    case "BIGINT":
    case "DATE":
    case "TIME":
    case "TIMESTAMP":
      return (v) => String(v);
    case "DOUBLE":
      return (v) => (Number.isFinite(v) ? String(v) : `"${javaDoubleToString(v as number)}"`);
    case "DECIMAL":
      return (v) => (typeof v === "bigint" ? formatDecimal(v, t.scale) : String(v));
    case "STRING":
      return (v) => JSON.stringify(v);
    case "BYTES":
      return (v) => `"${encodeBase64(v as Uint8Array)}"`;
    case "ARRAY": {
      const element = writerFor(t.element);
      return (v) => {
        const a = v as readonly unknown[];
        let out = "[";
        for (let i = 0; i < a.length; i++) {
          const e = a[i];
          out += (i === 0 ? "" : ",") + (e === null || e === undefined ? "null" : element(e));
        }
        return out + "]";
      };
    }
    case "MAP": {
      const value = writerFor(t.value);
      return (v) => {
        let out = "{";
        let first = true;
        for (const [k, e] of v as Map<unknown, unknown>) {
          out +=
            (first ? "" : ",") + JSON.stringify(String(k)) + ":" + (e === null || e === undefined ? "null" : value(e));
          first = false;
        }
        return out + "}";
      };
    }
    case "STRUCT": {
      const fields = t.fields.map((f, i) => ({
        name: f.name,
        prefix: (i === 0 ? "" : ",") + JSON.stringify(f.name) + ":",
        write: writerFor(f.type),
      }));
      return (v) => {
        const obj = v as Record<string, unknown>;
        let out = "{";
        for (const f of fields) {
          const e = obj[f.name];
          out += f.prefix + (e === null || e === undefined ? "null" : f.write(e));
        }
        return out + "}";
      };
    }
    case "NULL":
      return () => "null";
  }
}

// ---- lossless parsing ----

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * `JSON.parse` that keeps every number as a `JsonNumber` holding its source text, so that DECIMAL
 * values keep all their digits (Node 20 has no `JSON.parse` source access). Objects have no prototype.
 */
export function parseJsonLossless(text: string): unknown {
  let i = 0;
  const n = text.length;
  const skipWs = (): void => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
    }
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const readText = (): string => {
    const start = i;
    i++;
    let escaped = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c === 0x22) {
        i++;
        const raw = text.slice(start, i);
        return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      } else if (c < 0x20) {
        fail("control character in string");
      }
    }
    return fail("unterminated string");
  };
  const readValue = (): unknown => {
    skipWs();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      skipWs();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[i] !== '"') fail("expected a field name");
        const key = readText();
        skipWs();
        if (text[i++] !== ":") fail("expected ':'");
        obj[key] = readValue();
        skipWs();
        const d = text[i++];
        if (d === "}") return obj;
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr: unknown[] = [];
      skipWs();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(readValue());
        skipWs();
        const d = text[i++];
        if (d === "]") return arr;
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return readText();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail("unexpected token");
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const v = readValue();
  skipWs();
  if (i !== n) fail("unexpected text after JSON");
  return v;
}

/**
 * `JSON.stringify` of plain data that writes a bigint (a BIGINT beyond ±2^53) as its digits, a JSON number
 * with no digit lost. Data without bigints takes `JSON.stringify` itself.
 */
export function stringifyExact(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  return exactText(v) ?? "null";
}

/** JSON text of a document read by {@link parseJsonLossless}: its numbers written as their source text. */
export function stringifyLossless(v: unknown): string {
  return exactText(v) ?? "null";
}

function exactText(v: unknown): string | undefined {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof JsonNumber) return v.text;
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  const o = v as Record<string, unknown> & { toJSON?: () => unknown };
  if (typeof o.toJSON === "function") return exactText(o.toJSON());
  if (Array.isArray(v)) return `[${v.map((x) => exactText(x) ?? "null").join(",")}]`;
  let out = "";
  for (const k of Object.keys(o)) {
    const x = exactText(o[k]);
    if (x !== undefined) out += (out === "" ? "" : ",") + JSON.stringify(k) + ":" + x;
  }
  return `{${out}}`;
}
