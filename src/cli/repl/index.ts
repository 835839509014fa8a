/**
 * `esql repl`: an interactive session on an engine in this process (embedded log in `--data`, or Kafka
 * with `--brokers`), or on a running `esql serve` (`--server URL`). See `session.ts` for the keys.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { LogError } from "../../../runtime/log/types.ts";
import type { FunctionRegistry } from "../../functions/types.ts";
import { EXIT, useColor } from "../output.ts";
import type { ReplBackend } from "./backend.ts";
import { LocalBackend } from "./local.ts";
import { RemoteBackend } from "./remote.ts";
import { runSession } from "./session.ts";

export interface ReplOptions {
  readonly data: string;
  readonly brokers?: readonly string[];
  readonly server?: string;
  /** The built-in and user functions (default: the built-ins). */
  readonly functions?: FunctionRegistry;
  /** Write each input line after its prompt even without a terminal (transcripts). */
  readonly echo?: boolean;
}

/** The history file: `ESQL_HISTORY`, else `~/.esql_history`. */
export function historyFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.ESQL_HISTORY && env.ESQL_HISTORY !== "" ? env.ESQL_HISTORY : join(homedir(), ".esql_history");
}

export async function runRepl(options: ReplOptions): Promise<number> {
  const err = process.stderr;
  let backend: ReplBackend;
  try {
    if (options.server !== undefined) {
      backend = await RemoteBackend.connect(options.server);
    } else if (options.brokers) {
      const { KafkaEventLog } = await import("../../../runtime/log/kafka.ts");
      const log = new KafkaEventLog({ brokers: [...options.brokers] });
      backend = await LocalBackend.open(
        resolve(options.data),
        `Kafka at ${options.brokers.join(",")}, state in ${options.data}`,
        log,
        options.functions,
      );
    } else {
      backend = await LocalBackend.open(
        resolve(options.data),
        `embedded log in ${options.data}`,
        undefined,
        options.functions,
      );
    }
  } catch (e) {
    if (e instanceof LogError && e.code === "LOCKED") {
      err.write(
        `esql: the data folder ${options.data} is in use by another esql process (stop it, or use --data elsewhere, or --server to talk to a running esql serve)\n`,
      );
      return EXIT.failed;
    }
    err.write(`esql: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  if (backend instanceof LocalBackend) for (const w of backend.engine.warnings) err.write(`esql: warning: ${w}\n`);
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  try {
    await runSession(backend, {
      input: process.stdin,
      output: process.stdout,
      terminal,
      color: useColor(process.stdout),
      historyFile: historyFile(),
      echo: options.echo === true,
    });
  } finally {
    await backend.close();
  }
  return EXIT.ok;
}
