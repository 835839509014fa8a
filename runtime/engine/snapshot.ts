/** A materialized table's current rows, read from the stores of the query that writes it (`Engine.table`). */
import type { Catalog } from "../../src/compile.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import { BIGINT, type SqlType } from "../../src/types/sqltype.ts";
import { TABLE_STORE } from "../processors/sink.ts";
import type { PersistentQuery } from "../query/query.ts";
import { decodeKey } from "../state/keycodec.ts";

export interface TableSnapshot {
  readonly name: string;
  /** Key columns, then `WINDOWSTART`, `WINDOWEND` when windowed, then value columns. */
  readonly columns: readonly string[];
  /** The SQL type of each column, index for index (window bounds are BIGINT ms). */
  readonly types: readonly SqlType[];
  /** Values in the runtime representation (see `sqltype.ts`), in the order of `columns`. */
  readonly rows: unknown[][];
  readonly windowed: boolean;
}

/**
 * The current rows of table `name`, which a query materializes (CTAS). Windowed tables have one row per key and
 * window, with the window bounds as `WINDOWSTART`/`WINDOWEND`. `outputColumns` gives the column names of a
 * query's stored rows (its projection), by query id. Throws for an unknown or unmaterialized table.
 */
export async function tableSnapshot(
  catalog: Catalog,
  queries: ReadonlyMap<string, PersistentQuery>,
  outputColumns: (queryId: string) => readonly string[] | undefined,
  functions: FunctionRegistry,
  name: string,
): Promise<TableSnapshot> {
  const source = catalog.source(name);
  if (!source) throw new Error(`unknown table ${name}`);
  const q = source.writtenBy ? queries.get(source.writtenBy) : undefined;
  if (!q || source.sourceType !== "TABLE") throw new Error(`${name} is not a materialized table`);
  const keys = source.columns.filter((c) => c.namespace === "KEY");
  const values = source.columns.filter((c) => c.namespace === "VALUE");
  const windowed = source.window !== undefined;
  const bounds = windowed
    ? [
        { name: "WINDOWSTART", type: BIGINT },
        { name: "WINDOWEND", type: BIGINT },
      ]
    : [];
  const cols = [...keys, ...bounds, ...values];
  // Stored rows hold the projection's values in projection order; pick each column by name.
  const produced = outputColumns(q.id) ?? [];
  const picks = cols.map((c) => produced.indexOf(c.name));
  const rows: unknown[][] = [];
  const lastStage = q.plan.stages[q.plan.stages.length - 1]!.id;
  // Pull queries run alongside the processing loop: their reads keep a lost task's store open.
  await q.reading(async () => {
    for (const t of q.tasks) {
      if (t.stage.id !== lastStage) continue;
      const entries = q.plan.readTable ? q.plan.readTable(t.stateStore, functions) : t.stateStore.iterate(TABLE_STORE);
      for await (const [k, v] of entries) {
        const stored = (v as [unknown[], number])[0];
        // The store key of a windowed row ends with the window's start and end.
        const window = windowed ? decodeKey(k).slice(-2) : [];
        rows.push(
          cols.map((c, i) => {
            if (windowed && c.name === "WINDOWSTART" && i === keys.length) return window[0] ?? null;
            if (windowed && c.name === "WINDOWEND" && i === keys.length + 1) return window[1] ?? null;
            const at = picks[i]!;
            return at < 0 ? null : (stored[at] ?? null);
          }),
        );
      }
    }
  });
  return { name, columns: cols.map((c) => c.name), types: cols.map((c) => c.type), rows, windowed };
}
