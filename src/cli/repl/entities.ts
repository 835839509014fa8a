/**
 * The REPL's rendering of ksqlDB's entities (`runtime/engine/entities.ts`): what SHOW, DESCRIBE and EXPLAIN
 * answer, from the engine in process or from a server's `POST /ksql`, shown the same way.
 */
import { formatType, type SqlType } from "../../types/sqltype.ts";
import {
  keyValues,
  type DescribeEntity,
  type SchemaInfo,
  type SourceDescription,
  type VersionInfo,
} from "../../../runtime/engine/entities.ts";
import type { Output } from "./backend.ts";

/** The `@type`s {@link renderEntity} shows. */
const RENDERED = new Set([
  "streams",
  "tables",
  "queries",
  "kafka_topics",
  "kafka_topics_extended",
  "properties",
  "variables",
  "function_names",
  "describe_function",
  "type_list",
  "sourceDescription",
  "source_descriptions",
  "queryDescription",
]);

/** Whether `e` (a JSON entity from anywhere) is one {@link renderEntity} shows. */
export function isDescribeEntity(e: unknown): e is DescribeEntity {
  return typeof e === "object" && e !== null && RENDERED.has(String((e as Record<string, unknown>)["@type"]));
}

export function renderEntity(e: DescribeEntity): Output[] {
  switch (e["@type"]) {
    case "streams":
    case "tables": {
      const list = e["@type"] === "streams" ? e.streams : e.tables;
      return [
        table(
          [
            `${e["@type"] === "streams" ? "Stream" : "Table"} Name`,
            "Kafka Topic",
            "Key Format",
            "Value Format",
            "Windowed",
            ...(list.some((x) => x.deployVersion) ? ["Version"] : []),
          ],
          list.map((s) => [
            s.name,
            s.topic,
            s.keyFormat,
            s.valueFormat,
            String(s.isWindowed),
            ...(list.some((x) => x.deployVersion) ? [versionText(s.name, s.deployVersion)] : []),
          ]),
        ),
      ];
    }
    case "queries": {
      const versioned = e.queries.some((q) => q.deployVersion);
      return [
        table(
          ["Query ID", "Status", "Sink Name", ...(versioned ? ["Version"] : []), "Query String"],
          e.queries.map((q) => [
            q.id,
            q.state,
            q.sinks.join(", "),
            ...(versioned
              ? [
                  q.deployVersion
                    ? `${q.deployVersion.name} v${q.deployVersion.version} (${q.deployVersion.state})`
                    : "",
                ]
              : []),
            oneLine(q.queryString),
          ]),
        ),
      ];
    }
    case "kafka_topics":
    case "kafka_topics_extended":
      return [
        table(
          ["Kafka Topic", "Partitions", "Partition Replicas"],
          e.topics.map((t) => [t.name, t.replicaInfo.length, t.replicaInfo.join(" ")]),
        ),
      ];
    case "function_names":
      return [
        table(
          ["Function Name", "Category", "Type"],
          e.functions.map((f) => [f.name, f.category, f.type]),
        ),
      ];
    case "properties":
      return [
        table(
          ["Property", "Value"],
          e.properties.map((p) => [p.name, p.value]),
          "no properties set in this session (SET 'name' = 'value';)",
        ),
      ];
    case "variables":
      return [
        table(
          ["Variable Name", "Value"],
          e.variables.map((v) => [v.name, v.value]),
          "no variables defined (DEFINE name = 'value';)",
        ),
      ];
    case "type_list":
      return [
        table(
          ["Type Name", "Schema"],
          Object.entries(e.types).map(([n, s]) => [n, formatType(sqlType(s))]),
        ),
      ];
    case "describe_function":
      return [
        {
          kind: "text",
          text: keyValues([
            ["Name", e.name],
            ["Type", e.type],
            ["Description", e.description],
            ...(e.path !== "internal" ? ([["Source", `${e.path} (${e.version})`]] as const) : []),
          ]),
        },
        table(
          ["Signature"],
          e.functions.map((f) => [
            `${e.name}(${f.arguments.map((a) => `${a.type}${a.name ? ` ${a.name}` : ""}${a.isVariadic ? "..." : ""}`).join(", ")}) -> ${f.returnType}`,
          ]),
        ),
      ];
    case "sourceDescription":
      return describeSource(e.sourceDescription);
    case "source_descriptions":
      return e.sourceDescriptions.flatMap(describeSource);
    case "queryDescription": {
      const q = e.queryDescription;
      const out: Output[] = [];
      const plan = q.topology
        ? `Topology (what runs)\n${indent(q.topology)}`
        : q.executionPlan
          ? `Physical plan\n${indent(q.executionPlan)}`
          : "";
      if (q.logicalPlan !== undefined) {
        out.push({ kind: "text", text: `${plan}\nLogical plan\n${indent(q.logicalPlan)}` });
        return out;
      }
      out.push({
        kind: "text",
        text: keyValues([
          ["Query ID", q.id],
          ["Status", q.state],
          ["Sources", q.sources.join(", ")],
          ["Sink", q.sinks.join(", ")],
          ["Statement", oneLine(q.statementText)],
        ]),
      });
      if (plan) out.push({ kind: "text", text: plan });
      return out;
    }
  }
}

function describeSource(s: SourceDescription): Output[] {
  const lines: [string, string][] = [
    ["Name", s.name],
    ["Type", s.type],
    ["Kafka topic", `${s.topic}${s.partitions ? ` (partitions: ${s.partitions})` : ""}`],
    ["Key format", s.keyFormat],
    ["Value format", s.valueFormat],
    ["Timestamp field", s.timestamp || "Not set - using <ROWTIME>"],
  ];
  if (s.windowType) lines.push(["Windowed", s.windowType]);
  if (s.deployVersion) lines.push(["Version", versionText(s.name, s.deployVersion)]);
  const columns = table(
    ["Field", "Type"],
    s.fields.map((f) => [
      f.name,
      `${formatType(sqlType(f.schema))}${f.type === "KEY" ? (s.type === "TABLE" ? " (primary key)" : " (key)") : f.header !== undefined ? ` (header${f.header ? ` '${f.header}'` : "s"})` : ""}`,
    ]),
  );
  if (!s.extended) return [{ kind: "text", text: keyValues(lines) }, columns];
  const writer = s.writeQueries[0];
  if (writer) lines.push(["Written by", `${writer.id} (${writer.state})`]);
  lines.push(["Read by", s.readQueries.map((q) => q.id).join(", ") || "no query"]);
  lines.push(["Statement", oneLine(s.statement)]);
  const out: Output[] = [{ kind: "text", text: keyValues(lines) }, columns];
  if (writer && s.statistics) {
    out.push({
      kind: "text",
      text: `Processing (${writer.id}):\n${s.statistics}${s.errorStats ? `\n${s.errorStats}` : ""}`,
    });
  }
  for (const [title, entries] of [
    ["First dropped records (this session):", s.processingLog?.dropped ?? []],
    ["Latest processing errors:", s.processingLog?.errors ?? []],
  ] as const) {
    if (entries.length === 0) continue;
    out.push({ kind: "text", text: title });
    out.push(
      table(
        ["Topic", "Partition", "Offset", "Where", "Reason", "Message"],
        entries.map((x) => [x.topic, x.partition, x.offset, x.where, x.reason, x.message]),
      ),
    );
  }
  return out;
}

/** A column's schema back as a SQL type (a MAP's key is a STRING: ksqlDB's schema does not carry it). */
function sqlType(s: SchemaInfo): SqlType {
  switch (s.type) {
    case "ARRAY":
      return { kind: "ARRAY", element: sqlType(s.memberSchema!) };
    case "MAP":
      return { kind: "MAP", key: { kind: "STRING" }, value: sqlType(s.memberSchema!) };
    case "STRUCT":
      return { kind: "STRUCT", fields: (s.fields ?? []).map((f) => ({ name: f.name, type: sqlType(f.schema) })) };
    case "DECIMAL":
      return { kind: "DECIMAL", precision: s.parameters?.precision ?? 0, scale: s.parameters?.scale ?? 0 };
    default:
      return { kind: s.type } as SqlType;
  }
}

function table(head: readonly string[], rows: readonly (readonly unknown[])[], empty?: string): Output {
  return { kind: "table", columns: head.map((name) => ({ name })), rows, ...(empty ? { empty } : {}) };
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/**
 * A name's versions as SHOW and DESCRIBE say them: `serving 2; kept 1` on the name itself, `1 of TOTALS (kept)`
 * on a hidden version.
 */
function versionText(name: string, v: VersionInfo | undefined): string {
  if (!v) return "";
  if (name !== v.name) return `${v.version} of ${v.name} (${v.state})`;
  const others = (state: string) =>
    v.versions
      .filter((x) => x.state === state)
      .map((x) => x.version)
      .join(", ");
  const kept = others("kept");
  const building = others("building");
  return `serving ${v.version}${kept ? `; kept ${kept}` : ""}${building ? `; building ${building}` : ""}`;
}
