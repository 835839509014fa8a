/**
 * esql's public TypeScript API: what a Node service needs to compile `.esql` scripts, run them on the
 * embedded log (or any {@link EventLog}, e.g. Kafka), query the materialized tables, and serve them.
 *
 * ```ts
 * import { Engine } from "esql";
 * const engine = await Engine.open({ dataDir: ".esql" });          // embedded log in .esql/log
 * await engine.execute(readFileSync("bank.esql", "utf8"));         // diagnostics, never throws for bad SQL
 * await engine.drain();                                             // fold what the topics hold
 * const { rows, diagnostics } = await engine.pull("SELECT * FROM balances WHERE account = 'a';");
 * const sub = await engine.subscribe("SELECT * FROM moves EMIT CHANGES;");
 * if (sub.ok) for await (const row of sub.query) console.log(row);  // `break` closes the query
 * await engine.close();
 * ```
 *
 * Values are in the runtime representation documented in `src/types/sqltype.ts` (DECIMAL as a bigint
 * unscaled value, MAP as a JS Map, ...).
 */
export { compileScript } from "./compile.ts";
export type { CompileOptions, CompileResult, CompiledStatement } from "./compile.ts";
export type { Diagnostic, Span, Severity } from "./diagnostics/diagnostic.ts";
export { renderDiagnostic } from "./diagnostics/render.ts";
export { formatType } from "./types/sqltype.ts";
export type { SqlType } from "./types/sqltype.ts";
export { Engine } from "../runtime/engine/engine.ts";
export type { EngineOptions, ExecuteResult, StatementResult, TableSnapshot } from "../runtime/engine/engine.ts";
export type { PullOutcome, SubscribeOutcome } from "../runtime/engine/queries.ts";
export type { PullResult } from "../runtime/engine/pull.ts";
export { isTombstone } from "../runtime/engine/push.ts";
export type { PushQuery, QueryColumn } from "../runtime/engine/push.ts";
export { EmbeddedLog } from "../runtime/log/embedded.ts";
export type { EventLog, LogRecord, ProduceRecord } from "../runtime/log/types.ts";
export { startServer } from "../runtime/http/server.ts";
export type { RunningServer, ServerOptions } from "../runtime/http/server.ts";
export type { UserAggregate, UserFunction, UserScalar, UserTable } from "./functions/user.ts";
export { FunctionLoadError, loadFunctions } from "../runtime/engine/functions.ts";
