/** String and BYTES functions. NULL in, NULL out unless stated. Positions are 1-based, as in ksqlDB. */
import { createHash } from "node:crypto";
import { scalar } from "./define.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "STRING";
type Bytes = Uint8Array;

/** ksqlDB's start index for a 1-based position: 0 is the start, negative counts from the end. */
function startIndex(pos: number, len: number): number {
  return pos > 0 ? Math.min(pos - 1, len) : pos < 0 ? Math.max(len + pos, 0) : 0;
}

const SUBSTRING = scalar({
  name: "SUBSTRING",
  category: CAT,
  description:
    "The part of a string or bytes from `pos` (1-based; negative counts from the end), optionally `len` long.",
  overloads: [
    {
      params: ["STRING str", "INTEGER pos"],
      returns: "STRING",
      impl: (s: string, p: number) => s.slice(startIndex(p, s.length)),
    },
    {
      params: ["STRING str", "INTEGER pos", "INTEGER len"],
      returns: "STRING",
      impl: (s: string, p: number, l: number) => {
        const st = startIndex(p, s.length);
        return s.slice(st, Math.max(st, Math.min(st + l, s.length)));
      },
    },
    {
      params: ["BYTES str", "INTEGER pos"],
      returns: "BYTES",
      impl: (s: Bytes, p: number) => s.slice(startIndex(p, s.length)),
    },
    {
      params: ["BYTES str", "INTEGER pos", "INTEGER len"],
      returns: "BYTES",
      impl: (s: Bytes, p: number, l: number) => {
        const st = startIndex(p, s.length);
        return s.slice(st, Math.max(st, Math.min(st + l, s.length)));
      },
    },
  ],
});

function concatBytes(parts: Bytes[]): Bytes {
  return Buffer.concat(parts);
}

const CONCAT = scalar({
  name: "CONCAT",
  category: CAT,
  description: "Joins the strings (or bytes); NULL arguments are skipped.",
  overloads: [
    {
      params: ["STRING s..."],
      returns: "STRING",
      nulls: "call",
      impl: (...xs: (string | null)[]) => xs.filter((x) => x !== null).join(""),
    },
    {
      params: ["BYTES b..."],
      returns: "BYTES",
      nulls: "call",
      impl: (...xs: (Bytes | null)[]) => concatBytes(xs.filter((x): x is Bytes => x !== null)),
    },
  ],
});

const CONCAT_WS = scalar({
  name: "CONCAT_WS",
  category: CAT,
  description: "Joins the non-NULL values with a separator; NULL when the separator is NULL.",
  overloads: [
    {
      params: ["STRING sep", "STRING s..."],
      returns: "STRING",
      nulls: "call",
      impl: (sep: string | null, ...xs: (string | null)[]) =>
        sep === null ? null : xs.filter((x) => x !== null).join(sep),
    },
    {
      params: ["BYTES sep", "BYTES b..."],
      returns: "BYTES",
      nulls: "call",
      impl: (sep: Bytes | null, ...xs: (Bytes | null)[]) => {
        if (sep === null) return null;
        const parts: Bytes[] = [];
        for (const x of xs) {
          if (x === null) continue;
          if (parts.length) parts.push(sep);
          parts.push(x);
        }
        return concatBytes(parts);
      },
    },
  ],
});

const simple = (name: string, description: string, f: (s: string) => unknown, returns = "STRING"): ScalarFunction =>
  scalar({
    name,
    category: CAT,
    description,
    overloads: [{ params: ["STRING str"], returns, impl: f }],
  });

const LEN = scalar({
  name: "LEN",
  category: CAT,
  description: "The number of characters of a string, or bytes of BYTES.",
  overloads: [
    {
      params: ["STRING str"],
      returns: "INTEGER",
      impl: (s: string) => s.length,
    },
    { params: ["BYTES b"], returns: "INTEGER", impl: (b: Bytes) => b.length },
  ],
});

function pad(name: "LPAD" | "RPAD"): ScalarFunction {
  const left = name === "LPAD";
  const padStr = (s: string, len: number, p: string): string | null => {
    if (len < 0 || p === "") return null;
    if (s.length >= len) return s.slice(0, len);
    return left ? s.padStart(len, p) : s.padEnd(len, p);
  };
  const padBytes = (s: Bytes, len: number, p: Bytes): Bytes | null => {
    if (len < 0 || p.length === 0) return null;
    if (s.length >= len) return s.slice(0, len);
    const fill = new Uint8Array(len - s.length);
    for (let i = 0; i < fill.length; i++) fill[i] = p[i % p.length]!;
    return left ? concatBytes([fill, s]) : concatBytes([s, fill]);
  };
  return scalar({
    name,
    category: CAT,
    description: `Pads on the ${left ? "left" : "right"} to \`len\` with \`padding\` repeated (truncates when longer).`,
    overloads: [
      {
        params: ["STRING input", "INTEGER len", "STRING padding"],
        returns: "STRING",
        impl: padStr,
      },
      {
        params: ["BYTES input", "INTEGER len", "BYTES padding"],
        returns: "BYTES",
        impl: padBytes,
      },
    ],
  });
}

const INSTR = scalar({
  name: "INSTR",
  category: CAT,
  description:
    "The 1-based position of the `occurrence`-th match of `sub` searching from `pos` (negative: backwards from the end); 0 when absent.",
  overloads: [
    {
      params: ["STRING str", "STRING sub"],
      returns: "INTEGER",
      impl: (s: string, t: string) => instr(s, t, 1, 1),
    },
    {
      params: ["STRING str", "STRING sub", "INTEGER pos"],
      returns: "INTEGER",
      impl: (s: string, t: string, p: number) => instr(s, t, p, 1),
    },
    {
      params: ["STRING str", "STRING sub", "INTEGER pos", "INTEGER occurrence"],
      returns: "INTEGER",
      impl: instr,
    },
  ],
});

function instr(s: string, t: string, pos: number, occ: number): number {
  if (occ <= 0 || pos === 0) return 0;
  let i: number;
  if (pos > 0) {
    i = pos - 2;
    for (let n = 0; n < occ; n++) {
      i = s.indexOf(t, i + 1);
      if (i < 0) return 0;
    }
  } else {
    i = s.length + pos + 1;
    for (let n = 0; n < occ; n++) {
      i = i - 1 < 0 ? -1 : s.lastIndexOf(t, i - 1);
      if (i < 0) return 0;
    }
  }
  return i + 1;
}

/** Splits around regex matches keeping empty parts (captured groups are not spliced in, unlike String.split). */
function regexSplit(s: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of s.matchAll(re)) {
    if (m[0] === "") continue;
    out.push(s.slice(last, m.index));
    last = m.index! + m[0].length;
  }
  out.push(s.slice(last));
  return out;
}

function javaRegex(pattern: string, flags = ""): RegExp {
  // Java and JavaScript regexes agree on the common syntax; possessive quantifiers and \A \Z do not exist here.
  return new RegExp(pattern, flags);
}

const REPLACE = scalar({
  name: "REPLACE",
  category: CAT,
  description: "Replaces every occurrence of `old` by `new`.",
  overloads: [
    {
      params: ["STRING str", "STRING old", "STRING new"],
      returns: "STRING",
      impl: (s: string, a: string, b: string) => s.split(a).join(b),
    },
  ],
});

const REGEXP_REPLACE = scalar({
  name: "REGEXP_REPLACE",
  category: CAT,
  description: "Replaces every match of the regular expression by the replacement (`$1` refers to groups).",
  overloads: [
    {
      params: ["STRING str", "STRING regex", "STRING replacement"],
      returns: "STRING",
      impl: (s: string, r: string, b: string) => s.replace(javaRegex(r, "g"), b),
    },
  ],
});

const REGEXP_EXTRACT = scalar({
  name: "REGEXP_EXTRACT",
  category: CAT,
  description: "The first match of the regular expression (or its `group`); NULL when none.",
  overloads: [
    {
      params: ["STRING regex", "STRING str"],
      returns: "STRING",
      impl: (r: string, s: string) => javaRegex(r).exec(s)?.[0] ?? null,
    },
    {
      params: ["STRING regex", "STRING str", "INTEGER group"],
      returns: "STRING",
      impl: (r: string, s: string, g: number) => javaRegex(r).exec(s)?.[g] ?? null,
    },
  ],
});

const REGEXP_EXTRACT_ALL = scalar({
  name: "REGEXP_EXTRACT_ALL",
  category: CAT,
  description: "Every match of the regular expression (or its `group`).",
  overloads: [
    {
      params: ["STRING regex", "STRING str"],
      returns: "ARRAY<STRING>",
      impl: (r: string, s: string) => [...s.matchAll(javaRegex(r, "g"))].map((m) => m[0]),
    },
    {
      params: ["STRING regex", "STRING str", "INTEGER group"],
      returns: "ARRAY<STRING>",
      impl: (r: string, s: string, g: number) => [...s.matchAll(javaRegex(r, "g"))].map((m) => m[g] ?? null),
    },
  ],
});

const REGEXP_SPLIT_TO_ARRAY = scalar({
  name: "REGEXP_SPLIT_TO_ARRAY",
  category: CAT,
  description: "Splits a string around the matches of the regular expression.",
  overloads: [
    {
      params: ["STRING str", "STRING regex"],
      returns: "ARRAY<STRING>",
      impl: (s: string, r: string) => regexSplit(s, javaRegex(r, "g")),
    },
  ],
});

const SPLIT = scalar({
  name: "SPLIT",
  category: CAT,
  description: "Splits a string (or bytes) around a delimiter; an empty delimiter splits into characters.",
  overloads: [
    {
      params: ["STRING str", "STRING delimiter"],
      returns: "ARRAY<STRING>",
      impl: (s: string, d: string) => (d === "" ? (s === "" ? [""] : [...s]) : s.split(d)),
    },
    {
      params: ["BYTES b", "BYTES delimiter"],
      returns: "ARRAY<BYTES>",
      impl: (b: Bytes, d: Bytes) => {
        const buf = Buffer.from(b);
        if (d.length === 0) return buf.length === 0 ? [buf] : [...buf].map((x) => Uint8Array.of(x));
        const out: Bytes[] = [];
        let start = 0;
        for (let i = buf.indexOf(d, 0); i >= 0; i = buf.indexOf(d, start)) {
          out.push(buf.subarray(start, i));
          start = i + d.length;
        }
        out.push(buf.subarray(start));
        return out;
      },
    },
  ],
});

const SPLIT_TO_MAP = scalar({
  name: "SPLIT_TO_MAP",
  category: CAT,
  description: "Splits `k1=v1,k2=v2` style text into a map (entry and key-value delimiters given); later keys win.",
  overloads: [
    {
      params: ["STRING input", "STRING entryDelimiter", "STRING kvDelimiter"],
      returns: "MAP<STRING, STRING>",
      impl: (s: string, ed: string, kd: string) => {
        if (ed === "" || kd === "" || ed === kd) return null;
        const m = new Map<string, string>();
        for (const e of s.split(ed)) {
          if (e === "") continue;
          // As Java's split: the text between the first and second delimiter is the value.
          const parts = e.split(kd);
          if (parts.length < 2) continue;
          m.set(parts[0]!, parts[1]!);
        }
        return m;
      },
    },
  ],
});

const TRIM = simple("TRIM", "Removes leading and trailing whitespace.", (s) =>
  s.replace(/^[\s\u0000-\u0020]+|[\s\u0000-\u0020]+$/g, ""),
);
const LTRIM = simple("LTRIM", "Removes leading whitespace.", (s) => s.replace(/^[\s\u0000-\u0020]+/, ""));
const RTRIM = simple("RTRIM", "Removes trailing whitespace.", (s) => s.replace(/[\s\u0000-\u0020]+$/, ""));
const UCASE = simple("UCASE", "Upper case.", (s) => s.toUpperCase());
const LCASE = simple("LCASE", "Lower case.", (s) => s.toLowerCase());
const INITCAP = simple(
  "INITCAP",
  "Capitalises the first letter of each space-separated word, lower-cases the rest.",
  (s) => s.replace(/[^\s]+/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()),
);
const MD5 = simple("MD5", "The hex MD5 digest of the UTF-8 string.", (s) =>
  createHash("md5").update(s, "utf8").digest("hex"),
);
const UUID = scalar({
  name: "UUID",
  category: CAT,
  description: "A random UUID.",
  overloads: [{ params: [], returns: "STRING", impl: () => crypto.randomUUID() }],
});

const CHR = scalar({
  name: "CHR",
  category: CAT,
  description: "The character of a Unicode code point, given as an INTEGER or as text (`75`, `\\u004b`).",
  overloads: [
    {
      params: ["INTEGER code"],
      returns: "STRING",
      impl: (c: number) => codePoint(c),
    },
    {
      params: ["STRING code"],
      returns: "STRING",
      impl: (s: string) => {
        // One code point written as UTF-16 escapes: `\u004b`, or a surrogate pair `\ud820\udeb8`.
        if (!/^(\\u[0-9a-fA-F]{4}){1,2}$/.test(s)) return null;
        const units = s
          .split("\\u")
          .slice(1)
          .map((h) => parseInt(h, 16));
        const text = String.fromCharCode(...units);
        return [...text].length === 1 ? text : null;
      },
    },
  ],
});

function codePoint(c: number): string | null {
  return c >= 0 && c <= 0x10ffff ? String.fromCodePoint(c) : null;
}

const ENCODINGS = ["hex", "utf8", "ascii", "base64"] as const;

/** Text → bytes in an encoding; undefined for an unknown encoding. */
function toBytesIn(s: string, enc: string): Bytes | undefined {
  switch (enc.toLowerCase()) {
    case "hex": {
      // ksqlDB accepts plain hex (even length), `0x` + hex (odd length padded with a leading 0) and X'hex'.
      let h: string | undefined;
      if (/^0x[0-9a-fA-F]*$/.test(s)) h = s.length % 2 ? `0${s.slice(2)}` : s.slice(2);
      else if (/^[xX]'([0-9a-fA-F]{2})*'$/.test(s)) h = s.slice(2, -1);
      else if (/^([0-9a-fA-F]{2})*$/.test(s)) h = s;
      if (h === undefined) throw new Error(`'${s}' is not valid hex`);
      return Buffer.from(h, "hex");
    }
    case "utf8":
      return Buffer.from(s, "utf8");
    case "ascii":
      // Java replaces characters outside ASCII by '?'.
      return Buffer.from([...s].map((c) => (c.charCodeAt(0) < 128 && c.length === 1 ? c.charCodeAt(0) : 63)));
    case "base64":
      return Buffer.from(s, "base64");
    default:
      return undefined;
  }
}

function fromBytesIn(b: Bytes, enc: string): string | undefined {
  const buf = Buffer.from(b);
  switch (enc.toLowerCase()) {
    case "hex":
      return buf.toString("hex");
    case "utf8":
      return buf.toString("utf8");
    case "ascii":
      // Java decodes bytes above 127 as U+FFFD.
      return [...buf].map((x) => (x < 128 ? String.fromCharCode(x) : "\ufffd")).join("");
    case "base64":
      return buf.toString("base64");
    default:
      return undefined;
  }
}

const ENCODE = scalar({
  name: "ENCODE",
  category: CAT,
  description: `Re-encodes text from one encoding to another (${ENCODINGS.join(", ")}).`,
  overloads: [
    {
      params: ["STRING str", "STRING inputEncoding", "STRING outputEncoding"],
      returns: "STRING",
      impl: (s: string, i: string, o: string) => {
        const b = toBytesIn(s, i);
        if (!b) throw new Error(`Unsupported input encoding: ${i}`);
        const r = fromBytesIn(b, o);
        if (r === undefined) throw new Error(`Unsupported output encoding: ${o}`);
        return r;
      },
    },
  ],
});

const TO_BYTES = scalar({
  name: "TO_BYTES",
  category: CAT,
  description: `Converts text to BYTES using an encoding (${ENCODINGS.join(", ")}).`,
  overloads: [
    {
      params: ["STRING str", "STRING encoding"],
      returns: "BYTES",
      impl: (s: string, e: string) => {
        const b = toBytesIn(s, e);
        if (!b) throw new Error(`Unsupported encoding: ${e}`);
        return b;
      },
    },
  ],
});

const FROM_BYTES = scalar({
  name: "FROM_BYTES",
  category: CAT,
  description: `Converts BYTES to text using an encoding (${ENCODINGS.join(", ")}).`,
  overloads: [
    {
      params: ["BYTES b", "STRING encoding"],
      returns: "STRING",
      impl: (b: Bytes, e: string) => {
        // ksqlDB's FROM_BYTES writes hex in upper case (ENCODE's hex output is lower case).
        const s = e.toLowerCase() === "hex" ? Buffer.from(b).toString("hex").toUpperCase() : fromBytesIn(b, e);
        if (s === undefined) throw new Error(`Unsupported encoding: ${e}`);
        return s;
      },
    },
  ],
});

const MASK_CHARS =
  (upper: string | null, lower: string | null, digit: string | null, other: string | null) =>
  (c: string): string =>
    /[A-Z]/.test(c) ? (upper ?? c) : /[a-z]/.test(c) ? (lower ?? c) : /[0-9]/.test(c) ? (digit ?? c) : (other ?? c);

const MASK = scalar({
  name: "MASK",
  category: CAT,
  description: "Masks letters (X/x), digits (n) and others (-), or with the given replacement characters.",
  overloads: [
    {
      params: ["STRING str"],
      returns: "STRING",
      impl: (s: string) => [...s].map(MASK_CHARS("X", "x", "n", "-")).join(""),
    },
    {
      params: ["STRING str", "STRING upper", "STRING lower", "STRING digit", "STRING other"],
      returns: "STRING",
      nulls: "call",
      impl: (s: string | null, u: string | null, l: string | null, d: string | null, o: string | null) =>
        s === null ? null : [...s].map(MASK_CHARS(u, l, d, o)).join(""),
    },
  ],
});

export const stringFunctions: readonly ScalarFunction[] = [
  SUBSTRING,
  CONCAT,
  CONCAT_WS,
  LEN,
  pad("LPAD"),
  pad("RPAD"),
  INSTR,
  REPLACE,
  REGEXP_REPLACE,
  REGEXP_EXTRACT,
  REGEXP_EXTRACT_ALL,
  REGEXP_SPLIT_TO_ARRAY,
  SPLIT,
  SPLIT_TO_MAP,
  TRIM,
  LTRIM,
  RTRIM,
  UCASE,
  LCASE,
  INITCAP,
  MD5,
  UUID,
  CHR,
  ENCODE,
  TO_BYTES,
  FROM_BYTES,
  MASK,
];
