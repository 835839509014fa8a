/**
 * The command log: the topic where an engine records what it deployed, so that a restarted engine (or another
 * instance of the same service) applies the same statements and deploy steps in the same order.
 *
 * Two kinds of records, in one partition: statements (no key; the statement's text as value, and headers with
 * the session properties it ran with, the topology plan it started and the user functions that plan calls) and
 * deploy steps (key `esql-deploy`, `runtime/deploy/steps.ts`). This module encodes and decodes them and keeps
 * the reading position; what a record does when applied is the engine's business (`engine.ts`).
 */
import type { CompiledStatement } from "../../src/compile.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import type { EventLog, ProduceRecord } from "../log/types.ts";
import { decodeStep, encodeStep, type DeployStep } from "../deploy/steps.ts";
import type { UsedFunction } from "./functions.ts";

/** The command topic of a single instance; instances sharing a service id use `_esql-<serviceId>-commands`. */
export const COMMAND_TOPIC = "_esql_commands";
/** Header of a command-topic statement record: the session properties (JSON) it ran with. */
const PROPERTIES_HEADER = "esql-properties";
/** Header of a command-topic statement that started a query: its topology plan (JSON), run as recorded on replay. */
const PLAN_HEADER = "esql-plan";
/** Header of a command-topic statement whose plan calls user functions: their names and module hashes (JSON). */
const FUNCTIONS_HEADER = "esql-functions";

/** A statement as recorded in the command topic, with what it ran with. */
export interface RecordedStatement {
  readonly statement: string;
  /** The session properties when it ran (replayed with them: a query keeps the properties it was created with). */
  readonly properties?: Record<string, string>;
  /** The topology plan of the query it started: what runs on replay. */
  readonly plan?: TopologyPlan;
  /** The user functions that plan calls, with their modules' hashes. */
  readonly functions?: UsedFunction[];
}

/** One record of the command topic: a statement or a deploy step. */
export type Command = RecordedStatement | DeployStep;

export function isStatement(c: Command): c is RecordedStatement {
  return "statement" in c;
}

/** The service's command topic for `serviceId` (several instances), or the single instance's. */
export function commandTopicOf(serviceId: string | undefined): string {
  return serviceId !== undefined ? `_esql-${serviceId}-commands` : COMMAND_TOPIC;
}

/** A statement's text with its whitespace runs collapsed and the trailing `;` removed: how plans are matched. */
export function normalizeStatement(text: string): string {
  return text.replace(/\s+/g, " ").trim().replace(/;$/, "").trim();
}

/** Whether a statement changes what is deployed (and so belongs in the command topic). */
export function isRecorded(c: CompiledStatement): boolean {
  switch (c.statement.kind) {
    case "CreateSource":
    case "CreateAsSelect":
      // CREATE ... IF NOT EXISTS of a source that exists changes nothing (as in ksqlDB, it is not recorded).
      return c.analyzed?.kind !== "Other";
    case "InsertInto":
    case "DropSource":
    case "CreateType":
    case "DropType":
    case "Terminate":
      return true;
    default:
      return false;
  }
}

/**
 * One engine's view of its command topic: where it has read up to, and which records it appended itself (which
 * following the topic skips: they are applied already).
 */
export class CommandLog {
  /** The next offset to read. */
  private position = 0;
  /** Offsets this engine appended beyond {@link position} (another instance appended in between). */
  private readonly own = new Set<number>();

  constructor(
    private readonly log: EventLog,
    readonly topic: string,
  ) {}

  /** Creates the topic when missing and positions at its beginning (a replay reads everything). */
  async open(): Promise<void> {
    await this.log.createTopic(this.topic, { partitions: 1, config: { cleanupPolicy: "delete" } });
    this.position = await this.log.beginningOffset(this.topic, 0);
  }

  /** The commands appended after the position by others (everything on open), in order; moves the position to the end. */
  async readNew(): Promise<Command[]> {
    const end = await this.log.endOffset(this.topic, 0);
    const commands: Command[] = [];
    let offset = this.position;
    while (offset < end) {
      const batch = await this.log.read(this.topic, 0, offset, 1000);
      for (const r of batch) {
        if (!r.value || this.own.has(r.offset)) continue;
        const header = (key: string) => {
          const value = r.headers.find((h) => h.key === key)?.value;
          return value ? (JSON.parse(value.toString("utf8")) as unknown) : undefined;
        };
        const properties = header(PROPERTIES_HEADER) as Record<string, string> | undefined;
        const plan = header(PLAN_HEADER) as TopologyPlan | undefined;
        const functions = header(FUNCTIONS_HEADER) as UsedFunction[] | undefined;
        commands.push(
          decodeStep(r.key, r.value) ?? {
            statement: r.value.toString("utf8"),
            ...(properties ? { properties } : {}),
            ...(plan ? { plan } : {}),
            ...(functions ? { functions } : {}),
          },
        );
      }
      offset = batch.length > 0 ? batch[batch.length - 1]!.offset + 1 : end;
    }
    this.position = Math.max(this.position, end);
    return commands;
  }

  /** Appends a statement with what it ran with; returns its offset. */
  appendStatement(s: RecordedStatement): Promise<number> {
    const headers = [
      ...(s.properties && Object.keys(s.properties).length > 0
        ? [{ key: PROPERTIES_HEADER, value: Buffer.from(JSON.stringify(s.properties)) }]
        : []),
      // The plan the query runs: a restarted engine runs it as recorded, it does not plan the SQL again.
      ...(s.plan ? [{ key: PLAN_HEADER, value: Buffer.from(JSON.stringify(s.plan)) }] : []),
      // Which user functions (and which code of them: the module's hash) the plan calls.
      ...(s.functions && s.functions.length > 0
        ? [{ key: FUNCTIONS_HEADER, value: Buffer.from(JSON.stringify(s.functions)) }]
        : []),
    ];
    return this.append({ key: null, value: Buffer.from(s.statement), ...(headers.length > 0 ? { headers } : {}) });
  }

  /** Appends a deploy step; returns its offset. */
  appendStep(step: DeployStep): Promise<number> {
    return this.append(encodeStep(step));
  }

  /** Appends a record, remembering its offset so that following the topic skips it. */
  private async append(record: ProduceRecord): Promise<number> {
    const [at] = await this.log.append(this.topic, [record]);
    if (at!.offset === this.position) this.position++;
    else this.own.add(at!.offset);
    return at!.offset;
  }
}
