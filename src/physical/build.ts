/**
 * Logical plan → physical plan: assigns step ids, store and internal topic names (all derived from the
 * query id and the step id, so deterministic), resolves schemas, and turns pull queries' table access into
 * key lookups where the WHERE clause pins the key.
 */
import type { LogicalNode, LogicalPlan, PlanColumn } from "../logical/plan.ts";
import { accessPath } from "./select-build.ts";
import { PHYSICAL_PLAN_VERSION, type PhysicalColumn, type PhysicalPlan, type PhysicalStep } from "./plan.ts";

export interface PhysicalOptions {
  /** Session properties (reserved for settings that change the physical plan). */
  readonly properties?: Readonly<Record<string, string>>;
}

const col = (c: PlanColumn): PhysicalColumn => ({ name: c.name, type: c.type });
const cols = (n: LogicalNode) => n.schema.map((c) => ({ name: c.name, type: c.type, namespace: c.namespace }));

export function buildPhysicalPlan(plan: LogicalPlan, _options: PhysicalOptions = {}): PhysicalPlan {
  const counters = new Map<string, number>();
  const stores: string[] = [];
  const internalTopics: string[] = [];
  const sourceTopics: string[] = [];
  const id = (op: string) => {
    const n = counters.get(op) ?? 0;
    counters.set(op, n + 1);
    return `${op}_${n}`;
  };
  const store = (stepId: string, suffix = "") => {
    const s = `${plan.queryId}-${stepId}${suffix}`;
    stores.push(s);
    return s;
  };
  const pull = plan.root.kind === "Output" && plan.root.pull;

  const build = (n: LogicalNode): PhysicalStep => {
    switch (n.kind) {
      case "Source": {
        if (!sourceTopics.includes(n.topic)) sourceTopics.push(n.topic);
        const sid = id("Source");
        return {
          op: "Source",
          id: sid,
          table: n.sourceType === "TABLE",
          columns: cols(n),
          source: n.source,
          sourceType: n.sourceType,
          topic: n.topic,
          keyFormat: n.keyFormat,
          valueFormat: n.valueFormat,
          keySchema: n.sourceColumns.filter((c) => c.namespace === "KEY").map(col),
          valueSchema: n.sourceColumns.filter((c) => c.namespace === "VALUE").map(col),
          headers: n.sourceColumns
            .filter((c) => c.namespace === "HEADER")
            .map((c) => ({
              ...col(c),
              ...(c.headerKey !== undefined ? { key: c.headerKey } : {}),
            })),
          timestamp: n.timestamp ?? null,
          window: n.window ?? null,
          prefix: n.prefix ?? "",
          store: n.sourceType === "TABLE" ? store(sid) : null,
        };
      }
      case "Filter":
      case "Having": {
        const input = build(n.input);
        return {
          op: "Filter",
          id: id(n.kind === "Having" ? "Having" : "Filter"),
          table: input.table,
          columns: cols(n),
          input,
          predicate: n.predicate,
        };
      }
      case "Repartition": {
        const input = build(n.input);
        const sid = id("Repartition");
        const topic = `${plan.queryId}-${sid}-repartition`;
        internalTopics.push(topic);
        return {
          op: "Repartition",
          id: sid,
          table: input.table,
          columns: cols(n),
          input,
          keys: n.keys.map((k) => ({
            name: k.name,
            type: k.expr.type,
            expr: k.expr,
          })),
          topic,
        };
      }
      case "Join": {
        const left = build(n.left);
        const right = build(n.right);
        const sid = id("Join");
        return {
          op: "Join",
          id: sid,
          table: n.joinKind === "TABLE_TABLE" || n.joinKind === "FOREIGN_KEY",
          columns: cols(n),
          joinType: n.joinType,
          joinKind: n.joinKind,
          left,
          right,
          leftKey: n.leftKey,
          rightKey: n.rightKey,
          keyName: n.keyName,
          window: n.within
            ? {
                beforeMs: n.within.beforeMs,
                afterMs: n.within.afterMs,
                graceMs: n.within.graceMs ?? null,
              }
            : null,
          leftStore: store(sid, "-left"),
          rightStore: store(sid, "-right"),
        };
      }
      case "Aggregate": {
        const input = build(n.input);
        const sid = id("Aggregate");
        return {
          op: "Aggregate",
          id: sid,
          table: true,
          columns: cols(n),
          input,
          keys: n.groupBy.map((g) => ({
            name: g.name,
            type: g.expr.type,
            expr: g.expr,
          })),
          aggregates: n.aggregates.map((a) => ({
            name: a.name,
            function: a.call.name,
            argTypes: a.call.argTypes,
            args: a.call.args,
            returnType: a.call.type,
          })),
          window: n.window ?? null,
          emit: n.emit,
          fromTable: n.fromTable,
          store: store(sid),
        };
      }
      case "TableFunction": {
        const input = build(n.input);
        return {
          op: "TableFunction",
          id: id("TableFunction"),
          table: false,
          columns: cols(n),
          input,
          functions: n.functions.map((f) => ({
            name: f.name,
            function: f.call.name,
            argTypes: f.call.argTypes,
            args: f.call.args,
            returnType: f.call.type,
          })),
        };
      }
      case "Project": {
        const input = pull ? buildPullInput(n.input) : build(n.input);
        const computed = (ns: "KEY" | "VALUE") =>
          n.columns.filter((c) => c.namespace === ns).map((c) => ({ name: c.name, type: c.type, expr: c.expr }));
        return {
          op: "Project",
          id: id("Project"),
          table: input.table,
          columns: cols(n),
          input,
          key: computed("KEY"),
          value: computed("VALUE"),
        };
      }
      case "Limit": {
        const input = build(n.input);
        return {
          op: "Limit",
          id: id("Limit"),
          table: input.table,
          columns: cols(n),
          input,
          count: n.count,
        };
      }
      case "Sink": {
        const input = build(n.input);
        return {
          op: "Sink",
          id: id("Sink"),
          table: input.table,
          columns: cols(n),
          input,
          sink: n.sink,
          sinkType: n.sinkType,
          topic: n.topic,
          keyFormat: n.keyFormat,
          valueFormat: n.valueFormat,
          keySchema: n.schema.filter((c) => c.namespace === "KEY").map(col),
          valueSchema: n.schema.filter((c) => c.namespace === "VALUE").map(col),
          timestamp: n.timestamp ?? null,
          window: n.window ?? null,
        };
      }
      case "Output": {
        const input = build(n.input);
        return {
          op: "Output",
          id: id("Output"),
          table: input.table,
          columns: cols(n),
          input,
          keySchema: n.schema.filter((c) => c.namespace === "KEY").map(col),
          valueSchema: n.schema.filter((c) => c.namespace === "VALUE").map(col),
        };
      }
    }
  };

  /** A pull query reads the table's materialized state: Source [+ Filter] becomes a lookup [+ Filter]. */
  const buildPullInput = (n: LogicalNode): PhysicalStep => {
    const filter = n.kind === "Filter" ? n : undefined;
    const src = filter ? filter.input : n;
    if (src.kind !== "Source") return build(n);
    if (!sourceTopics.includes(src.topic)) sourceTopics.push(src.topic);
    // The access path the runtime takes (the same analysis: `planTableRead` in select-build.ts).
    const keys = src.schema.filter((c) => c.namespace === "KEY").map((c) => ({ ...c, namespace: "KEY" as const }));
    const lookup: PhysicalStep = {
      op: "TableLookup",
      id: id("TableLookup"),
      table: src.sourceType === "TABLE",
      columns: cols(src),
      source: src.source,
      prefix: src.prefix ?? "",
      access: accessPath(filter?.predicate, keys, src.window !== undefined),
      window: src.window ?? null,
    };
    // The full predicate stays: the lookup narrows, the filter decides (window bounds, other columns).
    return filter
      ? {
          op: "Filter",
          id: id("Filter"),
          table: lookup.table,
          columns: cols(filter),
          input: lookup,
          predicate: filter.predicate,
        }
      : lookup;
  };

  const root = build(plan.root);
  return {
    version: PHYSICAL_PLAN_VERSION,
    queryId: plan.queryId,
    kind: plan.root.kind === "Sink" ? "PERSISTENT" : pull ? "PULL" : "PUSH",
    sourceTopics,
    sinkTopic: plan.root.kind === "Sink" ? plan.root.topic : null,
    internalTopics,
    stores,
    root,
  };
}
