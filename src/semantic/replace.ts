/**
 * Which redefinitions may run in place: the one rule behind `CREATE OR REPLACE` (the analyzer refuses the
 * rest) and behind `esql plan` (`in-place` versus `rebuild`, runtime/deploy/plan.ts).
 *
 * A definition replaced in place keeps its query id, its stores and its input offsets: the new definition
 * folds the records that come after, into the state the old one left. That is only right when the state
 * and the rows already written mean the same under both definitions. The rules follow what ksqlDB accepts
 * for `CREATE OR REPLACE` (its docs, "Evolving production queries", and its query-upgrade test cases):
 *
 * - The sink (ksqlDB's data source check): the same kind (STREAM/TABLE), topic, key and value formats,
 *   timestamp column and window; the key columns identical (names, types, order); every value column of the
 *   old definition still there, at the same position, with the same type. New value columns may only be
 *   added at the end (rows written before read them as NULL). This applies to declared sources too
 *   (`CREATE OR REPLACE STREAM s (...) WITH (...)` may add columns).
 * - The query (ksqlDB's execution-step check): filters (WHERE, HAVING) and projections may change freely;
 *   the FROM source (topic, formats, timestamp) may not; PARTITION BY must keep its expressions; an
 *   aggregation must keep its GROUP BY, its aggregate functions with their arguments, in order, and the
 *   input columns it reads (a WHERE that starts or stops reading a column is refused, as ksqlDB refuses it).
 *   Not replaceable in place at all, as in ksqlDB: joins, windowed aggregations and windowed sources,
 *   aggregations of tables, table functions (EXPLODE), EMIT FINAL; nor a stateless query turned stateful or
 *   back, nor a declared source turned into a query's output.
 *
 * Anything else is rebuilt by `esql apply` as a new version that replays the history.
 */
import { formatExpr } from "../logical/exprText.ts";
import { formatType } from "../types/sqltype.ts";
import type { AggregateColumn, AnalyzedFrom, AnalyzedQuery } from "./analyzed.ts";
import type { CatalogColumn, CatalogSource } from "./catalog.ts";
import { columnsOf, type TExpr } from "./typed.ts";

/** A stream or table as defined: its catalog entry and, when a query writes it, that query. */
export interface Definition {
  readonly sink: CatalogSource;
  /** The query that writes it; undefined for a declared source (or a query terminated since). */
  readonly query?: AnalyzedQuery;
}

/** What a redefinition would change that in-place replacement cannot keep. */
export interface Incompatibility {
  /** What changed, as "the aggregation", "the key columns", ... */
  readonly what: string;
  /** How it changed: "MAX(PRICE) became MIN(PRICE)". */
  readonly change: string;
  /** Why that cannot run in place: "the stored state would be misread". */
  readonly why: string;
}

/**
 * The first change that keeps `old`'s state from serving `neu` (undefined: `neu` may replace `old` in place).
 * `oldIsQuery` says whether a query wrote `old` (a terminated query leaves no state but still a query's sink).
 */
export function replaceIncompatibility(
  old: Definition,
  neu: Definition,
  oldIsQuery: boolean,
): Incompatibility | undefined {
  const newIsQuery = neu.query !== undefined;
  if (oldIsQuery !== newIsQuery)
    return {
      what: "the definition",
      change: oldIsQuery ? "a query's output became a declared source" : "a declared source became a query's output",
      why: "its topic would have two different writers",
    };
  return (
    sinkIncompatibility(old.sink, neu.sink) ??
    (old.query && neu.query ? queryIncompatibility(old.query, neu.query) : undefined)
  );
}

/** The message `CREATE OR REPLACE` refuses an incompatible redefinition with. */
export function replaceMessage(sink: CatalogSource, i: Incompatibility): string {
  return (
    `CREATE OR REPLACE cannot change ${i.what} of ${sink.sourceType.toLowerCase()} ${sink.name}: ${i.change}; ` +
    `${i.why}. Use \`esql apply\`, which rebuilds it as a new version.`
  );
}

const STATE = "the stored state would be misread";
const TOPIC_READERS = "readers of its topic would find records in two shapes";

function sinkIncompatibility(a: CatalogSource, b: CatalogSource): Incompatibility | undefined {
  const became = (what: string, x: unknown, y: unknown, why: string): Incompatibility | undefined =>
    fingerprint(x) === fingerprint(y) ? undefined : { what, change: `${text(x)} became ${text(y)}`, why };
  const problem =
    became("the topic", a.topic, b.topic, "its readers would lose it") ??
    became("the key format", formatText(a.keyFormat), formatText(b.keyFormat), TOPIC_READERS) ??
    became("the value format", formatText(a.valueFormat), formatText(b.valueFormat), TOPIC_READERS) ??
    became("the timestamp column", a.timestamp?.column ?? "ROWTIME", b.timestamp?.column ?? "ROWTIME", STATE) ??
    became("the window", windowText(a.window), windowText(b.window), STATE);
  if (problem) return problem;
  if (a.partitions !== undefined && b.partitions !== undefined && a.partitions !== b.partitions)
    return {
      what: "the partitions",
      change: `${a.partitions} became ${b.partitions}`,
      why: "its topic's keys would move between partitions",
    };
  const keys = (s: CatalogSource) => s.columns.filter((c) => c.namespace === "KEY").map(columnText);
  const ka = keys(a);
  const kb = keys(b);
  if (ka.join(", ") !== kb.join(", "))
    return {
      what: "the key columns",
      change: `${ka.join(", ") || "no key"} became ${kb.join(", ") || "no key"}`,
      why: "its rows would be keyed and partitioned differently",
    };
  const values = (s: CatalogSource) => s.columns.filter((c) => c.namespace !== "KEY").map(columnText);
  const va = values(a);
  const vb = values(b);
  const lost = va.filter((c, i) => vb[i] !== c);
  if (lost.length > 0)
    return {
      what: "the value columns",
      change: `${lost.join(", ")} ${lost.length === 1 ? "is" : "are"} changed, missing or moved (new columns may only be added at the end)`,
      why: "rows already written would be read with the wrong columns",
    };
  return undefined;
}

function queryIncompatibility(a: AnalyzedQuery, b: AnalyzedQuery): Incompatibility | undefined {
  const joinA = a.from.kind === "Join";
  const joinB = b.from.kind === "Join";
  if (joinA || joinB)
    return {
      what: joinA && joinB ? "the join query" : "the source",
      change:
        joinA && joinB
          ? "a query with a join is never replaced in place"
          : `FROM ${fromText(a.from)} became FROM ${fromText(b.from)}`,
      why: "the join's stored rows belong to the old definition",
    };
  if (a.window || b.window)
    return {
      what: "the windowed query",
      change: "a windowed aggregation (or a query over a windowed source) is never replaced in place",
      why: STATE,
    };
  if (a.tableFunctions.length > 0 || b.tableFunctions.length > 0)
    return {
      what: "the table-function query",
      change: "a query with table functions (EXPLODE, ...) is never replaced in place",
      why: "its offsets and the rows already written belong to the old definition",
    };
  if ((a.emit ?? "CHANGES") !== (b.emit ?? "CHANGES"))
    return { what: "EMIT", change: `EMIT ${a.emit ?? "CHANGES"} became EMIT ${b.emit ?? "CHANGES"}`, why: STATE };
  const fa = fromText(a.from);
  const fb = fromText(b.from);
  if (fa !== fb || fingerprint(sourceIdentity(a.from)) !== fingerprint(sourceIdentity(b.from)))
    return {
      what: "the source",
      change: fa === fb ? `the topic, formats or timestamp of ${fa} changed` : `FROM ${fa} became FROM ${fb}`,
      why: "its offsets belong to the old input",
    };
  const pa = a.partitionBy?.exprs.map(formatExpr).join(", ");
  const pb = b.partitionBy?.exprs.map(formatExpr).join(", ");
  if (pa !== pb)
    return {
      what: "PARTITION BY",
      change: `${pa === undefined ? "no PARTITION BY" : `PARTITION BY ${pa || "NULL"}`} became ${pb === undefined ? "no PARTITION BY" : `PARTITION BY ${pb || "NULL"}`}`,
      why: "its rows would be keyed differently",
    };
  const ga = a.aggregation;
  const gb = b.aggregation;
  if (!ga || !gb) {
    if (ga || gb)
      return {
        what: "the kind of query",
        change: ga ? "an aggregation became a stateless query" : "a stateless query became an aggregation",
        why: ga
          ? "rows already written would be read as the new query's"
          : "the aggregation would start from empty state and miss the history",
      };
    return undefined;
  }
  if (ga.fromTable || gb.fromTable)
    return {
      what: "the table aggregation",
      change: "an aggregation over a table is never replaced in place",
      why: STATE,
    };
  const groupA = ga.groupBy.map(formatExpr).join(", ");
  const groupB = gb.groupBy.map(formatExpr).join(", ");
  if (groupA !== groupB)
    return { what: "the GROUP BY", change: `GROUP BY ${groupA} became GROUP BY ${groupB}`, why: STATE };
  const aggsA = ga.aggregates.map((x) => aggregateText(x.call));
  const aggsB = gb.aggregates.map((x) => aggregateText(x.call));
  if (fingerprint(ga.aggregates.map((x) => x.call)) !== fingerprint(gb.aggregates.map((x) => x.call)))
    return { what: "the aggregation", change: listChange(aggsA, aggsB), why: STATE };
  const readA = [...inputColumns(a)].sort();
  const readB = [...inputColumns(b)].sort();
  if (readA.join(",") !== readB.join(","))
    return {
      what: "the input columns of the aggregation",
      change: `${readA.join(", ")} became ${readB.join(", ")}`,
      why: "ksqlDB refuses it too, its aggregation state carries those columns (a new WHERE may only use columns the query already reads)",
    };
  return undefined;
}

/** "MAX(PRICE) became MIN(PRICE)", "COUNT(*) was added", ... */
function listChange(a: readonly string[], b: readonly string[]): string {
  const prefix = (x: readonly string[], y: readonly string[]) => x.every((v, i) => y[i] === v);
  if (b.length > a.length && prefix(a, b)) {
    const added = b.slice(a.length);
    return `${added.join(", ")} ${added.length === 1 ? "was" : "were"} added`;
  }
  if (a.length > b.length && prefix(b, a)) {
    const removed = a.slice(b.length);
    return `${removed.join(", ")} ${removed.length === 1 ? "was" : "were"} removed`;
  }
  const changed = a.map((v, i) => [v, b[i]] as const).filter(([x, y]) => x !== y);
  if (a.length === b.length) return changed.map(([x, y]) => `${x} became ${y}`).join(", ");
  return `${a.join(", ")} became ${b.join(", ")}`;
}

/** `MAX(PRICE)`, `COUNT(*)`. */
function aggregateText(call: AggregateColumn["call"]): string {
  return call.args.length === 0 && call.name === "COUNT" ? "COUNT(*)" : formatExpr(call);
}

/** Input columns an aggregation reads: in WHERE, GROUP BY and the aggregates' arguments. */
function inputColumns(q: AnalyzedQuery): Set<string> {
  const out = new Set<string>();
  const add = (e: TExpr | undefined) => e && columnsOf(e, out);
  add(q.where);
  for (const g of q.aggregation?.groupBy ?? []) add(g);
  for (const x of q.aggregation?.aggregates ?? []) for (const arg of x.call.args) add(arg);
  return out;
}

function fromText(f: AnalyzedFrom): string {
  return f.kind === "Source" ? f.source.name : `${fromText(f.left)} JOIN ${f.right.source.name}`;
}

/** What an input is for in-place purposes (ksqlDB's source step): its topic, formats and timestamp, not its columns. */
function sourceIdentity(f: AnalyzedFrom): unknown {
  if (f.kind === "Join") return [sourceIdentity(f.left), sourceIdentity(f.right)];
  const s = f.source;
  return [s.name, s.sourceType, s.topic, s.keyFormat, s.valueFormat, s.timestamp, s.window];
}

function columnText(c: CatalogColumn): string {
  return `${c.name} ${formatType(c.type)}${c.namespace === "HEADER" ? " HEADER" : ""}`;
}

function formatText(f: CatalogSource["keyFormat"]): string {
  const props = Object.entries(f.properties);
  return props.length === 0 ? f.format : `${f.format} (${props.map(([k, v]) => `${k}=${v}`).join(", ")})`;
}

function windowText(w: CatalogSource["window"]): string {
  if (!w) return "no window";
  if (w.sizeMs === undefined) return `WINDOW ${w.type}`;
  const size = w.sizeMs % 1000 === 0 ? `${w.sizeMs / 1000} SECONDS` : `${w.sizeMs} MILLISECONDS`;
  return `WINDOW ${w.type} (SIZE ${size})`;
}

function text(x: unknown): string {
  return typeof x === "string" ? x : JSON.stringify(x);
}

const IGNORED = new Set(["span", "nameSpan", "sql", "text", "queryId", "writtenBy"]);

/** A canonical text of analyzed data without positions, texts and query ids: equal means same meaning. */
export function fingerprint(value: unknown): string {
  return JSON.stringify(value, (k, v: unknown) => {
    if (IGNORED.has(k)) return undefined;
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Map) return [...v.entries()];
    if (v instanceof Set) return [...v.values()];
    return v;
  });
}
