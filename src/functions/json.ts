/** JSON text functions: EXTRACTJSONFIELD, JSON_* and TO_JSON_STRING. Invalid JSON gives NULL. */
import type { SqlType } from "../types/sqltype.ts";
import { decimalToString, formatDate, formatTime, formatTimestamp } from "../types/values.ts";
import { scalar } from "./define.ts";
import type { ScalarFunction } from "./types.ts";

/** The value as a JSON object (not an array, not null), or undefined. */
function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const CAT = "JSON";

/** Parses JSON text; like Jackson, text after the first complete value is ignored. */
function parse(s: string): { ok: true; v: unknown } | { ok: false } {
  try {
    return { ok: true, v: JSON.parse(s) };
  } catch {
    const end = firstValueEnd(s);
    if (end === undefined || end >= s.length) return { ok: false };
    try {
      return { ok: true, v: JSON.parse(s.slice(0, end)) };
    } catch {
      return { ok: false };
    }
  }
}

/** The end index of the first top-level object/array in `s`, by bracket matching outside strings. */
function firstValueEnd(s: string): number | undefined {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

/** Follows a JSONPath like `$.a.b[0]['c']`; undefined when absent. */
function follow(v: unknown, path: string): unknown {
  const steps = [...path.replace(/^\$/, "").matchAll(/\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g)];
  let cur = v;
  for (const s of steps) {
    if (cur === null || typeof cur !== "object") return undefined;
    const key = s[1] ?? s[3] ?? s[4];
    cur =
      key !== undefined
        ? Array.isArray(cur)
          ? undefined
          : (cur as Record<string, unknown>)[key]
        : Array.isArray(cur)
          ? cur[Number(s[2])]
          : undefined;
  }
  return cur;
}

/** A value of `type` as JSON text, as ksqlDB's TO_JSON_STRING writes it. */
export function toJson(type: SqlType): (v: unknown) => string {
  switch (type.kind) {
    case "DECIMAL": {
      const s = type.scale;
      return (v) => (v === null ? "null" : decimalToString(v as bigint, s));
    }
    case "BYTES":
      return (v) => (v === null ? "null" : JSON.stringify(Buffer.from(v as Uint8Array).toString("base64")));
    case "DATE":
      return (v) => (v === null ? "null" : JSON.stringify(formatDate(v as number)));
    case "TIME":
      return (v) => (v === null ? "null" : JSON.stringify(formatTime(v as number)));
    case "TIMESTAMP":
      return (v) => (v === null ? "null" : JSON.stringify(formatTimestamp(v as number)));
    case "ARRAY": {
      const el = toJson(type.element);
      return (v) => (v === null ? "null" : `[${(v as unknown[]).map(el).join(",")}]`);
    }
    case "MAP": {
      const val = toJson(type.value);
      return (v) =>
        v === null
          ? "null"
          : `{${[...(v as Map<unknown, unknown>)].map(([k, x]) => `${JSON.stringify(String(k))}:${val(x)}`).join(",")}}`;
    }
    case "STRUCT": {
      const fs = type.fields.map((f) => [f.name, toJson(f.type)] as const);
      return (v) =>
        v === null
          ? "null"
          : `{${fs.map(([n, f]) => `${JSON.stringify(n)}:${f((v as Record<string, unknown>)[n] ?? null)}`).join(",")}}`;
    }
    default:
      return (v) => (v === null ? "null" : JSON.stringify(v));
  }
}

const text = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === "string" ? v : JSON.stringify(v);

export const jsonFunctions: readonly ScalarFunction[] = [
  scalar({
    name: "EXTRACTJSONFIELD",
    category: CAT,
    description: "The value at a JSONPath in JSON text, as text (strings unquoted); NULL when absent.",
    overloads: [
      {
        params: ["STRING json", "STRING path"],
        returns: "STRING",
        impl: (s: string, p: string) => {
          const r = parse(s);
          return r.ok ? text(follow(r.v, p)) : null;
        },
      },
    ],
  }),
  scalar({
    name: "JSON_ARRAY_LENGTH",
    category: CAT,
    description: "The length of a JSON array; NULL when not an array.",
    overloads: [
      {
        params: ["STRING json"],
        returns: "INTEGER",
        impl: (s: string) => {
          const r = parse(s);
          return r.ok && Array.isArray(r.v) ? r.v.length : null;
        },
      },
    ],
  }),
  scalar({
    name: "JSON_ARRAY_CONTAINS",
    category: CAT,
    description: "Whether a JSON array contains a primitive value.",
    overloads: [
      {
        params: ["STRING json", "ANY val"],
        returns: "BOOLEAN",
        nulls: "call",
        impl: (s: string | null, v: unknown) => {
          if (s === null) return false;
          const r = parse(s);
          return r.ok && Array.isArray(r.v) ? r.v.some((x) => x === v || (x === null && v === null)) : false;
        },
      },
    ],
  }),
  scalar({
    name: "JSON_KEYS",
    category: CAT,
    description: "The keys of a JSON object; NULL when not an object.",
    overloads: [
      {
        params: ["STRING json"],
        returns: "ARRAY<STRING>",
        impl: (s: string) => {
          const r = parse(s);
          const o = r.ok ? asObject(r.v) : undefined;
          return o ? Object.keys(o) : null;
        },
      },
    ],
  }),
  scalar({
    name: "JSON_ITEMS",
    category: CAT,
    description: "The elements of a JSON array, each as JSON text.",
    overloads: [
      {
        params: ["STRING json"],
        returns: "ARRAY<STRING>",
        impl: (s: string) => {
          const r = parse(s);
          return r.ok && Array.isArray(r.v) ? r.v.map((x) => JSON.stringify(x)) : null;
        },
      },
    ],
  }),
  scalar({
    name: "JSON_RECORDS",
    category: CAT,
    description: "The entries of a JSON object, values as JSON text.",
    overloads: [
      {
        params: ["STRING json"],
        returns: "MAP<STRING, STRING>",
        impl: (s: string) => {
          const r = parse(s);
          const o = r.ok ? asObject(r.v) : undefined;
          return o ? new Map(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)])) : null;
        },
      },
    ],
  }),
  scalar({
    name: "IS_JSON_STRING",
    category: CAT,
    description: "Whether the text is valid JSON.",
    overloads: [
      {
        params: ["STRING text"],
        returns: "BOOLEAN",
        nulls: "call",
        impl: (s: string | null) => s !== null && parse(s).ok,
      },
    ],
  }),
  scalar({
    name: "JSON_CONCAT",
    category: CAT,
    description: "Merges JSON objects (later keys win) or concatenates JSON arrays; NULL when mixed or invalid.",
    overloads: [
      {
        params: ["STRING json..."],
        returns: "STRING",
        impl: (...xs: string[]) => {
          const vs = xs.map(parse);
          if (vs.some((r) => !r.ok)) return null;
          const vals = vs.map((r) => (r as { v: unknown }).v);
          if (vals.every((v) => v !== null && typeof v === "object" && !Array.isArray(v)))
            return JSON.stringify(Object.assign({}, ...(vals as object[])));
          return JSON.stringify(vals.flatMap((v) => (Array.isArray(v) ? v : [v])));
        },
      },
    ],
  }),
  scalar({
    name: "TO_JSON_STRING",
    category: CAT,
    description: "Any value as JSON text.",
    overloads: [
      {
        params: ["ANY val"],
        returns: "STRING",
        nulls: "call",
        make: (r) => toJson(r.argTypes[0]!),
      },
    ],
  }),
];
