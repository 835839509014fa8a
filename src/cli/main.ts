/**
 * The `esql` command line. `main` parses arguments and returns the exit code (see {@link EXIT});
 * it never calls `process.exit`, so tests and the REPL can run commands in process.
 */
import { Command, CommanderError, Option } from "commander";
import { createRequire } from "node:module";
import { runCheck, type CheckFormat } from "./check.ts";
import { runExplain } from "./explain.ts";
import { UsageError } from "./files.ts";
import { EXIT } from "./output.ts";

const require = createRequire(import.meta.url);
const { version } = require("../../package.json") as { version: string };

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("esql")
    .description("Event-sourcing projections on Kafka, written in the ksqlDB dialect of SQL.")
    .version(version, "-v, --version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError("(run with --help for usage)");

  program
    .command("check")
    .description("Parse and analyze .esql files and print every problem with its position.")
    .argument("<paths...>", ".esql files or folders (searched recursively)")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json", "github"]).default("text"),
    )
    .addHelpText(
      "after",
      `
Files are checked in path order against one catalog, so later files may use sources defined earlier.

Examples:
  esql check examples/                 check every .esql below examples/
  esql check --format github src/sql   annotate a GitHub pull request
  esql check --format json a.esql      machine-readable diagnostics

Exit codes: 0 no errors, 1 errors found, 2 bad usage.`,
    )
    .action((paths: string[], opts: { format: CheckFormat }) => {
      code = runCheck(paths, opts.format);
    });

  program
    .command("explain")
    .description("Print the logical and physical plans of the statements in a file.")
    .argument("<file>", "an .esql file")
    .option("--verbose", "show the logical plan after each rewrite rule")
    .option("--json", "print the physical plans as JSON")
    .addHelpText(
      "after",
      `
Examples:
  esql explain examples/bank/bank.esql
  esql explain --verbose examples/orders/orders.esql

Exit codes: 0 ok, 1 the file has errors, 2 bad usage.`,
    )
    .action((file: string, opts: { verbose?: boolean; json?: boolean }) => {
      code = runExplain(file, { verbose: opts.verbose === true, json: opts.json === true });
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors with 1 from commander: ours is 2.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`esql: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  return code;
}
