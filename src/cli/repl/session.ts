/**
 * The REPL session: reads lines (node:readline), gathers them into statements ended by `;`, runs them on
 * a backend and shows the results. The session survives any input: bad SQL shows a diagnostic with a
 * caret, a failing backend shows its message, and the prompt comes back.
 *
 * Keys on a terminal: Tab completes; up/down recall history (kept in a file across sessions); Ctrl-C
 * cancels the running push query or PRINT, or the statement being typed (at an empty prompt it says how
 * to leave); Ctrl-D leaves. With input from a pipe the same statements run without prompts; `echo`
 * writes each input line after the prompt, which makes a transcript.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import pc from "picocolors";
import { lexText } from "../../../grammar/tokens.ts";
import type { Print } from "../../ast/nodes.ts";
import { renderDiagnostic, type SourceFile } from "../../diagnostics/render.ts";
import { parseScript } from "../../parse.ts";
import type { CompletionNames, Output, ReplBackend } from "./backend.ts";
import { completer } from "./complete.ts";
import { renderTable, StreamingTable } from "./render.ts";

export interface SessionOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream & { columns?: number };
  /** Line editing, completion, history and prompts (a TTY). */
  readonly terminal: boolean;
  readonly color: boolean;
  /** Where history is kept (terminal only); undefined: no history file. */
  readonly historyFile?: string;
  /** Write each input line after its prompt (for transcripts from piped input). */
  readonly echo?: boolean;
}

const HISTORY_SIZE = 1000;

/** Runs the session until Ctrl-D, `exit`, or the end of the input. Closes nothing: the caller owns the backend. */
export async function runSession(backend: ReplBackend, options: SessionOptions): Promise<void> {
  const out = options.output;
  const c = pc.createColors(options.color);
  const write = (text: string) => void out.write(text.endsWith("\n") ? text : `${text}\n`);
  const PROMPT = options.terminal || options.echo ? `${c.bold(c.cyan("esql"))}> ` : "";
  const CONTINUE = options.terminal || options.echo ? `${c.dim("   ")}> ` : "";

  let names: CompletionNames = { sources: [], columns: new Map(), functions: [], topics: [] };
  const refreshNames = () =>
    backend.names().then(
      (n) => void (names = n),
      () => undefined,
    );
  await refreshNames();

  /** Lines of the statement being typed. */
  let pending = "";
  /** Cancels what runs now (a push query, a PRINT). */
  let running: AbortController | undefined;
  let closing = false;

  const history = options.terminal && options.historyFile ? loadHistory(options.historyFile) : [];
  const rl: Interface = createInterface({
    input: options.input,
    output: options.terminal ? out : undefined,
    terminal: options.terminal,
    prompt: PROMPT,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string) => completer(pending + line, names, line),
    tabSize: 4,
  } as Parameters<typeof createInterface>[0]);
  if (options.terminal && options.historyFile) {
    const file = options.historyFile;
    rl.on("history", (h: string[]) => saveHistory(file, h));
  }

  const prompt = () => {
    if (closing) return;
    if (options.terminal) {
      rl.setPrompt(pending === "" ? PROMPT : CONTINUE);
      rl.prompt();
    }
  };

  const show = (outputs: readonly Output[], file: SourceFile) => {
    for (const o of outputs) {
      switch (o.kind) {
        case "message":
          write(` ${o.text}`);
          break;
        case "text":
          write(o.text);
          break;
        case "table":
          write(o.rows.length === 0 && o.empty ? c.dim(o.empty) : renderTable(o.columns, o.rows, options.color));
          break;
        case "diagnostics":
          for (const d of o.diagnostics) write(renderDiagnostic(d, file, { color: options.color }));
          break;
        case "failure":
          write(`${c.red(c.bold("error"))}: ${o.message}`);
          break;
      }
    }
  };

  /** Runs until `signal` aborts; returns whether it was cancelled. */
  const cancellable = async (f: (signal: AbortSignal) => Promise<void>): Promise<boolean> => {
    const ac = new AbortController();
    running = ac;
    try {
      await f(ac.signal);
    } finally {
      running = undefined;
    }
    return ac.signal.aborted;
  };

  const runQuery = async (text: string, file: SourceFile) => {
    const r = await backend.query(text);
    if (!r.ok) return show(r.outputs, file);
    const q = r.query;
    if (q.pull) {
      const rows: unknown[][] = [];
      try {
        for (let n = await q.rows.next(); !n.done; n = await q.rows.next()) rows.push(n.value);
      } finally {
        await q.close();
      }
      write(renderTable(q.columns, rows, options.color));
      write(c.dim(`(${rows.length} row${rows.length === 1 ? "" : "s"})`));
      return;
    }
    const table = new StreamingTable(q.columns, options.color, out.columns ?? 120);
    write(table.header());
    let count = 0;
    let limitReached = false;
    const cancelled = await cancellable(async (signal) => {
      const aborted = new Promise<"aborted">((r) =>
        signal.addEventListener("abort", () => r("aborted"), { once: true }),
      );
      try {
        for (;;) {
          const n = await Promise.race([q.rows.next(), aborted]);
          if (n === "aborted") break;
          if (n.done) {
            limitReached = true;
            break;
          }
          count++;
          write(table.row(n.value));
        }
      } finally {
        await q.close();
      }
    });
    write(table.footer());
    write(
      c.dim(
        cancelled
          ? `Query terminated (${count} row${count === 1 ? "" : "s"})`
          : limitReached
            ? `Limit Reached (${count} row${count === 1 ? "" : "s"})`
            : "",
      ),
    );
  };

  const runPrint = async (p: Print, file: SourceFile) => {
    let lines: AsyncIterable<string> | Output | undefined;
    let count = 0;
    const cancelled = await cancellable(async (signal) => {
      lines = await backend.print(p, signal);
      if (!(Symbol.asyncIterator in lines)) return;
      for await (const line of lines) {
        write(line);
        count++;
        if (signal.aborted) break;
      }
    });
    if (lines && !(Symbol.asyncIterator in lines)) return show([lines], file);
    write(
      c.dim(
        cancelled
          ? `Topic printing ceased (${count} record${count === 1 ? "" : "s"})`
          : `${count} record${count === 1 ? "" : "s"}`,
      ),
    );
  };

  /** Runs every statement of `text` in order; RUN SCRIPT runs a file's statements the same way. */
  const runText = async (file: SourceFile, depth = 0): Promise<void> => {
    const parsed = parseScript(file.text, { variables: backend.variables });
    const syntax = parsed.diagnostics.filter((d) => d.severity === "error");
    if (syntax.length > 0) return show([{ kind: "diagnostics", diagnostics: syntax }], file);
    for (const p of parsed.statements) {
      const st = p.statement;
      const only = maskOthers(file.text, st.span.start, st.span.end);
      try {
        switch (st.kind) {
          case "RunScript": {
            if (depth >= 8) {
              show([{ kind: "failure", message: `RUN SCRIPT nested more than 8 deep: stopped at '${st.path}'` }], file);
              break;
            }
            const path = resolve(file.path === INPUT ? process.cwd() : dirname(file.path), st.path);
            let text: string;
            try {
              text = readFileSync(path, "utf8");
            } catch (e) {
              show(
                [
                  {
                    kind: "failure",
                    message: `cannot read ${st.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
                  },
                ],
                file,
              );
              break;
            }
            await runText({ path: st.path, text }, depth + 1);
            break;
          }
          case "Print":
            await runPrint(st, file);
            break;
          case "QueryStatement":
            await runQuery(only, file);
            break;
          default:
            show(await backend.execute(only), file);
        }
      } catch (e) {
        // A backend failing (server gone, broker down) ends the statement, not the session.
        show([{ kind: "failure", message: (e as Error).message }], file);
      }
      await refreshNames();
    }
  };

  const handleLine = async (line: string) => {
    if (options.echo) write(`${pending === "" ? PROMPT : CONTINUE}${line}`);
    if (pending === "") {
      const word = line.trim().replace(/;$/, "").trim().toLowerCase();
      if (word === "") return;
      if (word === "exit" || word === "quit") {
        rl.close();
        return;
      }
      if (word === "help") {
        write(HELP);
        return;
      }
    }
    pending += `${line}\n`;
    if (!complete(pending)) return;
    const text = pending;
    pending = "";
    await runText({ path: INPUT, text });
  };

  // Lines are handled one at a time, in order; lines typed while a statement runs wait their turn.
  const queue: string[] = [];
  let pump: Promise<void> | undefined;
  const drainQueue = async () => {
    while (queue.length > 0) await handleLine(queue.shift()!);
    pump = undefined;
    prompt();
  };
  rl.on("line", (line) => {
    queue.push(line);
    pump ??= drainQueue();
  });

  const interrupt = () => {
    if (running) {
      running.abort();
      return;
    }
    if (pending !== "" || rl.line !== "") {
      pending = "";
      queue.length = 0;
      // Drop the line being edited too.
      (rl as unknown as { line: string; cursor: number }).line = "";
      out.write("^C\n");
      prompt();
      return;
    }
    if (!options.terminal) {
      rl.close();
      return;
    }
    out.write(`\n${c.dim("(Ctrl-C cancels a running query; press Ctrl-D or type exit to leave)")}\n`);
    prompt();
  };
  rl.on("SIGINT", interrupt);
  // Without a terminal, Ctrl-C arrives as a signal rather than a key.
  const onSignal = () => interrupt();
  if (!options.terminal) process.on("SIGINT", onSignal);

  if (options.terminal)
    write(
      `${c.bold("esql")} ${c.dim(`— ${backend.description}. Statements end with ';'. help; for help, Ctrl-D to leave.`)}`,
    );
  prompt();
  await new Promise<void>((resolveClosed) => {
    rl.on("close", () => {
      closing = true;
      running?.abort();
      resolveClosed();
    });
  });
  // Piped input ends before its statements are done: finish them, and a last one without ';'.
  if (pump) await pump;
  if (pending.trim() !== "" && !options.terminal) await runText({ path: INPUT, text: pending });
  if (options.terminal) out.write("\n");
  process.off("SIGINT", onSignal);
}

/** The path diagnostics show for typed input. */
const INPUT = "input";

const HELP = `Statements end with ';' and may span lines. Besides ksqlDB's statements:
  SHOW STREAMS | TABLES | QUERIES | TOPICS | FUNCTIONS | PROPERTIES | VARIABLES | TYPES;
  DESCRIBE [EXTENDED] name;   DESCRIBE FUNCTION name;   EXPLAIN statement | query_id;
  PRINT 'topic' [FROM BEGINNING] [LIMIT n];   RUN SCRIPT 'file.esql';
  DEFINE name = 'value';   SET 'auto.offset.reset' = 'earliest';
Push queries (EMIT CHANGES) stream rows until LIMIT or Ctrl-C. Tab completes, up-arrow recalls history.
exit (or Ctrl-D) leaves.`;

/** Whether the text typed so far ends a statement: its last token is `;` (not one inside a string or comment). */
export function complete(text: string): boolean {
  const tokens = lexText(text).tokens;
  return tokens.length > 0 && tokens[tokens.length - 1]!.image === ";";
}

/** `text` with everything outside [start, end) and the `;` after it blanked (line breaks kept), so positions stay. */
function maskOthers(text: string, start: number, end: number): string {
  const semi = /^\s*;/.exec(text.slice(end));
  const stop = end + (semi ? semi[0].length : 0);
  const blank = (s: string) => s.replace(/[^\n]/g, " ");
  return blank(text.slice(0, start)) + text.slice(start, stop) + blank(text.slice(stop));
}

/** History lines, newest first (readline's order); the file keeps them oldest first, one per line. */
function loadHistory(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .reverse()
      .slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

function saveHistory(file: string, newestFirst: readonly string[]): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, [...newestFirst].reverse().join("\n") + "\n", { mode: 0o600 });
  } catch {
    // History is a convenience: a read-only home must not end the session.
  }
}
