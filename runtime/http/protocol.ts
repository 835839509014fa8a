/**
 * What every route shares: the request/response shape of both protocols, ksqlDB's error bodies and codes,
 * and writing a JSON answer.
 */
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";

/** A request or response of either protocol (Node's HTTP/2 compatibility API mirrors node:http). */
export type Req = IncomingMessage | Http2ServerRequest;
/** What the handlers use of a response: the part `ServerResponse` and `Http2ServerResponse` share. */
export interface Res {
  readonly headersSent: boolean;
  /** HTTP/2 only: the stream the response is written to. */
  readonly stream?: { readonly destroyed: boolean; readonly closed: boolean };
  /** HTTP/1 only. */
  readonly destroyed?: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  setHeader(name: string, value: string): unknown;
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  end(chunk?: string): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

/** Whether the client is gone (reset stream, closed connection): nothing more can be written. */
export function gone(res: Res): boolean {
  return res.stream ? res.stream.destroyed || res.stream.closed : res.destroyed === true;
}

/**
 * Writes pieces of a streamed answer (a push query's rows, insert acks) each as its own HTTP/1.1 chunk or HTTP/2
 * DATA frame, as ksqlDB does: clients parse one row per chunk. A piece is written once the previous one has
 * reached the socket (Node's HTTP/2 session packs whatever is queued for a stream into one DATA frame), which
 * also makes a slow client slow the writer down instead of filling memory.
 */
export class FramedWriter {
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly res: Res) {}

  /** Queues `text`; resolves when it is written (or the client is gone). */
  write(text: string): Promise<void> {
    this.last = this.last.then(() => this.writeNow(text));
    return this.last;
  }

  /** Resolves when everything queued is written. */
  idle(): Promise<void> {
    return this.last;
  }

  private writeNow(text: string): Promise<void> {
    const res = this.res;
    if (gone(res)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        res.off("close", done);
        resolve();
      };
      res.once("close", done);
      res.write(text, done);
    });
  }
}

/** ksqlDB's error codes (HTTP status × 100 + detail). */
export const ERR = {
  badRequest: 40000,
  badStatement: 40001,
  /** A SELECT or PRINT sent to `/ksql`. */
  queryEndpoint: 40002,
  unauthorized: 40100,
  forbidden: 40300,
  tooMany: 42900,
  notFound: 40400,
  timeout: 40800,
  tooLarge: 41300,
  mediaType: 41500,
  server: 50000,
} as const;

/** An answer other than 200, thrown by a route and written by the server. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

export function errorBody(
  type: string,
  code: number,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { "@type": type, error_code: code, message, ...extra };
}

/** A diagnostic as a statement error body, with ksqlDB's "Line: l, Col: c: " prefix. */
export function statementError(d: Diagnostic, statementText: string): Record<string, unknown> {
  return errorBody("statement_error", ERR.badStatement, `Line: ${d.span.line}, Col: ${d.span.col}: ${d.message}`, {
    statementText,
    position: { line: d.span.line, col: d.span.col, endLine: d.span.endLine, endCol: d.span.endCol },
    code: d.code,
    entities: [],
  });
}

/** Writes `body` as a JSON answer (or just ends a response that has begun). */
export function send(res: Res, status: number, body: unknown): void {
  if (gone(res)) return;
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
