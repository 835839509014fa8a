/**
 * A real single-node Kafka broker (KRaft, broker + controller in one JVM) for tests, benchmarks and CI,
 * fetched from Maven Central; no Docker, no download outside the package registries.
 *
 *   node --import tsx scripts/kafka/broker.ts start|stop|restart|status [--version X]
 *
 * `start` launches a detached broker, prints `KAFKA_BROKERS=127.0.0.1:<port>` and records it in
 * `.kafka/broker.json`; `stop` ends it and removes its data folder (`--keep`: keeps it, and the next `start`
 * resumes it); `restart` stops it (SIGTERM, or SIGKILL with `--kill`) and starts it again on the same data
 * folder and ports after `--down-ms`; `status` exits 0 when it runs, 3 when not.
 * Tests import {@link startBroker} instead, which ties the broker to the calling process; its `halt`,
 * `start` and `restart` bounce the broker on the same data folder and ports.
 *
 * Steps: (1) the jars: a pom generated from `pom.template.xml` + maven-dependency-plugin copy-dependencies
 * into `.kafka/<version>/libs` (reused when complete; Maven's `~/.m2` cache makes refetching cheap);
 * (2) a fresh data folder with `server.properties` and a logging config; (3) `StorageTool format` with a
 * random cluster id; (4) `kafka.Kafka`; (5) ready when the log says "Kafka Server started" AND a client's
 * describeCluster answers, within 180 s (a JVM starting on a loaded machine, or recovering its logs after a kill).
 *
 * Environment overrides: `KAFKA_VERSION`, `KAFKA_PORT`, `KAFKA_CONTROLLER_PORT` (else free ports are
 * picked), `KAFKA_JAVA` (the java binary), `KAFKA_MVN` (the mvn binary), `KAFKA_HEAP_OPTS` (default
 * `-Xms128m -Xmx512m`), `KAFKA_STATE_FILE` (where the CLI records its broker; default `.kafka/broker.json`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  statSync,
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
const READY_TIMEOUT_MS = 180_000;
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
  /** The JVM's process id (a new one after `restart`). */
  readonly pid: number;
  readonly dataDir: string;
  /** The broker's own log (stdout + stderr of the JVM). */
  readonly logFile: string;
  /** Milliseconds from the call to ready, and the part spent fetching jars (0 when reused). */
  readonly timings: { readonly totalMs: number; readonly fetchMs: number };
  /** Stops the broker (SIGTERM, SIGKILL after 30 s) and removes the data folder if we created it. */
  stop(): Promise<void>;
  /**
   * Takes the broker away and keeps its data folder: SIGTERM (a clean shutdown, as in a rolling restart)
   * or SIGKILL (a crash); resolves once the JVM is gone. `start` brings it back. No-op when already halted.
   */
  halt(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /**
   * Starts the halted broker again on the same data folder and ports (same cluster, topics, offsets,
   * groups and transactions); resolves once it serves clients, as `startBroker` does.
   */
  start(): Promise<void>;
  /** `halt(signal)`, then `start()` after `downMs` (default 0). */
  restart(options?: { readonly signal?: "SIGTERM" | "SIGKILL"; readonly downMs?: number }): Promise<void>;
}

/**
 * Fetches (or reuses) the jars, formats a fresh single-node KRaft broker and starts it. Resolves once it
 * serves clients; rejects with the tail of the broker log when it exits or is not ready within 180 s.
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
  // Ours is removed when this process exits, also while starting in detached mode: an interrupted start
  // leaves nothing.
  const keepDir = ownDir ? removeWithProcess(dataDir) : () => undefined;
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

  const brokers = `127.0.0.1:${port}`;
  const launch = (): Promise<Launched> =>
    launchBroker({ java, classpath, loggingArgs, dataDir, brokers, version, detached: options.mode === "detached" });
  let current: Launched;
  try {
    current = await launch();
  } catch (err) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  // `halt` → `start` → `halt` ... one at a time; `stop` waits for the step under way.
  let step: Promise<void> = Promise.resolve();
  let halted = false;
  const serial = (fn: () => Promise<void>): Promise<void> => (step = step.then(fn, fn));
  const halt = (signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> =>
    serial(async () => {
      if (halted || stopping) return;
      current.unhook();
      await killAndWait(current.pid, current.child, signal);
      halted = true;
    });
  const start = (): Promise<void> =>
    serial(async () => {
      if (!halted || stopping) return;
      current = await launch();
      halted = false;
      if (options.mode === "detached") current.detach();
    });
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await step.catch(() => undefined);
      current.unhook();
      if (!halted) await killAndWait(current.pid, current.child);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      keepDir();
    })());
  if (options.mode === "detached") {
    current.detach();
    keepDir();
  }
  const totalMs = Date.now() - started;
  progress(`Kafka ${version} ready at ${brokers} (pid ${current.pid}) in ${totalMs} ms (jars ${fetchMs} ms)`);
  return {
    brokers,
    version,
    get pid() {
      return current.pid;
    },
    dataDir,
    logFile: join(dataDir, "broker.log"),
    timings: { totalMs, fetchMs },
    stop,
    halt,
    start,
    restart: async ({ signal, downMs = 0 } = {}) => {
      await halt(signal);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
}

/**
 * Starts a broker halted before (the CLI's `stop --keep` or a killed JVM) on its data folder, which holds
 * `server.properties` (and so the ports) and the formatted storage; detached, as the CLI's `start`.
 */
export async function resumeBroker(dataDir: string, version: string): Promise<{ brokers: string; pid: number }> {
  const libs = fetchJars(version, () => {});
  const props = readFileSync(join(dataDir, "server.properties"), "utf8");
  const port = /^listeners=PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/m.exec(props)?.[1];
  if (port === undefined) throw new Error(`${dataDir}/server.properties names no PLAINTEXT listener`);
  const brokers = `127.0.0.1:${port}`;
  const launched = await launchBroker({
    java: process.env.KAFKA_JAVA ?? "java",
    classpath: join(libs, "*"),
    loggingArgs: writeLoggingConfig(dataDir, Number(version.split(".")[0])),
    dataDir,
    brokers,
    version,
    detached: true,
  });
  launched.detach();
  return { brokers, pid: launched.pid };
}

interface Launched {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Unties the JVM from this process (it is tied while it runs, see `killWithProcess`). */
  unhook(): void;
  /** Lets it outlive this process (detached mode). */
  detach(): void;
}

/**
 * Runs `kafka.Kafka` on the data folder's `server.properties` (storage formatted before) and waits until it
 * serves clients; on failure the JVM is killed and the error carries the tail of its log.
 */
async function launchBroker(o: {
  java: string;
  classpath: string;
  loggingArgs: string[];
  dataDir: string;
  brokers: string;
  version: string;
  detached: boolean;
}): Promise<Launched> {
  const logFile = join(o.dataDir, "broker.log");
  const out = openSync(logFile, "a");
  const mark = statSync(logFile).size; // a restart appends: readiness is read after this point
  const heap = (process.env.KAFKA_HEAP_OPTS ?? "-Xms128m -Xmx512m").split(/\s+/).filter(Boolean);
  const child = spawn(
    o.java,
    [
      ...heap,
      "-XX:+UseG1GC",
      "-Djava.awt.headless=true",
      ...o.loggingArgs,
      "-cp",
      o.classpath,
      "kafka.Kafka",
      join(o.dataDir, "server.properties"),
    ],
    { stdio: ["ignore", out, out], detached: o.detached },
  );
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start '${o.java}': is Java 17+ installed and on PATH?`);
  // Tied to this process while starting, also in detached mode: an interrupted start leaves nothing.
  const unhook = killWithProcess(pid);
  try {
    await waitUntilReady(o.brokers, logFile, mark, child, o.version);
  } catch (err) {
    const tail = logTail(logFile);
    unhook();
    await killAndWait(pid, child);
    throw new Error(`${(err as Error).message}\n--- last lines of the broker log ---\n${tail}`, { cause: err });
  }
  return {
    pid,
    child,
    unhook,
    detach: () => {
      unhook();
      child.unref();
    },
  };
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

/** Waits for the broker's readiness; `logFrom` is where this start's lines begin in the (appended) log. */
async function waitUntilReady(
  brokers: string,
  logFile: string,
  logFrom: number,
  child: ChildProcess,
  version: string,
): Promise<void> {
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
      if (readFileSync(logFile).subarray(logFrom).includes("Kafka Server started")) break;
      if (Date.now() > deadline)
        throw new Error(`Kafka ${version} did not log 'Kafka Server started' within ${READY_TIMEOUT_MS / 1000} s`);
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
          throw new Error(
            `Kafka ${version} did not answer describeCluster within ${READY_TIMEOUT_MS / 1000} s: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
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

/**
 * SIGTERM (a clean shutdown), SIGKILL if the JVM is still there after 30 s (or at once when `signal` is
 * SIGKILL); resolves once it is gone.
 */
async function killAndWait(
  pid: number,
  child?: ChildProcess,
  signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
): Promise<void> {
  const gone = child
    ? new Promise<void>((r) =>
        child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r()),
      )
    : undefined;
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
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

/** Brokers tied to this process (their pids), and the data folders to remove when it exits. */
const attached = new Set<number>();
const ownedDirs = new Set<string>();
let hooksInstalled = false;

/**
 * Ties the broker to this process: on exit it is killed (SIGKILL: a throw-away test broker needs no
 * clean shutdown); SIGINT/SIGTERM exit this process with the signal's usual code, which runs the same exit
 * hook. Returns the function that unties it (after a normal `stop()` or `halt()`).
 */
function killWithProcess(pid: number): () => void {
  attached.add(pid);
  installExitHook();
  return () => attached.delete(pid);
}

/** Removes `dir` when this process exits (after its brokers were killed); returns the function that keeps it. */
function removeWithProcess(dir: string): () => void {
  ownedDirs.add(dir);
  installExitHook();
  return () => ownedDirs.delete(dir);
}

function installExitHook(): void {
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.on("exit", () => {
      for (const p of attached) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
    });
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
  }
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
    options: {
      version: { type: "string" },
      keep: { type: "boolean" },
      kill: { type: "boolean" },
      "down-ms": { type: "string" },
    },
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
      if (state && existsSync(join(state.dataDir, "server.properties"))) return resume(state);
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
      if (state && values.keep) {
        if (running) await killAndWait(state.pid, undefined, values.kill ? "SIGKILL" : "SIGTERM");
        console.error(`stopped Kafka ${state.version} (pid ${state.pid}); 'start' resumes it on ${state.dataDir}`);
      } else if (state) {
        await killAndWait(state.pid, undefined, values.kill ? "SIGKILL" : "SIGTERM");
        rmSync(state.dataDir, { recursive: true, force: true });
        rmSync(STATE_FILE, { force: true });
        console.error(running ? `stopped Kafka ${state.version} (pid ${state.pid})` : "Kafka was not running");
      } else {
        console.error("Kafka was not running");
      }
      return 0;
    }
    case "restart": {
      if (!state) {
        console.error("Kafka was not started by this script: nothing to restart");
        return 3;
      }
      if (running) await killAndWait(state.pid, undefined, values.kill ? "SIGKILL" : "SIGTERM");
      const downMs = Number(values["down-ms"] ?? 0);
      if (!Number.isFinite(downMs) || downMs < 0)
        throw new Error(`--down-ms wants milliseconds, found '${values["down-ms"]}'`);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      return resume(state);
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
      console.error(
        "usage: node --import tsx scripts/kafka/broker.ts start [--version X.Y.Z] | stop [--keep] [--kill] | " +
          "restart [--kill] [--down-ms N] | status",
      );
      return 2;
  }
}

/** Starts the recorded broker again on its data folder and ports, and records its new pid. */
async function resume(state: BrokerState): Promise<number> {
  const { brokers, pid } = await resumeBroker(state.dataDir, state.version);
  writeFileSync(STATE_FILE, `${JSON.stringify({ ...state, brokers, pid } satisfies BrokerState, null, 2)}\n`);
  console.error(`Kafka ${state.version} ready again at ${brokers} (pid ${pid}, data ${state.dataDir})`);
  console.log(`KAFKA_BROKERS=${brokers}`);
  return 0;
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
