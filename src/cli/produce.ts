/**
 * `esql produce <topic> [file|-]`: writes JSON lines into a topic, on Kafka (`--brokers`) or on the embedded
 * log of a data folder (`--data`), creating the topic when it is missing (`--partitions`, default 1).
 *
 * Line shapes (one JSON document per line; blank lines and lines starting with `//` are skipped):
 * - default: the line is the event's value, written as the line's own text (so numbers keep every digit);
 *   the key is `null` (round-robin over partitions) unless `--key FIELD` names a top-level field, whose
 *   value becomes the key: a string as its UTF-8 bytes (what a `STRING KEY` with the KAFKA key format
 *   reads), anything else as its JSON text; a missing or null field gives a null key.
 *   `--timestamp FIELD` takes the record time from a field (epoch ms, or ISO-8601 text); default: now.
 * - `--envelope`: the line is `{"key", "value", "timestamp"?, "headers"?}` (the shape `esql run --input`
 *   reads): `value` is written as JSON (`null`: a tombstone), `key` as above, `timestamp` epoch ms or
 *   ISO-8601 text, `headers` `[{"KEY": name, "VALUE": base64 | null}]`.
 *
 * Bad lines: by default the first line that is not valid JSON (or lacks what its shape needs) stops the
 * command with `file:line:col: reason`; every line before it has been written, none after. With
 * `--skip-bad` such lines are reported on stderr and skipped, and the exit code is still 0.
 *
 * Records are appended in batches of {@link BATCH} lines, each batch one `append` (atomic per partition).
 * Standard output gets the position token of what was written (read your writes: a pull query given it with
 * `esql.consistency.token` waits until its table has folded these records; `runtime/engine/consistency.ts`).
 * On Kafka, TLS, SASL and the client id come from the environment, as for every command (`./kafka.ts`).
 */
import { createReadStream, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { EventLog, LogHeader, ProduceRecord } from "../../runtime/log/types.ts";
import { LogError } from "../../runtime/log/types.ts";
import { parseJsonLossless, stringifyLossless } from "../../runtime/serde/json.ts";
import { appendedPositions, encodeToken, mergePositions, type Positions } from "../../runtime/engine/consistency.ts";
import { UsageError } from "./files.ts";
import { openKafkaLog } from "./kafka.ts";
import { EXIT } from "./output.ts";

export interface ProduceOptions {
  /** `-` or absent: standard input. */
  readonly file?: string;
  /** Kafka bootstrap addresses; absent: the embedded log in `data`. */
  readonly brokers?: readonly string[];
  /** Data folder of the embedded log (default `.esql`). */
  readonly data: string;
  /** Top-level field whose value is the key (default: null keys). Not with `envelope`. */
  readonly key?: string;
  /** Top-level field holding the record time (epoch ms or ISO-8601). Not with `envelope`. */
  readonly timestamp?: string;
  /** Lines are `{key, value, timestamp?, headers?}`. */
  readonly envelope?: boolean;
  /** Partitions of the topic when it is created (default 1). */
  readonly partitions?: number;
  /** Report bad lines and go on instead of stopping. */
  readonly skipBad?: boolean;
}

/** Lines per `append`. */
export const BATCH = 5000;

export async function runProduce(
  topic: string,
  options: ProduceOptions,
  input: NodeJS.ReadableStream = process.stdin,
  err: NodeJS.WritableStream = process.stderr,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  if (topic.trim() === "") throw new UsageError("produce: the topic name is empty");
  if (options.envelope && (options.key !== undefined || options.timestamp !== undefined)) {
    throw new UsageError("produce: --envelope lines carry their own key and timestamp: drop --key/--timestamp");
  }
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new UsageError(`--partitions must be a whole number >= 1, found ${String(options.partitions)}`);
  const fromStdin = options.file === undefined || options.file === "-";
  if (!fromStdin && !existsSync(options.file!)) throw new UsageError(`no such file: ${options.file}`);
  const label = fromStdin ? "<stdin>" : options.file!;

  // Outside the try: bad Kafka settings in the environment are a usage error.
  const kafka = await openKafkaLog(options.brokers ? { brokers: options.brokers } : {});
  let log: EventLog;
  let where: string;
  try {
    if (kafka && options.brokers) {
      log = kafka;
      where = `Kafka at ${options.brokers.join(",")}`;
    } else {
      log = await (await import("../../runtime/log/embedded.ts")).EmbeddedLog.open(join(resolve(options.data), "log"));
      where = `the embedded log in ${options.data}`;
    }
  } catch (e) {
    if (e instanceof LogError && e.code === "LOCKED") {
      err.write(
        `esql: the data folder ${options.data} is in use by another esql process (stop it, or INSERT through it)\n`,
      );
    } else err.write(`esql: cannot open ${options.data}: ${(e as Error).message}\n`);
    return EXIT.failed;
  }

  const toRecord = options.envelope ? envelopeRecord : plainRecord(options.key, options.timestamp);
  let written = 0;
  let skipped = 0;
  let lineNo = 0;
  try {
    const existing = await log.describeTopic(topic);
    if (!existing) await log.createTopic(topic, { partitions });
    else if (options.partitions !== undefined && existing.partitions !== partitions) {
      err.write(
        `esql: ${topic} already exists with ${existing.partitions} partition(s); --partitions ${partitions} ignored\n`,
      );
    }
    const stream = fromStdin ? input : createReadStream(options.file!);
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let batch: ProduceRecord[] = [];
    let positions: Positions = new Map();
    let failure: string | undefined;
    for await (const line of lines) {
      lineNo++;
      const t = line.trim();
      if (t === "" || t.startsWith("//")) continue;
      const r = toRecord(t);
      if (typeof r === "string" || "col" in r) {
        const msg =
          typeof r === "string"
            ? `${label}:${lineNo}: ${r}`
            : `${label}:${lineNo}:${r.col + (line.length - line.trimStart().length)}: ${r.message}`;
        if (options.skipBad) {
          err.write(`esql: ${msg} (skipped)\n`);
          skipped++;
          continue;
        }
        failure = msg;
        break;
      }
      batch.push(r);
      if (batch.length >= BATCH) {
        positions = mergePositions(positions, appendedPositions(topic, await log.append(topic, batch)));
        written += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) {
      positions = mergePositions(positions, appendedPositions(topic, await log.append(topic, batch)));
      written += batch.length;
    }
    if (failure !== undefined) {
      err.write(`esql: ${failure}\n`);
      err.write(
        `esql: stopped: ${written} record(s) before line ${lineNo} written to ${topic}, nothing after it (--skip-bad skips such lines)\n`,
      );
      return EXIT.failed;
    }
    err.write(
      `produced ${written} record(s) to ${topic} on ${where}${skipped > 0 ? `; skipped ${skipped} bad line(s)` : ""}\n`,
    );
    if (written > 0) out.write(`${encodeToken(positions)}\n`);
    return EXIT.ok;
  } catch (e) {
    err.write(`esql: produce to ${topic} on ${where} failed after ${written} record(s): ${(e as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await log.close();
  }
}

type LineResult = ProduceRecord | string | { col: number; message: string };

/**
 * `doc` as `JSON.parse` reads it; `exact`, when the line has a run of 16 digits (a number a double may round),
 * the same document with every number kept as its text, for the bytes of keys and envelope values.
 */
function parseLine(text: string): { doc: unknown; exact?: unknown } | { col: number; message: string } {
  try {
    const doc: unknown = JSON.parse(text);
    return /\d{16}/.test(text) ? { doc, exact: parseJsonLossless(text) } : { doc };
  } catch (e) {
    return { col: jsonErrorColumn(text), message: `invalid JSON: ${(e as Error).message}` };
  }
}

function plainRecord(keyField: string | undefined, tsField: string | undefined): (text: string) => LineResult {
  return (text) => {
    const p = parseLine(text);
    if (!("doc" in p)) return p;
    const doc = p.doc;
    const isObject = typeof doc === "object" && doc !== null && !Array.isArray(doc);
    if ((keyField !== undefined || tsField !== undefined) && !isObject)
      return `expected a JSON object (for --key/--timestamp), found ${describe(doc)}`;
    const obj = doc as Record<string, unknown>;
    let timestamp: number | undefined;
    if (tsField !== undefined) {
      const ts = toTimestamp(obj[tsField]);
      if (typeof ts === "string") return `field ${tsField}: ${ts}`;
      timestamp = ts;
    }
    return {
      key: keyField === undefined ? null : keyBytes(field(p.exact ?? doc, keyField)),
      value: Buffer.from(text, "utf8"),
      ...(timestamp === undefined ? {} : { timestamp }),
    };
  };
}

function envelopeRecord(text: string): LineResult {
  const p = parseLine(text);
  if (!("doc" in p)) return p;
  const doc = p.doc;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return `expected {"key", "value", "timestamp"?, "headers"?}, found ${describe(doc)}`;
  const o = doc as Record<string, unknown>;
  if (!("value" in o)) return `expected a "value" field (null for a tombstone)`;
  const unknown = Object.keys(o).filter((k) => !["key", "value", "timestamp", "headers"].includes(k));
  if (unknown.length > 0) return `unexpected field(s) ${unknown.join(", ")}: expected key, value, timestamp, headers`;
  let timestamp: number | undefined;
  if (o.timestamp !== undefined) {
    const ts = toTimestamp(o.timestamp);
    if (typeof ts === "string") return `timestamp: ${ts}`;
    timestamp = ts;
  }
  let headers: LogHeader[] | undefined;
  if (o.headers !== undefined) {
    if (!Array.isArray(o.headers))
      return `headers: expected [{"KEY": name, "VALUE": base64 | null}], found ${describe(o.headers)}`;
    headers = [];
    for (const h of o.headers as unknown[]) {
      const hh = h as { KEY?: unknown; VALUE?: unknown } | null;
      if (
        typeof hh !== "object" ||
        hh === null ||
        typeof hh.KEY !== "string" ||
        (hh.VALUE !== null && typeof hh.VALUE !== "string")
      ) {
        return `headers: expected {"KEY": name, "VALUE": base64 | null}, found ${JSON.stringify(h)}`;
      }
      headers.push({ key: hh.KEY, value: hh.VALUE === null ? null : Buffer.from(hh.VALUE, "base64") });
    }
  }
  const exact = p.exact as Record<string, unknown> | undefined;
  return {
    key: keyBytes(exact ? exact.key : o.key),
    value:
      o.value === null ? null : Buffer.from(exact ? stringifyLossless(exact.value) : JSON.stringify(o.value), "utf8"),
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(headers && headers.length > 0 ? { headers } : {}),
  };
}

/** A key value as bytes: strings as UTF-8, other values as JSON text (numbers exact), null/absent as a null key. */
function keyBytes(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.from(typeof v === "string" ? v : stringifyLossless(v), "utf8");
}

/** A field of a parsed line (objects from `parseJsonLossless` have no prototype). */
function field(doc: unknown, name: string): unknown {
  return (doc as Record<string, unknown>)[name];
}

/** Epoch milliseconds from a number or ISO-8601 text; a message when it is neither. */
function toTimestamp(v: unknown): number | string {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === "string") {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms) && ms >= 0) return ms;
  }
  return `expected epoch milliseconds or ISO-8601 text, found ${v === undefined ? "nothing" : JSON.stringify(v)}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/** Where `jsonErrorColumn`'s scan stopped (0-based). */
class JsonStop extends Error {
  constructor(readonly at: number) {
    super(`invalid JSON at ${at}`);
  }
}

/**
 * The 1-based column (in UTF-16 units) where `text` stops being valid JSON. `JSON.parse`'s messages give
 * a position only for some errors, so this walks the grammar itself; called only for lines that failed.
 */
export function jsonErrorColumn(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else {
      // Point at the first character that differs.
      let k = 0;
      while (k < word.length && text[i + k] === word[k]) k++;
      i += k;
      fail();
    }
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            fail();
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else {
          i++;
          fail();
        }
      } else i++;
    }
    fail();
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') string();
    else if (c === "t") literal("true");
    else if (c === "f") literal("false");
    else if (c === "n") literal("null");
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) number();
    else fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (e) {
    if (e instanceof JsonStop) return Math.min(e.at, text.length) + 1;
    throw e;
  }
  return text.length + 1;
}
