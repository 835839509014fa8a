/**
 * Reading request bodies: content type, size and time limits, JSON nesting, and the body's shape per endpoint
 * (zod schemas), each refused with its status and a message that says what was wrong.
 */
import { z } from "zod";
import { ERR, errorBody, HttpError, type Req } from "./protocol.ts";

/** Deepest nesting of arrays and objects accepted in a request body (ksqlDB's bodies need 3). */
export const MAX_JSON_DEPTH = 32;

/** Whether `text` nests arrays/objects deeper than `limit` (a linear scan that skips strings). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Content types a JSON endpoint accepts: none at all (ksqlDB's Java client sends none), `application/json`,
 * any `application/...+json` (`application/vnd.ksql.v1+json`, what ksqlDB's CLI and docs send),
 * `application/vnd.ksqlapi.delimited.v1`, and `text/plain` (what `fetch` and many HTTP libraries send for a
 * string body). ksqlDB itself reads any body as JSON; a form, multipart, XML or binary body here is a client
 * mistake, answered 415.
 */
function jsonContentType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === "") return true;
  const type = header.split(";", 1)[0]!.trim().toLowerCase();
  return (
    type === "application/json" ||
    /^application\/[a-z0-9.+-]*\+json$/.test(type) ||
    type === "application/vnd.ksqlapi.delimited.v1" ||
    type === "text/plain"
  );
}

/** Property values as ksqlDB's clients send them: strings, numbers, booleans (null: not set). */
const Properties = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullish();
/** The request bodies, per endpoint; fields not listed are ignored (as ksqlDB does). */
export const Bodies = {
  ksql: z.object({
    ksql: z.string(),
    streamsProperties: Properties,
    sessionVariables: Properties,
    requestProperties: Properties,
    commandSequenceNumber: z.number().nullish(),
  }),
  query: z.object({
    ksql: z.string(),
    streamsProperties: Properties,
    sessionVariables: Properties,
    requestProperties: Properties,
  }),
  queryStream: z.object({
    sql: z.string(),
    properties: Properties,
    sessionVariables: Properties,
    requestProperties: Properties,
  }),
  closeQuery: z.object({ queryId: z.string() }),
  /** The first line of `POST /inserts-stream`. */
  insertsTarget: z.object({ target: z.string(), properties: Properties, sessionVariables: Properties }),
  terminate: z.object({ deleteTopicList: z.array(z.string()).nullish() }),
} as const;

export interface BodyLimits {
  /** Largest accepted body, in bytes. */
  readonly maxBody: number;
  /** Time (ms) a request has to arrive whole. */
  readonly requestTimeout: number;
  /** Longest SQL text, in characters. */
  readonly maxSql: number;
}

/** Reads bodies within `limits`. */
export function bodyReader({ maxBody, requestTimeout, maxSql }: BodyLimits) {
  /** The body's bytes, within the size limit and the request deadline. */
  const readBytes = async (req: Req): Promise<Buffer> => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBody)
      throw new HttpError(
        413,
        errorBody(
          "generic_error",
          ERR.tooLarge,
          `request body of ${declared} bytes exceeds the limit of ${maxBody} bytes`,
        ),
      );
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              408,
              errorBody("generic_error", ERR.timeout, `the request body did not arrive within ${requestTimeout} ms`),
            ),
          ),
        requestTimeout,
      );
    });
    const read = (async () => {
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > maxBody)
          throw new HttpError(
            413,
            errorBody("generic_error", ERR.tooLarge, `request body exceeds the limit of ${maxBody} bytes`),
          );
        chunks.push(c);
      }
    })();
    try {
      await Promise.race([read, deadline]);
    } finally {
      clearTimeout(timer);
      read.catch(() => {});
    }
    return Buffer.concat(chunks);
  };

  /** Reads a JSON body and checks it against `schema`: 415, 413, 408 or 400 with the reason. */
  const readBody = async <T>(req: Req, schema: z.ZodType<T>): Promise<T> => {
    const type = req.headers["content-type"];
    if (!jsonContentType(type))
      throw new HttpError(
        415,
        errorBody(
          "generic_error",
          ERR.mediaType,
          `unsupported content type '${String(type).slice(0, 100)}': send application/json (or application/vnd.ksql.v1+json)`,
        ),
      );
    const text = (await readBytes(req)).toString("utf8");
    if (nestedDeeperThan(text, MAX_JSON_DEPTH))
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `request body nests deeper than ${MAX_JSON_DEPTH} levels`),
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `request body is not valid JSON: ${(e as Error).message}`),
      );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new HttpError(400, errorBody("generic_error", ERR.badRequest, "request body must be a JSON object"));
    }
    const checked = schema.safeParse(parsed);
    if (!checked.success) {
      const reasons = checked.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length > 0 ? `"${i.path.join(".")}"` : "body"}: ${i.message}`);
      throw new HttpError(
        400,
        errorBody("generic_error", ERR.badRequest, `invalid request body: ${reasons.join("; ")}`),
      );
    }
    return checked.data;
  };

  /** Refuses SQL text over the length limit before it reaches the compiler. */
  const checkSqlLength = (sql: string) => {
    if (sql.length > maxSql)
      throw new HttpError(
        400,
        errorBody(
          "generic_error",
          ERR.badRequest,
          `the SQL text is ${sql.length} characters long, more than the limit of ${maxSql}`,
        ),
      );
  };

  return { readBytes, readBody, checkSqlLength };
}

export type BodyReader = ReturnType<typeof bodyReader>;
