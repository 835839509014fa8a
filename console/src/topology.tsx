/**
 * A query's topology as a graph: EXPLAIN <query id> answers the running query's plan in its canonical text
 * (sub-topologies, their input topics, processors with their stores, the topic each writes), which is read
 * here into nodes and edges, laid out by dagre and drawn as SVG.
 */
import { Graph, layout } from "@dagrejs/dagre";
import { useEffect, useMemo, useState } from "preact/hooks";
import { catalog, identifier, ksql, type RunningQuery } from "./api.ts";
import { Paged } from "./widgets.tsx";

interface GraphNode {
  readonly id: string;
  readonly kind: "topic" | "processor" | "store";
  readonly label: string;
  /** The whole line of the plan (a tooltip). */
  readonly detail: string;
  /** The sub-topology a processor or store belongs to. */
  readonly stage?: string;
}

export interface TopologyGraph {
  readonly stages: readonly { readonly id: string; readonly tasks: string }[];
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly { readonly from: string; readonly to: string; readonly store?: boolean }[];
}

/** Reads EXPLAIN's topology text (src/physical/topology-format.ts) into a graph. */
export function parseTopology(text: string): TopologyGraph {
  const stages: { id: string; tasks: string }[] = [];
  const nodes = new Map<string, GraphNode>();
  const edges: { from: string; to: string; store?: boolean }[] = [];
  let stage: string | undefined;
  let previous: string[] = [];
  let n = 0;
  const topic = (name: string, detail: string) => {
    const id = `topic:${name}`;
    if (!nodes.has(id)) nodes.set(id, { id, kind: "topic", label: name, detail });
    return id;
  };
  const stores = (owner: string, names: string[], detail: string) => {
    for (const s of names) {
      const id = `store:${stage}:${s}`;
      nodes.set(id, { id, kind: "store", label: s, detail, stage: stage! });
      edges.push({ from: owner, to: id, store: true });
    }
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^Sub-topology (\S+) \((.*)\)$/))) {
      stage = m[1]!;
      stages.push({ id: stage, tasks: m[2]! });
      previous = [];
    } else if (stage !== undefined && (m = line.match(/^Source(?: \((left|right)\))?: (\S+)(?: \((.*)\))?$/))) {
      const t = topic(m[2]!, line);
      const id = `proc:${stage}:${n++}`;
      nodes.set(id, { id, kind: "processor", label: `Source${m[1] ? ` (${m[1]})` : ""}`, detail: line, stage });
      edges.push({ from: t, to: id });
      const store = m[3]?.match(/\bstore (\w+)/);
      if (store) stores(id, [store[1]!], line);
      previous.push(id);
    } else if (stage !== undefined && (m = line.match(/^--> (\w+)(?: \([^)]*\))?: (.*)$/))) {
      const kind = m[1]!;
      const rest = m[2]!;
      const id = `proc:${stage}:${n++}`;
      const short =
        kind === "Sink" || kind === "Repartition" ? kind : `${kind}: ${rest.replace(/, stores? [\w, ]+$/, "")}`;
      nodes.set(id, { id, kind: "processor", label: short, detail: line, stage });
      for (const p of previous) edges.push({ from: p, to: id });
      previous = [id];
      const own = rest.match(/, stores ([\w]+(?:, [\w]+)*)$/);
      if (own) stores(id, own[1]!.split(", "), line);
      if (kind === "Sink") {
        const sink = rest.match(/^(\S+) \((.*)\)$/);
        if (sink) {
          edges.push({ from: id, to: topic(sink[1]!, line) });
          if (/, store table\b/.test(sink[2]!)) stores(id, ["table"], line);
        }
      } else if (kind === "Repartition") {
        const into = rest.match(/ into (\S+) \(/);
        if (into) edges.push({ from: id, to: topic(into[1]!, line) });
      }
    } else if (!raw.startsWith("    ")) {
      stage = undefined;
    }
  }
  return { stages, nodes: [...nodes.values()], edges };
}

const CHAR = 6.6;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function TopologyGraphView(props: { graph: TopologyGraph }) {
  const drawn = useMemo(() => {
    const g = new Graph({ compound: true, multigraph: false });
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of props.graph.stages)
      g.setNode(`stage:${s.id}`, {
        label: `Sub-topology ${s.id} (${s.tasks})`,
        clusterLabelPos: "top",
        paddingTop: 28,
      } as never);
    for (const n of props.graph.nodes) {
      const label = clip(n.label, 56);
      g.setNode(n.id, { label, width: Math.max(60, label.length * CHAR + 24), height: n.kind === "store" ? 30 : 34 });
      if (n.stage !== undefined) g.setParent(n.id, `stage:${n.stage}`);
    }
    for (const e of props.graph.edges) g.setEdge(e.from, e.to);
    layout(g);
    return g;
  }, [props.graph]);
  const info = drawn.graph();
  const width = (info.width ?? 400) + 2;
  const height = (info.height ?? 200) + 2;
  const byId = new Map(props.graph.nodes.map((n) => [n.id, n]));
  return (
    <svg class="topology" width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b" />
        </marker>
      </defs>
      {props.graph.stages.map((s) => {
        const c = drawn.node(`stage:${s.id}`);
        return (
          <g key={s.id} class="cluster">
            <rect x={c.x - c.width / 2} y={c.y - c.height / 2} width={c.width} height={c.height} rx="8" />
            <text x={c.x - c.width / 2 + 10} y={c.y - c.height / 2 + 18}>
              Sub-topology {s.id} ({s.tasks})
            </text>
          </g>
        );
      })}
      {drawn.edges().map((e) => {
        const points = drawn.edge(e).points ?? [];
        const store = props.graph.edges.find((x) => x.from === e.v && x.to === e.w)?.store;
        return (
          <polyline
            key={`${e.v}->${e.w}`}
            class={store ? "edge store" : "edge"}
            points={points.map((p: { x: number; y: number }) => `${p.x},${p.y}`).join(" ")}
            marker-end={store ? undefined : "url(#arrow)"}
          />
        );
      })}
      {drawn.nodes().map((id) => {
        const n = byId.get(id);
        if (!n) return null;
        const b = drawn.node(id);
        const x = b.x - b.width / 2;
        const y = b.y - b.height / 2;
        return (
          <g key={id} class={`node ${n.kind}`} data-kind={n.kind}>
            <title>{n.detail}</title>
            <rect
              x={x}
              y={y}
              width={b.width}
              height={b.height}
              rx={n.kind === "topic" ? b.height / 2 : n.kind === "store" ? 3 : 6}
            />
            <text x={b.x} y={b.y + 4} text-anchor="middle">
              {b.label as string}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export function Topology(props: { selected?: string }) {
  const [queries, setQueries] = useState<RunningQuery[]>();
  const [text, setText] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    catalog().then(
      (c) => setQueries(c.queries),
      (e: Error) => setError(e.message),
    );
  }, []);
  useEffect(() => {
    setText(undefined);
    if (!props.selected) return;
    ksql(`EXPLAIN ${identifier(props.selected)};`).then(
      ([d]) => {
        setText(d?.queryDescription?.topology ?? "");
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [props.selected]);
  const graph = useMemo(() => (text ? parseTopology(text) : undefined), [text]);
  return (
    <div class="page topology-page">
      {error && <p class="error">{error}</p>}
      <div class="split">
        <div class="side">
          {queries && (
            <Paged
              name="topology-queries"
              items={queries}
              pageSize={20}
              text={(q) => `${q.id} ${q.sinks.join(" ")}`}
              head={
                <tr>
                  <th>Query</th>
                </tr>
              }
              row={(q) => (
                <tr key={q.id} class={q.id === props.selected ? "selected" : ""}>
                  <td class="name">
                    <a href={`#/topology/${encodeURIComponent(q.id)}`}>{q.id}</a>
                  </td>
                </tr>
              )}
            />
          )}
        </div>
        <div class="main">
          {!props.selected && <p class="muted">Choose a query to see the topology it runs.</p>}
          {props.selected && (
            <>
              <h2>{props.selected}</h2>
              {graph ? <TopologyGraphView graph={graph} /> : <p class="muted">Loading…</p>}
              {text && (
                <details>
                  <summary>Plan text (EXPLAIN)</summary>
                  <pre>{text}</pre>
                </details>
              )}
            </>
          )}
        </div>
      </div>
    </div>
  );
}
