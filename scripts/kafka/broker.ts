/**
 * A real single-node Kafka broker (KRaft, broker + controller in one JVM) for tests, benchmarks and CI,
 * fetched from Maven Central; no Docker, no download outside the package registries.
 *
 *   node --import tsx scripts/kafka/broker.ts start|stop|status [--version X]
 *
 * `start` launches a detached broker, prints `KAFKA_BROKERS=127.0.0.1:<port>` and records it in
 * `.kafka/broker.json`; `stop` ends it and removes its data folder; `status` exits 0 when it runs, 3 when not.
 * Tests import {@link startBroker} instead, which ties the broker to the calling process.
 *
 * Steps: (1) the jars: a pom generated from `pom.template.xml` + maven-dependency-plugin copy-dependencies
 * into `.kafka/<version>/libs` (reused when complete; Maven's `~/.m2` cache makes refetching cheap);
 * (2) a fresh data folder with `server.properties` and a logging config; (3) `StorageTool format` with a
 * random cluster id; (4) `kafka.Kafka`; (5) ready when the log says "Kafka Server started" AND a client's
 * describeCluster answers, within 90 s.
 *
 * Environment overrides: `KAFKA_VERSION`, `KAFKA_PORT`, `KAFKA_CONTROLLER_PORT` (else free ports are
 * picked), `KAFKA_JAVA` (the java binary), `KAFKA_MVN` (the mvn binary), `KAFKA_HEAP_OPTS` (default
 * `-Xms128m -Xmx512m`), `KAFKA_STATE_FILE` (where the CLI records its broker; default `.kafka/broker.json`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { describeKafkaCluster } from "../../runtime/log/kafka.ts";

/** The default broker version: the last 3.x line (ZooKeeper-free KRaft, the safe baseline). */
export const DEFAULT_KAFKA_VERSION = "3.9.2";
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "..", "..");
/** Ignored folder for jars and the state of a broker started by the CLI. */
export const KAFKA_HOME = join(REPO_ROOT, ".kafka");
const STATE_FILE = process.env.KAFKA_STATE_FILE ?? join(KAFKA_HOME, "broker.json");

export interface StartBrokerOptions {
  /** Kafka version (Maven `org.apache.kafka:kafka_2.13`); default `KAFKA_VERSION` or 3.9.2. */
  readonly version?: string;
  /** Data folder to use (must be empty or missing); default a fresh temp folder, removed on stop. */
  readonly dir?: string;
  /**
   * `attached` (default): the broker dies with this process (exit, SIGINT, SIGTERM).
   * `detached`: it outlives this process (the CLI's `start`); stop it with `stop()` or the CLI.
   */
  readonly mode?: "attached" | "detached";
  /** Progress lines (fetching jars, formatting, started); default silent. */
  readonly onProgress?: (line: string) => void;
}

export interface RunningBroker {
  /** Bootstrap address for clients, `127.0.0.1:<port>` (never `localhost`: kafkajs cannot parse ::1). */
  readonly brokers: string;
  readonly version: string;
  readonly pid: number;
  readonly dataDir: string;
  /** The broker's own log (stdout + stderr of the JVM). */
  readonly logFile: string;
  /** Milliseconds from the call to ready, and the part spent fetching jars (0 when reused). */
  readonly timings: { readonly totalMs: number; readonly fetchMs: number };
  /** Stops the broker (SIGTERM, SIGKILL after 30 s) and removes the data folder if we created it. */
  stop(): Promise<void>;
}

/**
 * Fetches (or reuses) the jars, formats a fresh single-node KRaft broker and starts it. Resolves once it
 * serves clients; rejects with the tail of the broker log when it exits or is not ready within 90 s.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const started = Date.now();
  const version = options.version ?? process.env.KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION;
  const progress = options.onProgress ?? (() => {});
  const fetchStart = Date.now();
  const libs = fetchJars(version, progress);
  const fetchMs = Date.now() - fetchStart;

  const ownDir = options.dir === undefined;
  const dataDir = options.dir ?? mkdtempSync(join(tmpdir(), "esql-kafka-"));
  mkdirSync(dataDir, { recursive: true });
  const port = await portFromEnv("KAFKA_PORT");
  const controllerPort = await portFromEnv("KAFKA_CONTROLLER_PORT", port);
  const major = Number(version.split(".")[0]);

  const propsFile = join(dataDir, "server.properties");
  writeFileSync(propsFile, serverProperties(join(dataDir, "data"), port, controllerPort));
  const loggingArgs = writeLoggingConfig(dataDir, major);
  const java = process.env.KAFKA_JAVA ?? "java";
  const classpath = join(libs, "*");

  progress(`formatting KRaft storage in ${dataDir}`);
  const clusterId = randomClusterId();
  const format = spawnSync(
    java,
    [
      "-Xmx256m",
      ...loggingArgs,
      "-cp",
      classpath,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      propsFile,
    ],
    { encoding: "utf8" },
  );
  if (format.status !== 0) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw new Error(
      `Kafka ${version}: 'StorageTool format' failed (exit ${format.status ?? format.signal}): ` +
        [format.error?.message, format.stderr, format.stdout].filter(Boolean).join("\n").trim(),
    );
  }

  const logFile = join(dataDir, "broker.log");
  const out = openSync(logFile, "a");
  const heap = (process.env.KAFKA_HEAP_OPTS ?? "-Xms128m -Xmx512m").split(/\s+/).filter(Boolean);
  const child = spawn(
    java,
    [...heap, "-XX:+UseG1GC", "-Djava.awt.headless=true", ...loggingArgs, "-cp", classpath, "kafka.Kafka", propsFile],
    { stdio: ["ignore", out, out], detached: options.mode === "detached" },
  );
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start '${java}': is Java 17+ installed and on PATH?`);

  const brokers = `127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      unhook();
      await killAndWait(pid, child);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    })());
  // Tied to this process while starting, also in detached mode: an interrupted start leaves nothing.
  const unhook = killWithProcess(pid, ownDir ? dataDir : undefined);

  try {
    await waitUntilReady(brokers, logFile, child, version);
  } catch (err) {
    const tail = logTail(logFile);
    await stop();
    throw new Error(`${(err as Error).message}\n--- last lines of the broker log ---\n${tail}`, { cause: err });
  }
  if (options.mode === "detached") {
    unhook();
    child.unref();
  }
  const totalMs = Date.now() - started;
  progress(`Kafka ${version} ready at ${brokers} (pid ${pid}) in ${totalMs} ms (jars ${fetchMs} ms)`);
  return { brokers, version, pid, dataDir, logFile, timings: { totalMs, fetchMs }, stop };
}

/**
 * 16 random bytes in base64url, as `StorageTool random-uuid` prints, but never starting with '-': the
 * tool's argument parser would take such an id for an option (Kafka's own `Uuid.randomUuid` re-draws
 * those for the same reason).
 */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

// ---- jars ----

/** Returns the folder holding every jar of `version`, fetching them when not complete yet. */
function fetchJars(version: string, progress: (line: string) => void): string {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`a Kafka version looks like 3.9.2, found '${version}'`);
  const home = join(KAFKA_HOME, version);
  const libs = join(home, "libs");
  if (existsSync(join(libs, ".complete"))) return libs;
  progress(`fetching org.apache.kafka:kafka_2.13:${version} from Maven Central into ${libs}`);
  mkdirSync(home, { recursive: true });
  const pom = join(home, "pom.xml");
  const template = readFileSync(join(HERE, "pom.template.xml"), "utf8");
  writeFileSync(
    pom,
    template.replaceAll("@KAFKA_VERSION@", version).replace("@LOGGING_DEPENDENCIES@", loggingDependencies(version)),
  );
  // Copy into a private folder and rename: a concurrent run never sees half a folder of jars.
  const staging = `${libs}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  const mvn = spawnSync(
    process.env.KAFKA_MVN ?? "mvn",
    [
      "-B",
      "-q",
      "-f",
      pom,
      "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${staging}`,
    ],
    { encoding: "utf8" },
  );
  if (mvn.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `fetching Kafka ${version} with Maven failed (exit ${mvn.status ?? mvn.signal}): ` +
        [mvn.error?.message, mvn.stdout, mvn.stderr].filter(Boolean).join("\n").trim(),
    );
  }
  writeFileSync(join(staging, ".complete"), `${new Date().toISOString()}\n`);
  if (existsSync(join(libs, ".complete"))) {
    rmSync(staging, { recursive: true, force: true }); // another run finished first
  } else {
    rmSync(libs, { recursive: true, force: true });
    renameSync(staging, libs);
  }
  return libs;
}

/**
 * `kafka_2.13` brings every runtime dependency except an SLF4J backend; without one the broker logs
 * nothing and readiness cannot be seen. 3.x logs through reload4j; 4.x through log4j2 (its slf4j-api is
 * still 1.7.x, so the 1.x binding `log4j-slf4j-impl`, at the log4j version kafka_2.13 itself pulls).
 */
function loggingDependencies(version: string): string {
  const dep = (g: string, a: string, v: string): string =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  if (Number(version.split(".")[0]) < 4) {
    return [dep("org.slf4j", "slf4j-reload4j", "1.7.36"), dep("ch.qos.reload4j", "reload4j", "1.2.25")].join("\n");
  }
  return dep("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3");
}

// ---- configuration ----

function serverProperties(logDir: string, port: number, controllerPort: number): string {
  return [
    "process.roles=broker,controller",
    "node.id=1",
    // A static quorum: `StorageTool format` needs no --standalone (that is for dynamic quorums, KIP-853).
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${logDir}`,
    // One node: replication factors above 1 make groups and transactions fail (COORDINATOR_NOT_AVAILABLE).
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "num.network.threads=2",
    "num.io.threads=2",
    "num.partitions=1",
    "auto.create.topics.enable=false",
    "log.cleaner.dedupe.buffer.size=2097152",
    "",
  ].join("\n");
}

/** Writes a console logging config (INFO; chatty loggers at WARN) and returns the JVM flags naming it. */
function writeLoggingConfig(dataDir: string, major: number): string[] {
  if (major < 4) {
    const file = join(dataDir, "log4j.properties");
    writeFileSync(
      file,
      [
        "log4j.rootLogger=INFO, stdout",
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "log4j.logger.kafka.log=WARN",
        "log4j.logger.org.apache.kafka.storage=WARN",
        "log4j.logger.state.change.logger=WARN",
        "",
      ].join("\n"),
    );
    return [`-Dlog4j.configuration=file:${file}`];
  }
  const file = join(dataDir, "log4j2.xml");
  writeFileSync(
    file,
    `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.log" level="WARN"/>
    <Logger name="org.apache.kafka.storage" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
`,
  );
  return [`-Dlog4j2.configurationFile=${file}`];
}

/** The port named by `envName`, else a free one (different from `notThis`). */
async function portFromEnv(envName: string, notThis?: number): Promise<number> {
  const fromEnv = process.env[envName];
  if (fromEnv) {
    const port = Number(fromEnv);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`${envName} must be a port, found '${fromEnv}'`);
    return port;
  }
  for (;;) {
    const port = await freePort();
    if (port !== notThis) return port;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

// ---- lifecycle ----

async function waitUntilReady(brokers: string, logFile: string, child: ChildProcess, version: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited: string | undefined;
  const onExit = (code: number | null, signal: string | null): void => {
    exited = `exit ${code ?? signal}`;
  };
  child.once("exit", onExit);
  try {
    // Phase 1: the log line. Polled from the file (the broker writes there, detached or not).
    for (;;) {
      if (exited) throw new Error(`Kafka ${version} stopped while starting (${exited})`);
      if (readFileSync(logFile, "utf8").includes("Kafka Server started")) break;
      if (Date.now() > deadline) throw new Error(`Kafka ${version} did not log 'Kafka Server started' within 90 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Phase 2: a client round trip (the listener may lag the log line by a moment).
    for (;;) {
      if (exited) throw new Error(`Kafka ${version} stopped while starting (${exited})`);
      try {
        await describeKafkaCluster({ brokers: [brokers], clientId: "esql-broker-probe" });
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`Kafka ${version} did not answer describeCluster within 90 s: ${(err as Error).message}`, {
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    child.off("exit", onExit);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGTERM (a clean shutdown), SIGKILL if the JVM is still there after 30 s; resolves once it is gone. */
async function killAndWait(pid: number, child?: ChildProcess): Promise<void> {
  const gone = child
    ? new Promise<void>((r) =>
        child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r()),
      )
    : undefined;
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) {
    if (gone) await Promise.race([gone, new Promise((r) => setTimeout(r, 1000))]);
    else await new Promise((r) => setTimeout(r, 100));
  }
  if (isAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    if (gone) await gone;
  }
}

/** Brokers tied to this process: pid → the data folder to remove (undefined when not ours). */
const attached = new Map<number, string | undefined>();
let hooksInstalled = false;

/**
 * Ties the broker to this process: on exit it is killed (SIGKILL: a throw-away test broker needs no
 * clean shutdown) and its data folder removed; SIGINT/SIGTERM exit this process with the signal's usual
 * code, which runs the same exit hook. Returns the function that unties it (after a normal `stop()`).
 */
function killWithProcess(pid: number, dataDir: string | undefined): () => void {
  attached.set(pid, dataDir);
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.on("exit", () => {
      for (const [p, dir] of attached) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          /* already gone */
        }
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
  }
  return () => attached.delete(pid);
}

function logTail(file: string, lines = 40): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no broker log)";
  }
}

// ---- CLI ----

interface BrokerState {
  readonly pid: number;
  readonly brokers: string;
  readonly version: string;
  readonly dataDir: string;
}

function readState(): BrokerState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, "utf8")) as BrokerState;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { version: { type: "string" } },
  });
  const command = positionals[0];
  const state = readState();
  const running = state !== undefined && isAlive(state.pid);
  switch (command) {
    case "start": {
      if (running) {
        console.log(`KAFKA_BROKERS=${state.brokers}`);
        console.error(`Kafka ${state.version} already runs (pid ${state.pid})`);
        return 0;
      }
      const broker = await startBroker({
        version: values.version,
        mode: "detached",
        onProgress: (line) => console.error(line),
      });
      mkdirSync(dirname(STATE_FILE), { recursive: true });
      const saved: BrokerState = {
        pid: broker.pid,
        brokers: broker.brokers,
        version: broker.version,
        dataDir: broker.dataDir,
      };
      writeFileSync(STATE_FILE, `${JSON.stringify(saved, null, 2)}\n`);
      console.log(`KAFKA_BROKERS=${broker.brokers}`);
      return 0;
    }
    case "stop": {
      if (state) {
        await killAndWait(state.pid);
        rmSync(state.dataDir, { recursive: true, force: true });
        rmSync(STATE_FILE, { force: true });
        console.error(running ? `stopped Kafka ${state.version} (pid ${state.pid})` : "Kafka was not running");
      } else {
        console.error("Kafka was not running");
      }
      return 0;
    }
    case "status": {
      if (running) {
        console.log(`running: Kafka ${state.version} at ${state.brokers} (pid ${state.pid}, data ${state.dataDir})`);
        return 0;
      }
      console.log("not running");
      return 3;
    }
    default:
      console.error("usage: node --import tsx scripts/kafka/broker.ts start|stop|status [--version X.Y.Z]");
      return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
