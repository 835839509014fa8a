import { formatType, type SqlType } from "../../src/types/sqltype.ts";
import { formatDecimal, parseDecimal } from "./decimal.ts";
import {
  decodeBase64,
  encodeBase64,
  javaDoubleToString,
  parseJavaDouble,
  parseJavaInt,
  parseJavaLong,
} from "./text.ts";
import { SerdeError, type Serde, type SerdeColumn } from "./types.ts";

/**
 * ksqlDB's JSON format.
 *
 * Reading (`KsqlJsonDeserializer`): the columns are the fields of a JSON object (or, unwrapped, the
 * whole document is the single column's value). A column/struct field `NAME` takes the JSON field
 * named exactly `NAME`, else one whose upper-cased name is `NAME` (so unquoted, upper-cased columns
 * match any case; quoted lower-case ones match only exactly). Missing fields are null. Coercions:
 * INT/BIGINT from numbers (truncated, wrapped like Java's `intValue`) and from integer strings;
 * DOUBLE from numbers and numeric strings; STRING from anything (numbers and booleans as text, objects
 * as compact JSON, arrays as `[a, b]`); BOOLEAN only from booleans; DECIMAL from numbers or strings,
 * exactly; BYTES from base64 strings; DATE (days), TIME (ms of day), TIMESTAMP (epoch ms) from numbers
 * or integer strings; MAP from objects (keys are strings); ARRAY from arrays; STRUCT from objects.
 * When a DECIMAL occurs in the columns, numbers are read from their source text (see
 * `parseJsonLossless`) so that no digit is lost through a double.
 *
 * Writing: an object with the columns in column order (or the bare value when unwrapped; an
 * unwrapped null is a null record); DECIMAL as an exact JSON number with the type's scale; BYTES as
 * base64; DATE/TIME/TIMESTAMP as numbers; MAP as an object; STRUCT with its declared field names;
 * non-finite doubles as the strings "NaN", "Infinity", "-Infinity" (Jackson's default).
 */
export function createJsonSerde(columns: readonly SerdeColumn[], wrapped: boolean, target: string): Serde {
  const n = columns.length;
  const names = columns.map((c) => c.name);
  const readers = columns.map((c) => readerFor(c.type));
  const writers = columns.map((c) => writerFor(c.type));
  const prefixes = columns.map((c, i) => (i === 0 ? "{" : ",") + JSON.stringify(c.name) + ":");
  const parse = columns.some((c) => containsDecimal(c.type)) ? parseJsonLossless : JSON.parse;
  const rowType = `STRUCT<${columns.map((c) => `${c.name} ${formatType(c.type)}`).join(", ")}>`;

  if (!wrapped && n !== 1) throw new Error(`internal: an unwrapped JSON serde needs exactly 1 column, got ${n}`);

  const parseBytes = (bytes: Buffer): unknown => {
    try {
      return parse(bytes.toString("utf8"));
    } catch (e) {
      throw new SerdeError(`cannot deserialize the ${target}: invalid JSON (${(e as Error).message})`, "$");
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
        const doc = parseBytes(bytes);
        if (doc === null) return null;
        try {
          return [read(doc)];
        } catch (e) {
          return fail(e, "$");
        }
      },
    };
  }

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
      if (bytes === null) return null;
      const doc = parseBytes(bytes);
      if (doc === null) return null;
      if (typeof doc !== "object" || Array.isArray(doc)) {
        throw new SerdeError(
          `cannot deserialize the ${target}: can't convert type. sourceType: ${nodeType(doc)}, requiredType: ${rowType}, path: $`,
          "$",
        );
      }
      const obj = doc as Record<string, unknown>;
      const row: unknown[] = new Array(n);
      let i = 0;
      try {
        for (; i < n; i++) {
          const name = names[i]!;
          const v = Object.hasOwn(obj, name) ? obj[name] : fieldIgnoringCase(obj, name);
          row[i] = v === null || v === undefined ? null : readers[i]!(v);
        }
      } catch (e) {
        return fail(e, `$.${names[i]}`);
      }
      return row;
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
        if (typeof v === "number") return v | 0;
        if (typeof v === "string") {
          const n = parseJavaInt(v);
          if (n === undefined) throw cannotCoerceString(t);
          return n;
        }
        if (v instanceof JsonNumber) return Number(v.text) | 0;
        throw cannotConvert(v, t);
      };
    case "BIGINT":
    case "TIMESTAMP":
      return (v) => {
        if (typeof v === "number") return Math.trunc(v);
        if (typeof v === "string") {
          const n = parseJavaLong(v);
          if (n === undefined) throw cannotCoerceString(t);
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
