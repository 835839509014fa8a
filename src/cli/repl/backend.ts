/**
 * What the REPL talks to: an engine in this process (`local.ts`, on the embedded log or Kafka) or a
 * running `esql serve` (`remote.ts`, ksqlDB's REST API). The session (`session.ts`) parses what the user
 * typed, handles the client commands itself (RUN SCRIPT) and hands each statement to a backend.
 */
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import type { Print } from "../../ast/nodes.ts";
import type { ResultColumn } from "./render.ts";

/** What one statement produced, for the session to show. */
export type Output =
  | { readonly kind: "message"; readonly text: string }
  /** Free text (plans, descriptions). */
  | { readonly kind: "text"; readonly text: string }
  | {
      readonly kind: "table";
      readonly columns: readonly ResultColumn[];
      readonly rows: readonly (readonly unknown[])[];
      readonly empty?: string;
    }
  /** Diagnostics with spans in the text the statement was given in. */
  | { readonly kind: "diagnostics"; readonly diagnostics: readonly Diagnostic[] }
  /** An error without a position (e.g. the server could not be reached). */
  | { readonly kind: "failure"; readonly message: string };

/** A running SELECT: its columns and rows (all of a pull query's, or a push query's as they come). */
export interface RunningQuery {
  readonly columns: readonly ResultColumn[];
  /** A pull query: every row is there; a push query: rows arrive until LIMIT or `close()`. */
  readonly pull: boolean;
  readonly rows: AsyncIterator<unknown[]>;
  /** Stops the query and frees it; safe to call more than once. */
  close(): Promise<void>;
}

/** Names the completer offers besides keywords. */
export interface CompletionNames {
  readonly sources: readonly string[];
  /** Column names per source. */
  readonly columns: ReadonlyMap<string, readonly string[]>;
  readonly functions: readonly string[];
  readonly topics: readonly string[];
}

export interface ReplBackend {
  /** Shown in the banner: where statements run. */
  readonly description: string;
  /** Variables for `${name}` substitution while the session parses input. */
  readonly variables: ReadonlyMap<string, string>;
  /**
   * Runs one statement that is not a SELECT, PRINT or RUN SCRIPT. `text` is the input with every other
   * statement blanked out, so positions in diagnostics are positions in the input.
   */
  execute(text: string): Promise<Output[]>;
  /** Starts a SELECT (pull or push); `text` as for `execute`. */
  query(
    text: string,
  ): Promise<{ readonly ok: true; readonly query: RunningQuery } | { readonly ok: false; readonly outputs: Output[] }>;
  /** PRINT: the topic's records as lines, until LIMIT or `signal` aborts. */
  print(statement: Print, signal: AbortSignal): Promise<AsyncIterable<string> | Output>;
  /** Names for Tab completion (refreshed after each statement). */
  names(): Promise<CompletionNames>;
  close(): Promise<void>;
}

/** What the REPL shows after a write: its position token (`SET 'esql.consistency.token'` to read after it). */
export function positionMessage(token: string): string {
  return `Position: ${token}`;
}
