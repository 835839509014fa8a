/**
 * A request's session: its properties (`streamsProperties` / `properties`) and `sessionVariables`, which
 * ksqlDB scopes to the one request.
 */
import { STREAMS_PREFIX } from "../../src/plan/properties.ts";
import type { Engine } from "../engine/engine.ts";

/** A property or variable value as a request body may hold it. */
type Scalar = string | number | boolean | null | undefined;

/**
 * Property values as the engine takes them (strings; nulls left out). A name with ksqlDB's `ksql.streams.`
 * prefix is also set without it (unless the request sets that too), so the runtime's readers, which read
 * the bare Kafka Streams names, see `ksql.streams.auto.offset.reset` as ksqlDB does.
 */
export function requestProperties(p: Readonly<Record<string, Scalar>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p ?? {})) if (v !== null && v !== undefined) out[k] = String(v);
  for (const [k, v] of Object.entries(out)) {
    if (!k.startsWith(STREAMS_PREFIX)) continue;
    const bare = k.slice(STREAMS_PREFIX.length);
    if (!(bare in out)) out[bare] = v;
  }
  return out;
}

/** Session variables as `${name}` substitutions: names are case-insensitive (upper case), values text. */
export function sessionVariables(v: Readonly<Record<string, Scalar>> | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, value] of Object.entries(v ?? {})) {
    if (value !== null && value !== undefined) out.set(k.toUpperCase(), String(value));
  }
  return out;
}

/**
 * Runs `f` with `properties` and `variables` added to the engine's for its duration (the caller holds the
 * server's gate alone while it does), then puts the engine's own back.
 */
export async function withSession<T>(
  engine: Engine,
  properties: Readonly<Record<string, string>>,
  variables: ReadonlyMap<string, string>,
  f: () => Promise<T>,
): Promise<T> {
  const savedProps = { ...engine.properties };
  const savedVars = new Map(engine.variables);
  Object.assign(engine.properties, properties);
  for (const [k, v] of variables) engine.variables.set(k, v);
  try {
    return await f();
  } finally {
    for (const k of Object.keys(engine.properties)) if (!(k in savedProps)) delete engine.properties[k];
    Object.assign(engine.properties, savedProps);
    engine.variables.clear();
    for (const [k, v] of savedVars) engine.variables.set(k, v);
  }
}
