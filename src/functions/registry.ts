/**
 * The function registry: every built-in function, by upper-case name. One registry serves the compiler
 * (resolve, DESCRIBE FUNCTION, SHOW FUNCTIONS) and the runtime (implementations).
 *
 * Runtime errors: an implementation may throw (an `Error`, usually `SqlRuntimeError` from values.ts) when
 * its input data is bad (unparseable date text, unknown encoding, ...). ksqlDB makes the failing call's
 * result NULL and logs the record to the processing log, and the query goes on; callers must do the same
 * (catch around the call, not around the whole row: `IFNULL(PARSE_DATE(x, ...), ...)` relies on it).
 *
 * Time-unit arguments (TIMESTAMPADD(SECONDS, 5, ts)) are typed STRING: the analyzer passes the unit keyword
 * as a STRING literal.
 */
import { aggregateFunctions } from "./aggregates.ts";
import { collectionFunctions } from "./collections.ts";
import { conversionFunctions } from "./conversion.ts";
import { datetimeFunctions } from "./datetime.ts";
import { jsonFunctions } from "./json.ts";
import { mathFunctions } from "./math.ts";
import { nullFunctions } from "./nulls.ts";
import { stringFunctions } from "./string.ts";
import { tableFunctions } from "./table.ts";
import type { FunctionDef, FunctionRegistry } from "./types.ts";
import { urlFunctions } from "./url.ts";

/** Builds a registry from definitions; a duplicate name is a bug. */
export function createRegistry(defs: readonly FunctionDef[]): FunctionRegistry {
  const byName = new Map<string, FunctionDef>();
  for (const d of defs) {
    if (byName.has(d.name)) throw new Error(`duplicate function ${d.name}`);
    byName.set(d.name, d);
  }
  const sorted = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { get: (name) => byName.get(name.toUpperCase()), all: () => sorted };
}

export const functions: FunctionRegistry = createRegistry([
  ...stringFunctions,
  ...mathFunctions,
  ...nullFunctions,
  ...datetimeFunctions,
  ...collectionFunctions,
  ...jsonFunctions,
  ...urlFunctions,
  ...conversionFunctions,
  ...aggregateFunctions,
  ...tableFunctions,
]);
