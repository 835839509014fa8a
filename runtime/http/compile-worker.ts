/**
 * The worker thread of {@link CompilePool} (`compile-pool.ts`): parses the SQL text of one request at a time
 * and answers with the parse, all structured-cloneable: the diagnostics, and each statement's text and, when
 * asked, its syntax tree (which the engine then analyzes without parsing the text again), else its kind and span.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { parseScript } from "../../src/parse.ts";
import { WORKER_READY, type ParseJob, type ParseReply } from "./compile-pool.ts";

/** The worker thread's nice value (0 is the default, 19 the lowest priority). */
const WORKER_NICE = 19;

// Parsing yields to the server's own thread: on a busy machine a megabyte of SQL must not take the event loop's
// share of the cores. Linux gives each thread its own nice value (`/proc/thread-self` names this one);
// elsewhere the worker keeps the process's priority.
try {
  setPriority(Number(readlinkSync("/proc/thread-self").split("/").pop()), WORKER_NICE);
} catch {
  // not Linux, or not allowed: the default priority
}

parentPort!.on("message", (job: ParseJob) => {
  let reply: ParseReply;
  try {
    const r = parseScript(job.text, { variables: new Map(job.variables) });
    const statements = job.trees
      ? r.statements
      : r.statements.map((p) => ({
          text: p.text,
          statement: {
            kind: p.statement.kind,
            span: p.statement.span,
            // what the server reads of a TERMINATE before the engine analyzes it
            ...(p.statement.kind === "Terminate" && p.statement.queryId !== undefined
              ? { queryId: p.statement.queryId }
              : {}),
          } as (typeof p)["statement"],
        }));
    reply = { id: job.id, statements, diagnostics: r.diagnostics };
  } catch (e) {
    // parseScript reports its statements' failures itself: this is the last net (a bug), never a lost reply.
    reply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});

// The parser is loaded (the imports above): from here on a job's time limit counts.
parentPort!.postMessage(WORKER_READY);
