/**
 * The `esql` command line. `main` parses arguments and returns the exit code (see {@link EXIT});
 * it never calls `process.exit`, so tests and the REPL can run commands in process.
 */
import { Command, CommanderError, Option } from "commander";
import type { CheckFormat } from "./check.ts";
import { UsageError } from "./files.ts";
import { CLUSTER_FLAG_HELP, clusterFlags, clusterOptions } from "./kafka.ts";
import { EXIT } from "./output.ts";
import { ESQL_VERSION as version } from "../version.ts";

// Each command's module (and the compiler, the engine, kafkajs, LevelDB, the HTTP server behind them) is
// imported when that command runs, so `esql --version` and `esql check` load only what they use.

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("esql")
    .description("Event-sourcing projections on Kafka, written in the ksqlDB dialect of SQL.")
    .version(version, "-v, --version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError("(run with --help for usage)")
    .option(
      "--functions <path>",
      "user functions (a .ts/.js module or a folder of them; repeatable); default: the functions/ folder beside the .esql files",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .addHelpText(
      "after",
      `
Every command has --help with examples (esql help run, esql run --help).

Examples:
  esql check examples/
  esql run examples/bank/bank.esql --input transactions=examples/bank/transactions.jsonl
  esql repl --data .esql

Exit codes (every command): 0 success, 1 the input has errors, a test failed or the data folder /
server could not be opened, 2 bad usage (unknown option, missing file); esql plan also exits 2 when
applying would change something.

Environment: NO_COLOR turns colours off (they are on only on a terminal); ESQL_HISTORY is the REPL's
history file (default ~/.esql_history); ESQL_PROGRESS_INTERVAL_MS spaces progress log lines (default 5000);
KAFKA_BROKERS and KAFKA_* configure Kafka clients.`,
    );

  /** The user functions for `.esql` paths (`--functions`, else `functions/` beside them). */
  const withFunctions = async (paths: readonly string[]) => {
    const { functionsFor } = await import("./functions.ts");
    const functions = await functionsFor(paths, (program.opts() as { functions: string[] }).functions);
    return functions ? { functions } : {};
  };

  program
    .command("check")
    .description("Parse and analyze .esql files and print every problem with its position.")
    .argument("<paths...>", ".esql files or folders (searched recursively)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json", "github"]).default("text"))
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
    .action(async (paths: string[], opts: { format: CheckFormat }) => {
      const { runCheck } = await import("./check.ts");
      code = runCheck(paths, opts.format, process.stdout, await withFunctions(paths));
    });

  program
    .command("explain")
    .description("Print the topology each query of a file runs, and its logical plan.")
    .argument("<file>", "an .esql file")
    .option("--verbose", "show the logical plan after each rewrite rule")
    .option("--json", "print the plans as JSON (topology plans of persistent queries)")
    .addHelpText(
      "after",
      `
Examples:
  esql explain examples/bank/bank.esql
  esql explain --verbose examples/orders/orders.esql

Exit codes: 0 ok, 1 the file has errors, 2 bad usage.`,
    )
    .action(async (file: string, opts: { verbose?: boolean; json?: boolean }) => {
      const { runExplain } = await import("./explain.ts");
      code = runExplain(file, {
        verbose: opts.verbose === true,
        json: opts.json === true,
        ...(await withFunctions([file])),
      });
    });

  program
    .command("fmt")
    .description("Format .esql files (one canonical layout, the same as the Prettier plugin).")
    .argument("<paths...>", ".esql files or folders (searched recursively)")
    .option("--check", "list the files that are not formatted; exit 1 if there is one")
    .option("--write", "rewrite the files that are not formatted")
    .addHelpText(
      "after",
      `
Without --check or --write the formatted text is printed to stdout.

Examples:
  esql fmt examples/orders/orders.esql   print the formatted file
  esql fmt --check .                     CI: fail when a file is not formatted
  esql fmt --write src/sql               format in place

Exit codes: 0 ok, 1 unformatted files (--check) or syntax errors, 2 bad usage.`,
    )
    .action(async (paths: string[], opts: { check?: boolean; write?: boolean }) => {
      const { runFmt } = await import("./fmt.ts");
      code = await runFmt(paths, { check: opts.check === true, write: opts.write === true });
    });

  program
    .command("run")
    .description("Deploy .esql files on the embedded log, load input files, process them and print the tables.")
    .argument("[files...]", ".esql files or folders (searched recursively), deployed in path order")
    .option("--plan <file>", "deploy a plan file of esql compile instead of .esql files")
    .option("--data <dir>", "data folder for the embedded log and state stores", ".esql")
    .option(
      "--input <topic=file>",
      'load a JSON-lines file into a topic (repeatable); each line is {"key", "value", "timestamp"?, "headers"?}',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--follow", "keep running: load lines appended to the input files and new records until Ctrl-C")
    .option("--fresh", "delete the data folder first (deploy and load everything again)")
    .option("--json", "print the tables as JSON")
    .option(
      "--brokers <host:port,...>",
      "run on this Kafka cluster instead of the embedded log (state stays in --data)",
    )
    .option("--service-id <id>", CLUSTER_FLAG_HELP.serviceId)
    .option("--standby-replicas <n>", CLUSTER_FLAG_HELP.standbyReplicas)
    .option("--exactly-once", CLUSTER_FLAG_HELP.exactlyOnce)
    .addHelpText(
      "after",
      `
Input lines use the record shape of ksqlDB's test files: "value" is the JSON document for JSON
sources and the CSV text for DELIMITED ones; "key" is the key column's value (an object for several
key columns with a JSON key format); "timestamp" is epoch milliseconds or ISO-8601 text (default 0).

Running again with the same --data continues: statements already deployed are skipped (a CREATE
with a different text is an error: use --fresh), input files already loaded are skipped, and lines
appended to them since are loaded.

Examples:
  esql run examples/bank/bank.esql --input transactions=examples/bank/transactions.jsonl
  esql run orders.esql --input order_events=events.jsonl --follow
  esql run bank.esql --input transactions=tx.jsonl --fresh --json

Exit codes: 0 ok, 1 statements or inputs with errors, 2 bad usage.`,
    )
    .action(
      async (
        files: string[],
        opts: {
          data: string;
          input: string[];
          follow?: boolean;
          fresh?: boolean;
          json?: boolean;
          plan?: string;
          brokers?: string;
          serviceId?: string;
          standbyReplicas?: string;
          exactlyOnce?: boolean;
        },
      ) => {
        const brokers = opts.brokers === undefined ? undefined : splitBrokers(opts.brokers);
        const cluster = clusterOptions(clusterFlags({ ...opts, brokers }));
        if (opts.exactlyOnce && !brokers)
          throw new UsageError("--exactly-once needs --brokers: it uses Kafka transactions");
        const { runRun } = await import("./run.ts");
        code = await runRun(files, {
          ...(brokers ? { brokers } : {}),
          ...(cluster ? { cluster } : {}),
          ...(opts.exactlyOnce ? { exactlyOnce: true } : {}),
          ...(opts.plan ? { plan: opts.plan } : {}),
          ...(await withFunctions(files)),
          data: opts.data,
          inputs: opts.input,
          follow: opts.follow === true,
          fresh: opts.fresh === true,
          json: opts.json === true,
        });
      },
    );

  program
    .command("test")
    .description("Run esql test files (*.test.yaml) and ksqlDB case files (*.json) and report the results.")
    .argument("<paths...>", "test files or folders (searched recursively)")
    .option("--json <file>", "also write the results as JSON to this file")
    .option("--filter <text>", "run only the tests whose name or file contains this text (ignoring case)")
    .option(
      "--brokers <host:port,...>",
      "run the tests on this Kafka cluster (each in its own topic namespace) instead of the embedded log",
    )
    .addHelpText(
      "after",
      `
A *.test.yaml file names the .esql files to deploy and its tests: input records per topic and the
expected rows of tables (any order) and streams (in order). See docs/testing.md.
The last line of the output is always "N passed, N failed, N skipped".

Examples:
  esql test examples/
  esql test tests/bank.test.yaml --filter overdraft
  esql test ../ksql/qtt/sum.json --json results.json

Exit codes: 0 all passed, 1 a test failed, 2 bad usage.`,
    )
    .action(async (paths: string[], opts: { json?: string; filter?: string; brokers?: string }) => {
      const { runTest } = await import("./test.ts");
      code = await runTest(paths, {
        functions: (program.opts() as { functions: string[] }).functions,
        ...(opts.brokers === undefined ? {} : { brokers: splitBrokers(opts.brokers) }),
        ...(opts.json === undefined ? {} : { json: opts.json }),
        ...(opts.filter === undefined ? {} : { filter: opts.filter }),
      });
    });

  program
    .command("produce")
    .description(
      "Write JSON lines (one event per line) into a topic on Kafka or the embedded log, creating it when missing.",
    )
    .argument("<topic>", "the topic to write to")
    .argument("[file]", "a JSON-lines file, or - for standard input (the default)")
    .option("--brokers <host:port,...>", "write to this Kafka cluster instead of the embedded log")
    .option("--data <dir>", "data folder of the embedded log", ".esql")
    .option("--key <field>", "take each record's key from this top-level field (default: no key)")
    .option("--timestamp <field>", "take each record's time from this field (epoch ms or ISO-8601; default: now)")
    .option("--envelope", 'lines are {"key", "value", "timestamp"?, "headers"?} (as esql run --input reads)')
    .option("--partitions <n>", "partitions of the topic when it is created (default 1)")
    .option("--skip-bad", "report lines that are not valid JSON and go on (default: stop at the first one)")
    .addHelpText(
      "after",
      `
Without --envelope each line is the event's value, written as it is. A key field's string value is
written as its UTF-8 bytes (what a STRING KEY reads), other values as their JSON text. Keyed records go
to the partition Kafka's default partitioner picks; records without a key go round-robin.

A line that is not valid JSON stops the command with file:line:col; the lines before it are written,
none after. --skip-bad reports such lines and goes on.

Examples:
  esql produce transactions events.jsonl --key account --timestamp ts
  cat events.jsonl | esql produce events --brokers 127.0.0.1:9092 --partitions 8 --key id
  esql produce tx tx.jsonl --envelope --data .esql

Exit codes: 0 everything written, 1 a bad line stopped it or the log failed, 2 bad usage.`,
    )
    .action(
      async (
        topic: string,
        file: string | undefined,
        opts: {
          brokers?: string;
          data: string;
          key?: string;
          timestamp?: string;
          envelope?: boolean;
          partitions?: string;
          skipBad?: boolean;
        },
      ) => {
        const { runProduce } = await import("./produce.ts");
        code = await runProduce(topic, {
          ...(file === undefined ? {} : { file }),
          ...(opts.brokers === undefined ? {} : { brokers: splitBrokers(opts.brokers) }),
          data: opts.data,
          ...(opts.key === undefined ? {} : { key: opts.key }),
          ...(opts.timestamp === undefined ? {} : { timestamp: opts.timestamp }),
          ...(opts.envelope ? { envelope: true } : {}),
          ...(opts.partitions === undefined ? {} : { partitions: Number(opts.partitions) }),
          ...(opts.skipBad ? { skipBad: true } : {}),
        });
      },
    );

  program
    .command("compile")
    .description("Compile .esql files into a plan file that esql run and esql serve deploy without planning again.")
    .argument("<paths...>", ".esql files or folders (searched recursively), in deploy order")
    .requiredOption("--out <file>", "where to write the plans (JSON)")
    .addHelpText(
      "after",
      `
The plan file holds every statement and, for each persistent query, the topology plan it runs. Deploying
it (esql run --plan, esql serve --plan) runs those plans as compiled: CI checks and tests once and deploys
exactly what it tested. A plan whose input topics have other partition counts than it was compiled for is
refused.

Examples:
  esql compile projections/ --out plans.json
  esql run --plan plans.json --input transactions=tx.jsonl

Exit codes: 0 written, 1 the files have errors (nothing written), 2 bad usage.`,
    )
    .action(async (paths: string[], opts: { out: string }) => {
      const { runCompile } = await import("./compile.ts");
      code = runCompile(paths, opts.out, process.stderr, await withFunctions(paths));
    });

  program
    .command("serve")
    .description(
      "Serve ksqlDB's REST API (/ksql, /query, /query-stream, ...) over an engine on the embedded log or Kafka.",
    )
    .argument("[files...]", ".esql files or folders deployed when the data folder has nothing deployed yet")
    .option("--plan <file>", "deploy a plan file of esql compile instead of .esql files")
    .option("--data <dir>", "data folder for the embedded log and state stores", ".esql")
    .option("--port <n>", "port to listen on (0: any free port)", "8088")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--read-only", "refuse statements that change anything (CREATE, DROP, INSERT, TERMINATE, SET, ...)")
    .option("--no-console", "do not serve the web console at / (projections, topologies, queries, processing log)")
    .option("--max-push-queries <n>", "push queries streaming at once (pull queries are not counted)", "32")
    .option("--max-sql-length <n>", "longest SQL text of one request, in characters", "65536")
    .option("--headers-timeout-ms <ms>", "time a connection has to send a request's headers", "10000")
    .option(
      "--request-timeout-ms <ms>",
      "time a connection has to send a whole request (responses are not limited)",
      "30000",
    )
    .option(
      "--brokers <host:port,...>",
      "run on this Kafka cluster instead of the embedded log (state stays in --data)",
    )
    .option("--service-id <id>", CLUSTER_FLAG_HELP.serviceId)
    .option("--standby-replicas <n>", CLUSTER_FLAG_HELP.standbyReplicas)
    .option("--exactly-once", CLUSTER_FLAG_HELP.exactlyOnce)
    .option("--advertised-url <url>", CLUSTER_FLAG_HELP.advertisedUrl)
    .addHelpText(
      "after",
      `
Authentication: set ESQL_API_KEYS (comma-separated keys, sent as "Authorization: Bearer <key>") and/or
ESQL_BASIC_AUTH (comma-separated user:password pairs); then every request but /healthcheck needs them.

Examples:
  esql serve examples/bank/bank.esql
  esql serve --data /var/lib/esql --port 9000 --read-only
  esql serve --brokers 127.0.0.1:9092 --data /var/lib/esql orders.esql
  esql serve --brokers k1:9092 --service-id orders --standby-replicas 1 --host 0.0.0.0 --advertised-url http://node2:8088
  curl -s localhost:8088/query -H 'content-type: application/json' -d '{"ksql": "SELECT * FROM balances;"}'

Exit codes: 0 stopped cleanly, 1 the files had errors, 2 bad usage.`,
    )
    .action(
      async (
        files: string[],
        opts: {
          data: string;
          port: string;
          host: string;
          readOnly?: boolean;
          console: boolean;
          maxPushQueries: string;
          maxSqlLength: string;
          headersTimeoutMs: string;
          requestTimeoutMs: string;
          brokers?: string;
          serviceId?: string;
          standbyReplicas?: string;
          advertisedUrl?: string;
          exactlyOnce?: boolean;
          plan?: string;
        },
      ) => {
        const brokers = opts.brokers === undefined ? undefined : splitBrokers(opts.brokers);
        const cluster = clusterOptions(clusterFlags({ ...opts, brokers }));
        if (opts.exactlyOnce && !brokers)
          throw new UsageError("--exactly-once needs --brokers: it uses Kafka transactions");
        const { runServe } = await import("./serve.ts");
        code = await runServe(files, {
          ...(brokers ? { brokers } : {}),
          ...(cluster ? { cluster } : {}),
          ...(opts.exactlyOnce ? { exactlyOnce: true } : {}),
          ...(await withFunctions(files)),
          data: opts.data,
          port: Number(opts.port),
          host: opts.host,
          readOnly: opts.readOnly === true,
          console: opts.console,
          maxPushQueries: Number(opts.maxPushQueries),
          ...(opts.plan ? { plan: opts.plan } : {}),
          maxSqlLength: Number(opts.maxSqlLength),
          headersTimeoutMs: Number(opts.headersTimeoutMs),
          requestTimeoutMs: Number(opts.requestTimeoutMs),
        });
      },
    );

  program
    .command("repl")
    .description("An interactive session: statements, pull and push queries, SHOW, DESCRIBE, PRINT, RUN SCRIPT.")
    .option("--data <dir>", "data folder for the embedded log and state stores (the same as esql run's)", ".esql")
    .option(
      "--brokers <host:port,...>",
      "run on this Kafka cluster instead of the embedded log (state stays in --data)",
    )
    .option("--server <url>", "talk to a running esql serve (ksqlDB's REST API) instead of running an engine here")
    .option("--echo", "write each input line after its prompt, also when the input is not a terminal (transcripts)")
    .addHelpText(
      "after",
      `
Statements end with ';' and may span lines. On a terminal: Tab completes keywords, streams, tables,
columns and functions; up-arrow recalls earlier lines (kept in ~/.esql_history, or ESQL_HISTORY);
Ctrl-C cancels a running push query or PRINT and keeps the session; Ctrl-D or exit leaves.
From a pipe, the statements run in order and the session ends with the input.

Examples:
  esql repl                                   the embedded log in ./.esql
  esql repl --data /tmp/play
  esql repl --brokers 127.0.0.1:9092 --data .esql-kafka
  esql repl --server http://localhost:8088
  esql repl --data .esql < session.sql        run a script, print the results

Exit codes: 0 the session ended, 1 the engine or server could not be opened, 2 bad usage.`,
    )
    .action(async (opts: { data: string; brokers?: string; server?: string; echo?: boolean }) => {
      if (opts.server !== undefined && opts.brokers !== undefined)
        throw new UsageError("--server and --brokers exclude each other");
      const { runRepl } = await import("./repl/index.ts");
      code = await runRepl({
        ...(await withFunctions([])),
        data: opts.data,
        ...(opts.brokers === undefined ? {} : { brokers: splitBrokers(opts.brokers) }),
        ...(opts.server === undefined ? {} : { server: opts.server }),
        echo: opts.echo === true,
      });
    });

  // ---- deploy: plan, apply, rollback (runtime/deploy) ----
  const target = (opts: { data: string; brokers?: string; serviceId?: string }) => {
    const brokers = opts.brokers === undefined ? undefined : splitBrokers(opts.brokers);
    const { serviceId } = brokers || opts.serviceId ? clusterFlags({ brokers, serviceId: opts.serviceId }) : {};
    return { data: opts.data, ...(brokers ? { brokers } : {}), ...(serviceId ? { serviceId } : {}) };
  };
  program
    .command("plan")
    .description("Show what esql apply would change: new, changed (in place or rebuilt, and why), unchanged, removed.")
    .argument("<paths...>", "the folder(s) holding the desired .esql definitions (files compiled in path order)")
    .option(
      "--data <dir>",
      "data folder of the deployed engine (state stores; the embedded log without --brokers)",
      ".esql",
    )
    .option("--brokers <host:port,...>", "the Kafka cluster whose command topic holds the deployed statements")
    .option("--service-id <id>", "with --brokers: the service whose deployment is meant (env ESQL_SERVICE_ID)")
    .option("--server <url>", "plan against a running esql serve (its deploy endpoints; no data folder opened)")
    .option("--json", "print the plan as JSON")
    .addHelpText(
      "after",
      `
Formatting and comments are not changes. A changed aggregation, join, window, PARTITION BY or table is
rebuilt as a new version; a stateless stream whose filter or columns changed is replaced in place.

Examples:
  esql plan projections/ --data /var/lib/esql
  esql plan projections/ --brokers kafka:9092 --json
  esql plan projections/ --server http://esql:8088

A rebuild shows what it costs: the events it replays (its inputs' offsets now) and, against a server, the
time at the rate the server measured.

Exit codes: 0 nothing would change, 1 errors, 2 something would change (CI can gate on it).`,
    )
    .action(
      async (
        paths: string[],
        opts: { data: string; brokers?: string; serviceId?: string; server?: string; json?: boolean },
      ) => {
        if (opts.server !== undefined) {
          const { remotePlan } = await import("./deploy-remote.ts");
          code = await remotePlan(paths, { server: remoteOnly(opts), json: opts.json === true });
        } else {
          const { runPlan } = await import("./plan.ts");
          code = await runPlan(paths, { ...target(opts), ...(await withFunctions(paths)), json: opts.json === true });
        }
      },
    );

  program
    .command("apply")
    .description(
      "Deploy a folder's definitions: create new objects, rebuild changed ones without downtime, drop removed ones (--allow-drop).",
    )
    .argument("[paths...]", "the folder(s) holding the desired .esql definitions (files compiled in path order)")
    .option("--plan <file>", "deploy a plan file of esql compile instead: its queries run the plans it holds")
    .option("--data <dir>", "data folder of the engine (state stores; the embedded log without --brokers)", ".esql")
    .option("--brokers <host:port,...>", "deploy on this Kafka cluster (its command topic)")
    .option("--server <url>", "deploy to a running esql serve: it rebuilds in the background while it keeps serving")
    .option("--no-wait", "with --server: return once the service has started the deployment")
    .option("--allow-drop", "stop and drop deployed objects the folder no longer defines")
    .option("--keep <n>", "versions kept per object for rollback, the serving one included", "2")
    .addHelpText(
      "after",
      `
A rebuilt object gets a new version (NAME__V<n>, topic <topic>__v<n>) that replays the history while
the current one keeps serving; when it has caught up, NAME switches to it in one step. Every step is
recorded in the command topic: after an interruption, apply again finishes (or abandons) it.

Examples:
  esql apply projections/ --data /var/lib/esql
  esql apply projections/ --brokers kafka:9092 --allow-drop
  esql compile projections/ --out plans.json && esql apply --plan plans.json --data /var/lib/esql
  esql apply projections/ --server http://esql:8088

With --server the service does the work and this command follows it (a progress bar per version being
rebuilt, plain lines when not on a terminal) until the switch; stopping this command does not stop the
service's rebuild (esql status --server shows it). ESQL_API_KEY is sent as a bearer token.

Exit codes: 0 applied, 1 errors (nothing applied) or a step failed, 2 bad usage.`,
    )
    .action(
      async (
        paths: string[],
        opts: {
          data: string;
          brokers?: string;
          server?: string;
          wait: boolean;
          allowDrop?: boolean;
          keep: string;
          plan?: string;
        },
      ) => {
        const keep = Number(opts.keep);
        if (!Number.isInteger(keep) || keep < 1)
          throw new UsageError(`--keep: expected a whole number >= 1, found '${opts.keep}'`);
        if (opts.server !== undefined) {
          const { remoteApply } = await import("./deploy-remote.ts");
          code = await remoteApply(paths, {
            server: remoteOnly(opts),
            allowDrop: opts.allowDrop === true,
            keep,
            wait: opts.wait,
            ...(opts.plan ? { plan: opts.plan } : {}),
          });
          return;
        }
        if (!opts.wait) throw new UsageError("--no-wait needs --server (without it, apply runs here)");
        const where = target(opts);
        if ("serviceId" in where)
          throw new UsageError(
            "to apply to a service (ESQL_SERVICE_ID), give --server with the URL of one of its instances: it rebuilds there",
          );
        const { runApply } = await import("./apply.ts");
        code = await runApply(paths, {
          ...where,
          ...(await withFunctions(paths)),
          allowDrop: opts.allowDrop === true,
          keep,
          ...(opts.plan ? { plan: opts.plan } : {}),
        });
      },
    );

  program
    .command("rollback")
    .description("Switch a stream or table back to the version that served before the current one (kept by apply).")
    .argument("<name>", "the stream or table")
    .option("--data <dir>", "data folder of the engine (state stores; the embedded log without --brokers)", ".esql")
    .option("--brokers <host:port,...>", "the Kafka cluster (its command topic)")
    .option("--service-id <id>", "with --brokers: record the switch for every instance of this service")
    .option("--server <url>", "roll back on a running esql serve")
    .addHelpText(
      "after",
      `
Kept versions keep running, so the switch needs no replay. The next apply with an unchanged folder
switches forward again (to the kept version with the folder's definition).

Examples:
  esql rollback balances --data /var/lib/esql
  esql rollback balances --server http://esql:8088

Exit codes: 0 switched, 1 no earlier version is kept, 2 bad usage.`,
    )
    .action(async (name: string, opts: { data: string; brokers?: string; serviceId?: string; server?: string }) => {
      code =
        opts.server !== undefined
          ? await (await import("./deploy-remote.ts")).remoteRollback(name, { server: remoteOnly(opts) })
          : await (await import("./rollback.ts")).runRollback(name, target(opts));
    });

  program
    .command("status")
    .description(
      "Show deployments in progress and the version each stream and table serves (kept and building ones too).",
    )
    .option("--data <dir>", "data folder of the engine (state stores; the embedded log without --brokers)", ".esql")
    .option("--brokers <host:port,...>", "the Kafka cluster (its command topic)")
    .option("--server <url>", "ask a running esql serve (with its rebuilds' progress)")
    .option("--json", "print the status as JSON")
    .addHelpText(
      "after",
      `
Examples:
  esql status --server http://esql:8088
  esql status --data /var/lib/esql

Exit codes: 0 shown, 1 the server or data folder could not be reached, 2 bad usage.`,
    )
    .action(async (opts: { data: string; brokers?: string; server?: string; json?: boolean }) => {
      code =
        opts.server !== undefined
          ? await (
              await import("./deploy-remote.ts")
            ).remoteStatus({ server: remoteOnly(opts), json: opts.json === true })
          : await (await import("./deploy-remote.ts")).localStatus({ ...target(opts), json: opts.json === true });
    });
  // ---- end of deploy ----

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
    const { FunctionLoadError } = await import("../../runtime/engine/functions.ts");
    if (e instanceof FunctionLoadError) {
      process.stderr.write(
        `esql: the user functions cannot be loaded:\n${e.problems.map((p) => `  ${p}`).join("\n")}\n`,
      );
      return EXIT.failed;
    }
    throw e;
  }
  return code;
}

/** The `--server` URL of a deploy command, which talks to the service and opens nothing here. */
function remoteOnly(opts: { server?: string; brokers?: string }): string {
  if (opts.brokers !== undefined) throw new UsageError("--server and --brokers exclude each other");
  return opts.server!;
}

/** `--brokers a:1,b:2` → `["a:1", "b:2"]`; a bad entry is a usage error. */
function splitBrokers(value: string): string[] {
  const list = value
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = list.find((b) => !/^[^\s:]+:\d{1,5}$/.test(b));
  if (list.length === 0 || bad !== undefined)
    throw new UsageError(`--brokers: expected host:port[,host:port...], found '${bad ?? value}'`);
  return list;
}
