/**
 * The logical plan: a tree of relational operators built from an analyzed query. Plain readonly data.
 *
 * Row model: every node produces rows of named columns (`schema`); expressions above a node refer to
 * its columns by name (`Column` nodes). Pseudo columns (ROWTIME, ROWPARTITION, ROWOFFSET and, when
 * windowed, WINDOWSTART/WINDOWEND) travel with every row; a join side's are prefixed like its other
 * columns (`L_ROWTIME`). Key columns are marked `KEY`.
 */
import type { SqlType } from "../types/sqltype.ts";
import { assertNever } from "../types/never.ts";
import type {
  AggregateColumn,
  AnalyzedFrom,
  AnalyzedQuery,
  JoinKind,
  OutputColumn,
  WindowSpec,
} from "../semantic/analyzed.ts";
import type { CatalogSource, FormatSpec, TimestampSpec } from "../semantic/catalog.ts";
import type { AnalyzedStatement } from "../semantic/statements.ts";
import type { TExpr } from "../semantic/typed.ts";

export interface PlanColumn {
  readonly name: string;
  readonly type: SqlType;
  readonly namespace: "KEY" | "VALUE" | "HEADER" | "PSEUDO";
  readonly headerKey?: string;
}

export type LogicalNode =
  | {
      readonly kind: "Source";
      readonly source: string;
      readonly alias: string;
      readonly sourceType: "STREAM" | "TABLE";
      readonly topic: string;
      readonly keyFormat: FormatSpec;
      readonly valueFormat: FormatSpec;
      readonly timestamp?: TimestampSpec;
      readonly window?: CatalogSource["window"];
      /** Join sides name their columns `ALIAS_COL`; a lone source uses the plain names. */
      readonly prefix?: string;
      /** Every column the topic's records carry (decoding needs them all), unprefixed. */
      readonly sourceColumns: readonly PlanColumn[];
      /** The columns downstream operators use (pruneColumns narrows it), prefixed when `prefix`. */
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Filter";
      readonly input: LogicalNode;
      readonly predicate: TExpr;
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Repartition";
      readonly input: LogicalNode;
      /** The new key: one expression per key column, over the input row. Empty: no key (PARTITION BY NULL). */
      readonly keys: readonly { readonly name: string; readonly expr: TExpr }[];
      readonly reason: "PARTITION BY" | "GROUP BY" | "JOIN";
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Join";
      readonly joinType: "INNER" | "LEFT" | "RIGHT" | "FULL";
      readonly joinKind: JoinKind;
      readonly left: LogicalNode;
      readonly right: LogicalNode;
      readonly leftKey: TExpr;
      readonly rightKey: TExpr;
      readonly within?: {
        readonly beforeMs: number;
        readonly afterMs: number;
        readonly graceMs?: number;
      };
      /** The joined row's key column (`ROWKEY` when synthetic). */
      readonly keyName: string;
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Aggregate";
      readonly input: LogicalNode;
      readonly groupBy: readonly {
        readonly name: string;
        readonly expr: TExpr;
      }[];
      readonly aggregates: readonly AggregateColumn[];
      readonly window?: WindowSpec;
      /** Input is a table: updates retract the old row's contribution. */
      readonly fromTable: boolean;
      readonly emit: "CHANGES" | "FINAL";
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Having";
      readonly input: LogicalNode;
      readonly predicate: TExpr;
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "TableFunction";
      readonly input: LogicalNode;
      readonly functions: readonly {
        readonly name: string;
        readonly call: Extract<TExpr, { kind: "TableFunctionCall" }>;
      }[];
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Project";
      readonly input: LogicalNode;
      readonly columns: readonly OutputColumn[];
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Limit";
      readonly input: LogicalNode;
      readonly count: number;
      readonly schema: readonly PlanColumn[];
    }
  | {
      readonly kind: "Sink";
      readonly input: LogicalNode;
      readonly sink: string;
      readonly sinkType: "STREAM" | "TABLE";
      readonly topic: string;
      readonly keyFormat: FormatSpec;
      readonly valueFormat: FormatSpec;
      readonly timestamp?: TimestampSpec;
      readonly window?: WindowSpec;
      /** INSERT INTO an existing stream (vs. CSAS/CTAS creating it). */
      readonly insert: boolean;
      readonly schema: readonly PlanColumn[];
    }
  | {
      /** A transient query's result, sent to the client. */
      readonly kind: "Output";
      readonly input: LogicalNode;
      readonly pull: boolean;
      readonly resultType: "STREAM" | "TABLE";
      readonly window?: WindowSpec;
      readonly schema: readonly PlanColumn[];
    };

export interface LogicalPlan {
  /** The persistent query id (`CSAS_OUTPUT_0`...), or a stable transient id for SELECTs. */
  readonly queryId: string;
  readonly root: LogicalNode;
}

/** The inputs of a node. */
export function inputsOf(n: LogicalNode): LogicalNode[] {
  switch (n.kind) {
    case "Source":
      return [];
    case "Join":
      return [n.left, n.right];
    case "Filter":
    case "Repartition":
    case "Aggregate":
    case "Having":
    case "TableFunction":
    case "Project":
    case "Limit":
    case "Sink":
    case "Output":
      return [n.input];
    default:
      return assertNever(n, "logical node");
  }
}

/** A node with its inputs replaced (same order as {@link inputsOf}). */
export function withInputs(n: LogicalNode, inputs: readonly LogicalNode[]): LogicalNode {
  switch (n.kind) {
    case "Source":
      return n;
    case "Join":
      return { ...n, left: inputs[0]!, right: inputs[1]! };
    case "Filter":
    case "Repartition":
    case "Aggregate":
    case "Having":
    case "TableFunction":
    case "Project":
    case "Limit":
    case "Sink":
    case "Output":
      return { ...n, input: inputs[0]! };
    default:
      return assertNever(n, "logical node");
  }
}

/** A deterministic transient query id: FNV-1a of the statement text. */
export function transientQueryId(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `TRANSIENT_${h.toString(16).toUpperCase().padStart(8, "0")}`;
}

const PSEUDO: readonly { name: string; type: SqlType }[] = [
  { name: "ROWTIME", type: { kind: "BIGINT" } },
  { name: "ROWPARTITION", type: { kind: "INTEGER" } },
  { name: "ROWOFFSET", type: { kind: "BIGINT" } },
];
const BOUNDS = ["WINDOWSTART", "WINDOWEND"];

function sourceNode(alias: string, s: CatalogSource, prefixed: boolean): LogicalNode {
  const p = prefixed ? `${alias}_` : "";
  const sourceColumns: PlanColumn[] = s.columns.map((c) => ({
    name: c.name,
    type: c.type,
    namespace: c.namespace,
    ...(c.headerKey !== undefined ? { headerKey: c.headerKey } : {}),
  }));
  const pseudo = [
    ...PSEUDO,
    ...(s.window ? BOUNDS.map((b) => ({ name: b, type: { kind: "BIGINT" } as SqlType })) : []),
  ];
  const schema: PlanColumn[] = [
    ...sourceColumns.map((c) => ({ ...c, name: p + c.name })),
    ...pseudo.map((x) => ({
      name: p + x.name,
      type: x.type,
      namespace: "PSEUDO" as const,
    })),
  ];
  return {
    kind: "Source",
    source: s.name,
    alias,
    sourceType: s.sourceType,
    topic: s.topic,
    keyFormat: s.keyFormat,
    valueFormat: s.valueFormat,
    ...(s.timestamp ? { timestamp: s.timestamp } : {}),
    ...(s.window ? { window: s.window } : {}),
    ...(prefixed ? { prefix: p } : {}),
    sourceColumns,
    schema,
  };
}

function keyColumnsOf(n: LogicalNode): string[] {
  return n.schema.filter((c) => c.namespace === "KEY").map((c) => c.name);
}

function rekey(
  input: LogicalNode,
  keys: { name: string; expr: TExpr }[],
  reason: "PARTITION BY" | "GROUP BY" | "JOIN",
): LogicalNode {
  const names = new Set(keys.map((k) => k.name));
  const schema: PlanColumn[] = [
    ...keys.map((k) => ({
      name: k.name,
      type: k.expr.type,
      namespace: "KEY" as const,
    })),
    ...input.schema
      .filter((c) => !names.has(c.name))
      .map((c) => (c.namespace === "KEY" ? { ...c, namespace: "VALUE" as const } : c)),
  ];
  return { kind: "Repartition", input, keys, reason, schema };
}

function buildFrom(f: AnalyzedFrom, prefixed: boolean): LogicalNode {
  if (f.kind === "Source") return sourceNode(f.alias, f.source, prefixed);
  let left = buildFrom(f.left, true);
  let right = sourceNode(f.right.alias, f.right.source, true);
  if (f.repartitionLeft) left = rekey(left, [{ name: keyName(f.leftExpr, "JOIN_LEFT_KEY"), expr: f.leftExpr }], "JOIN");
  if (f.repartitionRight)
    right = rekey(right, [{ name: keyName(f.rightExpr, "JOIN_RIGHT_KEY"), expr: f.rightExpr }], "JOIN");
  const schema: PlanColumn[] = f.columns.map((c) => ({
    name: c.name,
    type: c.type,
    namespace: c.namespace,
  }));
  return {
    kind: "Join",
    joinType: f.joinType,
    joinKind: f.joinKind,
    left,
    right,
    leftKey: f.leftExpr,
    rightKey: f.rightExpr,
    ...(f.within ? { within: f.within } : {}),
    keyName: f.keyName,
    schema,
  };
}

const keyName = (e: TExpr, fallback: string) => (e.kind === "Column" ? e.name : fallback);

/** The operator tree of a query, up to (not including) the sink/output. */
export function buildQueryNode(q: AnalyzedQuery): LogicalNode {
  let node = buildFrom(q.from, false);
  if (q.where)
    node = {
      kind: "Filter",
      input: node,
      predicate: q.where,
      schema: node.schema,
    };
  const agg = q.aggregation;
  if (agg) {
    const groupBy = agg.groupBy.map((expr, i) => ({
      name: agg.keyNames[i]!,
      expr,
    }));
    // Grouping by exactly the input's key needs no repartition.
    const inputKeys = keyColumnsOf(node);
    const sameKey =
      groupBy.length === inputKeys.length &&
      groupBy.every((g, i) => g.expr.kind === "Column" && g.expr.name === inputKeys[i]);
    if (!sameKey) node = rekey(node, groupBy, "GROUP BY");
    const pseudo: PlanColumn[] = [
      { name: "ROWTIME", type: { kind: "BIGINT" }, namespace: "PSEUDO" },
      ...(agg.window
        ? BOUNDS.map((b) => ({
            name: b,
            type: { kind: "BIGINT" } as SqlType,
            namespace: "PSEUDO" as const,
          }))
        : []),
    ];
    const schema: PlanColumn[] = [
      ...groupBy.map((g) => ({
        name: g.name,
        type: g.expr.type,
        namespace: "KEY" as const,
      })),
      ...agg.aggregates.map((a) => ({
        name: a.name,
        type: a.call.type,
        namespace: "VALUE" as const,
      })),
      ...pseudo,
    ];
    node = {
      kind: "Aggregate",
      input: node,
      groupBy,
      aggregates: agg.aggregates,
      ...(agg.window ? { window: agg.window } : {}),
      fromTable: agg.fromTable,
      emit: q.emit === "FINAL" ? "FINAL" : "CHANGES",
      schema,
    };
    if (agg.having)
      node = {
        kind: "Having",
        input: node,
        predicate: agg.having,
        schema: node.schema,
      };
  }
  if (q.partitionBy)
    node = rekey(
      node,
      q.partitionBy.exprs.map((expr, i) => ({
        name: q.partitionBy!.keyNames[i] ?? `KSQL_COL_${i}`,
        expr,
      })),
      "PARTITION BY",
    );
  if (q.tableFunctions.length) {
    const schema: PlanColumn[] = [
      ...node.schema,
      ...q.tableFunctions.map((t) => ({
        name: t.name,
        type: t.call.type,
        namespace: "VALUE" as const,
      })),
    ];
    node = {
      kind: "TableFunction",
      input: node,
      functions: q.tableFunctions,
      schema,
    };
  }
  const projSchema: PlanColumn[] = q.projection.map((c) => ({
    name: c.name,
    type: c.type,
    namespace: c.namespace,
  }));
  node = {
    kind: "Project",
    input: node,
    columns: q.projection,
    schema: projSchema,
  };
  if (q.limit !== undefined) node = { kind: "Limit", input: node, count: q.limit, schema: node.schema };
  return node;
}

/**
 * The logical plan of a statement that runs a query (CSAS, CTAS, INSERT INTO ... SELECT, SELECT), else
 * undefined. `text` is the statement text (for the transient query id).
 */
export function buildLogicalPlan(a: AnalyzedStatement, text = ""): LogicalPlan | undefined {
  switch (a.kind) {
    case "CreateAsSelect":
    case "InsertInto": {
      const input = buildQueryNode(a.query);
      const s = a.sink;
      return {
        queryId: a.queryId,
        root: {
          kind: "Sink",
          input,
          sink: s.name,
          sinkType: s.sourceType,
          topic: s.topic,
          keyFormat: s.keyFormat,
          valueFormat: s.valueFormat,
          ...(s.timestamp ? { timestamp: s.timestamp } : {}),
          ...(a.query.window ? { window: a.query.window } : {}),
          insert: a.kind === "InsertInto",
          schema: input.schema,
        },
      };
    }
    case "Query": {
      const input = buildQueryNode(a.query);
      return {
        queryId: transientQueryId(text),
        root: {
          kind: "Output",
          input,
          pull: a.query.pull,
          resultType: a.query.resultType,
          ...(a.query.window ? { window: a.query.window } : {}),
          schema: input.schema,
        },
      };
    }
    case "Explain":
      return buildLogicalPlan(a.inner, text);
    // Statements without a query: nothing to plan.
    case "CreateSource":
    case "InsertValues":
    case "DropSource":
    case "Other":
      return undefined;
    default:
      return assertNever(a, "statement");
  }
}
