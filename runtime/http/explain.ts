/**
 * ksqlDB's `queryDescription` entity for EXPLAIN over the REST API: the query's id, statement, schema,
 * sources and sinks, and as `topology` and `executionPlan` the description of the topology plan it runs
 * (a running query's own plan for `EXPLAIN <query id>`, the plan the statement would run otherwise).
 */
import { formatTopology, type CompiledStatement } from "../../src/compile.ts";
import type { TopologyPlan } from "../../src/plan/topology.ts";
import type { SqlType } from "../../src/types/sqltype.ts";
import type { Engine } from "../engine/engine.ts";

interface FieldSchema {
  readonly type: string;
  readonly fields: readonly { readonly name: string; readonly schema: FieldSchema }[] | null;
  readonly memberSchema: FieldSchema | null;
}

/** A SQL type as ksqlDB's REST entities write a field's schema. */
function fieldSchema(t: SqlType): FieldSchema {
  switch (t.kind) {
    case "ARRAY":
      return { type: "ARRAY", fields: null, memberSchema: fieldSchema(t.element) };
    case "MAP":
      return { type: "MAP", fields: null, memberSchema: fieldSchema(t.value) };
    case "STRUCT":
      return {
        type: "STRUCT",
        fields: t.fields.map((f) => ({ name: f.name, schema: fieldSchema(f.type) })),
        memberSchema: null,
      };
    case "STRING":
      return { type: "STRING", fields: null, memberSchema: null };
    default:
      return { type: t.kind, fields: null, memberSchema: null };
  }
}

/**
 * The entity for an executed EXPLAIN, or undefined when it explains nothing that runs a topology (then the
 * caller answers as for other statements).
 */
export function explainEntity(engine: Engine, compiled: CompiledStatement, statementText: string): object | undefined {
  const st = compiled.statement;
  if (st.kind !== "Explain") return undefined;
  let plan: TopologyPlan | undefined;
  let text: string;
  let state = "UNKNOWN";
  if (st.queryId !== undefined) {
    const running = engine.queries.get(st.queryId);
    plan = running?.plan.topology;
    text = engine.catalog.queries.get(st.queryId)?.sql ?? "";
    state = running ? "RUNNING" : "NOT_RUNNING";
  } else {
    plan = compiled.topology;
    text = st.statement ? statementText.replace(/^\s*EXPLAIN\s+/i, "") : "";
  }
  if (!plan) return undefined;
  const last = plan.stages[plan.stages.length - 1]?.output;
  const sink = last?.kind === "Sink" ? last.sink : undefined;
  const sources = [
    ...new Set(plan.stages.flatMap((s) => s.inputs.flatMap((i) => (i.kind === "source" ? [i.source.name] : [])))),
  ];
  const description = formatTopology(plan);
  return {
    "@type": "queryDescription",
    statementText,
    queryDescription: {
      id: plan.queryId,
      statementText: text,
      windowType: sink?.window?.type ?? null,
      fields: (sink?.columns ?? []).map((c) => ({
        name: c.name,
        schema: fieldSchema(c.type),
        ...(c.namespace === "KEY" ? { type: "KEY" } : {}),
      })),
      sources,
      sinks: sink ? [sink.name] : [],
      topology: description,
      executionPlan: description,
      overriddenProperties: {},
      ksqlHostQueryStatus: {},
      queryType: "PERSISTENT",
      queryErrors: [],
      tasksMetadata: [],
      state,
    },
    warnings: [],
  };
}
