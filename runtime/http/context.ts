/** What the server hands its routes: the engine, the options, the lock, body reading, running push queries. */
import type { DeployService } from "../deploy/service.ts";
import type { Engine } from "../engine/engine.ts";
import type { PushQuery } from "../engine/push.ts";
import type { BodyReader } from "./body.ts";
import type { CompilePool } from "./compile-pool.ts";
import type { Gate } from "./gate.ts";
import type { Req, Res } from "./protocol.ts";
import type { PullLatency } from "./routes/metrics.ts";
import type { ServerOptions } from "./server.ts";

/** A push query streaming to a client. */
export interface RunningPush {
  readonly query: PushQuery;
  /** Ends the stream (the client asked, or the server closes). */
  readonly stop: () => void;
  /** Settles when the query is closed and its stores are freed. */
  readonly done: Promise<unknown>;
}

export interface ServerContext {
  readonly engine: Engine;
  readonly options: ServerOptions;
  /** Statements hold it alone; queries and the background drain share it. */
  readonly gate: Gate;
  readonly body: BodyReader;
  /** Push queries streaming now, by query id. */
  readonly running: Map<string, RunningPush>;
  readonly pullLatency: PullLatency;
  /** Parses long SQL texts on worker threads (`parseRequestSql`), off the event loop. */
  readonly sqlParser: CompilePool;
  /** Exempts a request's body from the request timeout: the route reads it for as long as the client sends. */
  keepOpen(req: Req): void;
  /** Deploys to this service (plan, apply in the background, rollback, status). */
  readonly deploy: DeployService;
  /** Why background processing fails, while it does. */
  drainError(): string | undefined;
}

/** Handles one request; throws `HttpError` for an error answer. */
export type Handler = (req: Req, res: Res) => Promise<void>;

/** Handlers by `"METHOD /path"`. */
export type Routes = Readonly<Record<string, Handler>>;
