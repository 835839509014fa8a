/**
 * Date and time functions, with a converter for Java DateTimeFormatter / SimpleDateFormat patterns.
 * Supported pattern letters: y u M L d D H h k K m s S a E e X x Z z V and quoted literals ('T', '' for a quote).
 * Time zones are IANA names or offsets (`UTC`, `+05:30`), resolved with Intl.
 */
import { type Long, SqlRuntimeError } from "../types/values.ts";
import { scalar } from "./define.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "DATE / TIME";
const DAY = 86_400_000;

type Token = { readonly lit: string } | { readonly letter: string; readonly n: number };

const tokenCache = new Map<string, Token[]>();

/** Splits a Java pattern into letter runs and literals. */
export function tokenizePattern(p: string): Token[] {
  const cached = tokenCache.get(p);
  if (cached) return cached;
  const out: Token[] = [];
  for (let i = 0; i < p.length;) {
    const c = p[i]!;
    if (c === "'") {
      if (p[i + 1] === "'") {
        out.push({ lit: "'" });
        i += 2;
        continue;
      }
      const end = p.indexOf("'", i + 1);
      if (end < 0) throw new SqlRuntimeError(`Unterminated quote in pattern ${p}`);
      out.push({ lit: p.slice(i + 1, end) });
      i = end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (p[j] === c) j++;
      out.push({ letter: c, n: j - i });
      i = j;
    } else {
      out.push({ lit: c });
      i++;
    }
  }
  tokenCache.set(p, out);
  return out;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/**
 * Abbreviations Java resolves to a region (so daylight saving applies: `PST` in May is UTC-7), for the
 * common North American and European ones; Intl only knows IANA names.
 */
const ZONE_ABBREVIATIONS: Record<string, string> = {
  PST: "America/Los_Angeles",
  PDT: "America/Los_Angeles",
  MST: "America/Denver",
  MDT: "America/Denver",
  CST: "America/Chicago",
  CDT: "America/Chicago",
  EST: "America/New_York",
  EDT: "America/New_York",
  CET: "Europe/Paris",
  CEST: "Europe/Paris",
  BST: "Europe/London",
};

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC in minutes at the instant `ms`; throws for an unknown zone. */
export function zoneOffsetMinutes(zoneOrAbbreviation: string, ms: number): number {
  const zone = ZONE_ABBREVIATIONS[zoneOrAbbreviation.toUpperCase()] ?? zoneOrAbbreviation;
  const fixed = /^(?:UTC|GMT|Z)?([+-])(\d{1,2}):?(\d{2})?$/.exec(zone);
  if (fixed) return (fixed[1] === "-" ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  if (zone === "UTC" || zone === "GMT" || zone === "Z") return 0;
  let f = offsetFormatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        timeZoneName: "longOffset",
      });
    } catch {
      throw new SqlRuntimeError(`Unknown time zone: ${zone}`);
    }
    offsetFormatters.set(zone, f);
  }
  const name = f.formatToParts(ms).find((x) => x.type === "timeZoneName")?.value ?? "GMT";
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

const nameFormatters = new Map<string, Intl.DateTimeFormat | null>();

/**
 * English locales whose short zone names Java prints too: en-US knows only the North American abbreviations
 * (elsewhere it writes `GMT+1`), the others add their region's (`BST`, `CEST`, `AEST`, `IST`, ...).
 */
const SHORT_NAME_LOCALES = ["en-US", "en-GB", "en-AU", "en-IN", "en-ZA", "en-SG", "en-HK", "en-CA", "en-NZ", "en-IE"];

function nameFormatter(locale: string, zone: string, style: "short" | "long"): Intl.DateTimeFormat | null {
  const key = `${locale}|${zone}|${style}`;
  let f = nameFormatters.get(key);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: style });
    } catch {
      f = null;
    }
    nameFormatters.set(key, f);
  }
  return f;
}

/** The zone's name at an instant as Java's `z` prints it (`PDT`, `BST`, `UTC`, or the offset when no abbreviation exists). */
function zoneName(zone: string, ms: number, style: "short" | "long"): string {
  const locales = style === "short" ? SHORT_NAME_LOCALES : SHORT_NAME_LOCALES.slice(0, 1);
  let first: string | undefined;
  for (const locale of locales) {
    const f = nameFormatter(locale, zone, style);
    if (!f) return zone;
    const name = f.formatToParts(ms).find((x) => x.type === "timeZoneName")?.value ?? zone;
    if (!/^GMT[+-]/.test(name)) return name;
    first ??= name;
  }
  return first ?? zone;
}

const pad = (n: number, w: number): string => (n < 0 ? "-" + String(-n).padStart(w, "0") : String(n).padStart(w, "0"));

function offsetText(min: number, letter: string, n: number): string {
  if (min === 0 && letter === "X") return "Z";
  const sign = min < 0 ? "-" : "+";
  const a = Math.abs(min);
  const hh = pad(Math.floor(a / 60), 2);
  const mm = pad(a % 60, 2);
  if (letter === "Z") return n === 4 ? `GMT${sign}${hh}:${mm}` : `${sign}${hh}${mm}`;
  if (n === 1) return `${sign}${hh}${a % 60 ? mm : ""}`;
  return n === 2 || n === 4 ? `${sign}${hh}${mm}` : `${sign}${hh}:${mm}`;
}

/** Formats epoch milliseconds with a Java pattern in a zone. */
export function formatWithPattern(ms: number, pattern: string, zone = "UTC"): string {
  const off = zoneOffsetMinutes(zone, ms);
  const d = new Date(ms + off * 60_000);
  const y = d.getUTCFullYear();
  let out = "";
  for (const t of tokenizePattern(pattern)) {
    if ("lit" in t) {
      out += t.lit;
      continue;
    }
    const { letter, n } = t;
    switch (letter) {
      case "y":
      case "u":
        out += n === 2 ? pad(y % 100, 2) : pad(y, n);
        break;
      case "M":
      case "L":
        out +=
          n >= 4
            ? MONTHS[d.getUTCMonth()]!
            : n === 3
              ? MONTHS[d.getUTCMonth()]!.slice(0, 3)
              : pad(d.getUTCMonth() + 1, n);
        break;
      case "d":
        out += pad(d.getUTCDate(), n);
        break;
      case "D":
        out += pad(Math.floor((Date.UTC(y, d.getUTCMonth(), d.getUTCDate()) - Date.UTC(y, 0, 1)) / DAY) + 1, n);
        break;
      case "H":
        out += pad(d.getUTCHours(), n);
        break;
      case "k":
        out += pad(d.getUTCHours() || 24, n);
        break;
      case "h":
        out += pad(d.getUTCHours() % 12 || 12, n);
        break;
      case "K":
        out += pad(d.getUTCHours() % 12, n);
        break;
      case "m":
        out += pad(d.getUTCMinutes(), n);
        break;
      case "s":
        out += pad(d.getUTCSeconds(), n);
        break;
      case "S":
        out += pad(d.getUTCMilliseconds(), 3).padEnd(n, "0").slice(0, n);
        break;
      case "a":
        out += d.getUTCHours() < 12 ? "AM" : "PM";
        break;
      case "E":
      case "e":
        out += n >= 4 ? DAYS[d.getUTCDay()]! : DAYS[d.getUTCDay()]!.slice(0, 3);
        break;
      case "X":
      case "x":
      case "Z":
        out += offsetText(off, letter, n);
        break;
      case "z":
        out += zoneName(zone, ms, n >= 4 ? "long" : "short");
        break;
      case "V":
        out += zone;
        break;
      default:
        throw new SqlRuntimeError(`Unsupported pattern letter '${letter}' in ${pattern}`);
    }
  }
  return out;
}

const parserCache = new Map<string, { re: RegExp; fields: { letter: string; n: number }[] }>();

/**
 * Parses text with a Java pattern into epoch milliseconds; fields absent from the pattern default to
 * 1970-01-01 00:00:00.000; the zone applies unless the text carries an offset.
 */
export function parseWithPattern(text: string, pattern: string, zone = "UTC"): number {
  let p = parserCache.get(pattern);
  if (!p) {
    const fields: { letter: string; n: number }[] = [];
    let src = "^";
    for (const t of tokenizePattern(pattern)) {
      if ("lit" in t) {
        src += t.lit.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        continue;
      }
      fields.push(t);
      switch (t.letter) {
        case "M":
        case "L":
          src += t.n >= 3 ? "([A-Za-z]+)" : t.n === 2 ? "(\\d{2})" : "(\\d{1,2})";
          break;
        case "E":
        case "e":
        case "a":
          src += "([A-Za-z]+)";
          break;
        case "z":
        case "V":
          src += "([A-Za-z][A-Za-z_/+\\-0-9:]*)";
          break;
        case "X":
        case "x":
        case "Z":
          src += "(Z|[+-]\\d{2}(?::?\\d{2})?|GMT[+-]\\d{2}:\\d{2})";
          break;
        case "y":
        case "u":
          src += t.n === 2 ? "(\\d{2})" : "([+-]?\\d{4,9})";
          break;
        case "S":
          src += `(\\d{1,${Math.max(t.n, 1)}})`;
          break;
        default:
          src += t.n === 1 ? "(\\d{1,3})" : `(\\d{${t.n}})`;
      }
    }
    // No end anchor: like ksqlDB's parsers, text after the pattern is ignored.
    p = { re: new RegExp(src), fields };
    parserCache.set(pattern, p);
  }
  const m = p.re.exec(text);
  if (!m) throw new SqlRuntimeError(`Text '${text}' could not be parsed with pattern '${pattern}'`);
  let year = 1970,
    month = 1,
    day = 1,
    hour = 0,
    minute = 0,
    second = 0,
    milli = 0;
  let pm: boolean | undefined;
  let offset: number | undefined;
  let tz = zone;
  p.fields.forEach((f, i) => {
    const v = m[i + 1]!;
    switch (f.letter) {
      case "y":
      case "u":
        year = f.n === 2 ? 2000 + Number(v) : Number(v);
        break;
      case "M":
      case "L": {
        if (/^\d+$/.test(v)) month = Number(v);
        else {
          const idx = MONTHS.findIndex((x) => x.toLowerCase().startsWith(v.toLowerCase().slice(0, 3)));
          if (idx < 0) throw new SqlRuntimeError(`Unknown month '${v}'`);
          month = idx + 1;
        }
        break;
      }
      case "d":
        day = Number(v);
        break;
      case "D": {
        const dt = new Date(Date.UTC(year, 0, Number(v)));
        month = dt.getUTCMonth() + 1;
        day = dt.getUTCDate();
        break;
      }
      case "H":
      case "k":
        hour = Number(v) % 24;
        break;
      case "h":
      case "K":
        hour = Number(v) % 12;
        break;
      case "m":
        minute = Number(v);
        break;
      case "s":
        second = Number(v);
        break;
      case "S":
        milli = Number(v.padEnd(3, "0").slice(0, 3));
        break;
      case "a":
        pm = v.toUpperCase() === "PM";
        break;
      case "X":
      case "x":
      case "Z":
        offset = v === "Z" ? 0 : zoneOffsetMinutes(v.replace("GMT", ""), 0);
        break;
      case "z":
      case "V":
        tz = v;
        break;
    }
  });
  if (pm !== undefined) hour = (hour % 12) + (pm ? 12 : 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new SqlRuntimeError(`Text '${text}' has a field out of range for pattern '${pattern}'`);
  }
  const local = Date.UTC(year, month - 1, day, hour, minute, second, milli);
  if (new Date(local).getUTCDate() !== day) throw new SqlRuntimeError(`Text '${text}' is not a valid date`);
  if (offset !== undefined) return local - offset * 60_000;
  // Local time to UTC: the offset at the guessed instant, then once more for DST edges.
  const o1 = zoneOffsetMinutes(tz, local);
  const o2 = zoneOffsetMinutes(tz, local - o1 * 60_000);
  return local - o2 * 60_000;
}

const UNITS: Record<string, number> = {
  MILLISECOND: 1,
  MILLISECONDS: 1,
  SECOND: 1000,
  SECONDS: 1000,
  MINUTE: 60_000,
  MINUTES: 60_000,
  HOUR: 3_600_000,
  HOURS: 3_600_000,
  DAY: DAY,
  DAYS: DAY,
};

function unitMs(unit: string): number {
  const u = UNITS[unit.toUpperCase()];
  if (u === undefined)
    throw new SqlRuntimeError(`Unknown time unit ${unit}; use MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS`);
  return u;
}

/** BIGINT epoch milliseconds as a TIMESTAMP value: beyond ±2^53 (a bigint) they are no instant. */
function epochMs(t: Long): number {
  if (typeof t !== "number") throw new SqlRuntimeError(`${t} is out of the range of epoch milliseconds`);
  return t;
}

const f = (name: string, description: string, overloads: Parameters<typeof scalar>[0]["overloads"]): ScalarFunction =>
  scalar({ name, category: CAT, description, overloads });

export const datetimeFunctions: readonly ScalarFunction[] = [
  f("FORMAT_TIMESTAMP", "Formats a TIMESTAMP with a Java DateTimeFormatter pattern, in UTC or the given zone.", [
    {
      params: ["TIMESTAMP ts", "STRING pattern"],
      returns: "STRING",
      impl: (t: number, p: string) => formatWithPattern(t, p),
    },
    {
      params: ["TIMESTAMP ts", "STRING pattern", "STRING zone"],
      returns: "STRING",
      impl: formatWithPattern,
    },
  ]),
  f("PARSE_TIMESTAMP", "Parses text into a TIMESTAMP with a Java pattern, in UTC or the given zone.", [
    {
      params: ["STRING text", "STRING pattern"],
      returns: "TIMESTAMP",
      impl: (s: string, p: string) => parseWithPattern(s, p),
    },
    {
      params: ["STRING text", "STRING pattern", "STRING zone"],
      returns: "TIMESTAMP",
      impl: parseWithPattern,
    },
  ]),
  f("TIMESTAMPTOSTRING", "Formats epoch milliseconds with a Java pattern, in UTC or the given zone.", [
    {
      params: ["BIGINT epochMs", "STRING pattern"],
      returns: "STRING",
      impl: (t: Long, p: string) => formatWithPattern(epochMs(t), p),
    },
    {
      params: ["BIGINT epochMs", "STRING pattern", "STRING zone"],
      returns: "STRING",
      impl: (t: Long, p: string, z: string) => formatWithPattern(epochMs(t), p, z),
    },
  ]),
  f("STRINGTOTIMESTAMP", "Parses text into epoch milliseconds with a Java pattern, in UTC or the given zone.", [
    {
      params: ["STRING text", "STRING pattern"],
      returns: "BIGINT",
      impl: (s: string, p: string) => parseWithPattern(s, p),
    },
    {
      params: ["STRING text", "STRING pattern", "STRING zone"],
      returns: "BIGINT",
      impl: parseWithPattern,
    },
  ]),
  f("FORMAT_DATE", "Formats a DATE with a Java pattern.", [
    {
      params: ["DATE date", "STRING pattern"],
      returns: "STRING",
      impl: (d: number, p: string) => formatWithPattern(d * DAY, p),
    },
  ]),
  f("PARSE_DATE", "Parses text into a DATE with a Java pattern.", [
    {
      params: ["STRING text", "STRING pattern"],
      returns: "DATE",
      impl: (s: string, p: string) => Math.floor(parseWithPattern(s, p) / DAY),
    },
  ]),
  f("DATETOSTRING", "Formats days since the epoch with a Java pattern.", [
    {
      params: ["INTEGER days", "STRING pattern"],
      returns: "STRING",
      impl: (d: number, p: string) => formatWithPattern(d * DAY, p),
    },
  ]),
  f("STRINGTODATE", "Parses text into days since the epoch with a Java pattern.", [
    {
      params: ["STRING text", "STRING pattern"],
      returns: "INTEGER",
      impl: (s: string, p: string) => Math.floor(parseWithPattern(s, p) / DAY),
    },
  ]),
  f("FORMAT_TIME", "Formats a TIME with a Java pattern.", [
    {
      params: ["TIME time", "STRING pattern"],
      returns: "STRING",
      impl: (t: number, p: string) => formatWithPattern(t, p),
    },
  ]),
  f("PARSE_TIME", "Parses text into a TIME with a Java pattern.", [
    {
      params: ["STRING text", "STRING pattern"],
      returns: "TIME",
      impl: (s: string, p: string) => ((parseWithPattern(s, p) % DAY) + DAY) % DAY,
    },
  ]),
  f("UNIX_TIMESTAMP", "Epoch milliseconds of a TIMESTAMP, or of now.", [
    { params: [], returns: "BIGINT", impl: () => Date.now() },
    { params: ["TIMESTAMP ts"], returns: "BIGINT", impl: (t: number) => t },
  ]),
  f("UNIX_DATE", "Days since the epoch of a DATE, or of today.", [
    {
      params: [],
      returns: "INTEGER",
      impl: () => Math.floor(Date.now() / DAY),
    },
    { params: ["DATE date"], returns: "INTEGER", impl: (d: number) => d },
  ]),
  f("FROM_UNIXTIME", "The TIMESTAMP of epoch milliseconds.", [
    {
      params: ["BIGINT epochMs"],
      returns: "TIMESTAMP",
      impl: epochMs,
    },
  ]),
  f("FROM_DAYS", "The DATE of days since the epoch.", [
    { params: ["INTEGER days"], returns: "DATE", impl: (d: number) => d },
  ]),
  f("CONVERT_TZ", "Shifts a TIMESTAMP from one zone's wall clock to another's.", [
    {
      params: ["TIMESTAMP ts", "STRING fromZone", "STRING toZone"],
      returns: "TIMESTAMP",
      impl: (t: number, a: string, b: string) =>
        t - zoneOffsetMinutes(a, t) * 60_000 + zoneOffsetMinutes(b, t) * 60_000,
    },
  ]),
  f("TIMESTAMPADD", "Adds `n` units (MILLISECONDS ... DAYS) to a TIMESTAMP.", [
    {
      params: ["STRING unit", "INTEGER n", "TIMESTAMP ts"],
      returns: "TIMESTAMP",
      impl: (u: string, n: number, t: number) => t + n * unitMs(u),
    },
  ]),
  f("TIMESTAMPSUB", "Subtracts `n` units from a TIMESTAMP.", [
    {
      params: ["STRING unit", "INTEGER n", "TIMESTAMP ts"],
      returns: "TIMESTAMP",
      impl: (u: string, n: number, t: number) => t - n * unitMs(u),
    },
  ]),
  f("DATEADD", "Adds `n` units (DAYS or more) to a DATE.", [
    {
      params: ["STRING unit", "INTEGER n", "DATE date"],
      returns: "DATE",
      impl: (u: string, n: number, d: number) => d + Math.trunc((n * unitMs(u)) / DAY),
    },
  ]),
  f("DATESUB", "Subtracts `n` units (DAYS or more) from a DATE.", [
    {
      params: ["STRING unit", "INTEGER n", "DATE date"],
      returns: "DATE",
      impl: (u: string, n: number, d: number) => d - Math.trunc((n * unitMs(u)) / DAY),
    },
  ]),
  f("TIMEADD", "Adds `n` units to a TIME, wrapping at midnight.", [
    {
      params: ["STRING unit", "INTEGER n", "TIME time"],
      returns: "TIME",
      impl: (u: string, n: number, t: number) => (((t + n * unitMs(u)) % DAY) + DAY) % DAY,
    },
  ]),
  f("TIMESUB", "Subtracts `n` units from a TIME, wrapping at midnight.", [
    {
      params: ["STRING unit", "INTEGER n", "TIME time"],
      returns: "TIME",
      impl: (u: string, n: number, t: number) => (((t - n * unitMs(u)) % DAY) + DAY) % DAY,
    },
  ]),
];
