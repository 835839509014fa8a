/** Projections: streams, tables and the queries that write them, with rates, lag, drops and versions. */
import { useEffect, useState } from "preact/hooks";
import {
  catalog,
  queryHistory,
  stats,
  type QuerySample,
  type QueryStats,
  type RunningQuery,
  type SourceInfo,
  type Stats,
} from "./api.ts";
import { Chart, fmt, Paged } from "./widgets.tsx";

const REFRESH_MS = 5_000;
/**
 * The catalog (SHOW: a statement, which the server runs alone, between processing rounds) is read again every
 * this many refreshes; the counters every time.
 */
const CATALOG_EVERY = 6;

const totalLag = (s: QueryStats | undefined) => (s ? Object.values(s.lag).reduce((a, b) => a + b, 0) : 0);
const failed = (s: QueryStats | undefined) => s?.errors ?? 0;
const late = (s: QueryStats | undefined) => s?.dropped.late ?? 0;

export function Projections(props: { selected?: string; go: (hash: string) => void }) {
  const [data, setData] = useState<{
    streams: SourceInfo[];
    tables: SourceInfo[];
    queries: RunningQuery[];
    stats: Stats;
  }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    let round = 0;
    let known: Awaited<ReturnType<typeof catalog>> | undefined;
    const load = async () => {
      try {
        const [c, s] = await Promise.all([round++ % CATALOG_EVERY === 0 || !known ? catalog() : known, stats()]);
        known = c;
        if (live) {
          setData({ ...c, stats: s });
          setError(undefined);
        }
      } catch (e) {
        if (live) setError((e as Error).message);
      }
    };
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  if (!data) return <div class="page">{error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>}</div>;
  const byQuery = new Map(data.stats.queries.map((q) => [q.id, q]));
  const versions = new Map(data.stats.versions.map((v) => [v.name, v]));
  const writer = new Map<string, string>();
  for (const q of data.queries) for (const s of q.sinks) writer.set(s, q.id);
  const version = (name: string) => {
    const v = versions.get(name);
    if (!v) return "";
    const kept = v.versions.filter((x) => x.state === "kept").map((x) => `v${x.version}`);
    const building = v.versions.filter((x) => x.state === "building").map((x) => `v${x.version}`);
    return [
      `v${v.current}`,
      kept.length ? `kept ${kept.join(", ")}` : "",
      building.length ? `building ${building.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" · ");
  };
  const sourceList = (items: SourceInfo[], name: string) => (
    <Paged
      name={name}
      items={items}
      text={(s) => `${s.name} ${s.topic}`}
      head={
        <tr>
          <th>Name</th>
          <th>Topic</th>
          <th>Key / value</th>
          <th>Written by</th>
          <th>Version</th>
        </tr>
      }
      row={(s) => {
        const q = writer.get(s.name);
        return (
          <tr key={s.name}>
            <td class="name">
              {s.name} {s.isWindowed && <span class="tag">windowed</span>}
            </td>
            <td>{s.topic}</td>
            <td>
              {s.keyFormat} / {s.valueFormat}
            </td>
            <td>{q ? <a href={`#/projections/${encodeURIComponent(q)}`}>{q}</a> : <span class="muted">—</span>}</td>
            <td>{version(s.name)}</td>
          </tr>
        );
      }}
    />
  );
  return (
    <div class="page">
      {error && <p class="error">{error}</p>}
      <h2>Queries</h2>
      <Paged
        name="queries"
        items={data.queries}
        text={(q) => `${q.id} ${q.sinks.join(" ")}`}
        head={
          <tr>
            <th>Query</th>
            <th>Writes</th>
            <th>State</th>
            <th class="num">Records in</th>
            <th class="num">In / s</th>
            <th class="num">Lag</th>
            <th class="num">Late</th>
            <th class="num">Failed</th>
            <th></th>
          </tr>
        }
        row={(q) => {
          const s = byQuery.get(q.id);
          return (
            <tr key={q.id} class={props.selected === q.id ? "selected" : ""}>
              <td class="name">
                <a href={`#/projections/${encodeURIComponent(q.id)}`}>{q.id}</a>
              </td>
              <td>{q.sinks.join(", ")}</td>
              <td>
                <span class={`state ${q.state.toLowerCase()}`}>{q.state}</span>
              </td>
              <td class="num">{fmt(s?.recordsIn ?? 0)}</td>
              <td class="num">{fmt(s?.rate ?? 0)}</td>
              <td class={`num ${totalLag(s) > 0 ? "warn" : ""}`}>{fmt(totalLag(s))}</td>
              <td class={`num ${late(s) > 0 ? "warn" : ""}`}>{fmt(late(s))}</td>
              <td class={`num ${failed(s) > 0 ? "bad" : ""}`}>
                {failed(s) > 0 ? <a href={`#/log/${encodeURIComponent(q.id)}`}>{fmt(failed(s))}</a> : 0}
              </td>
              <td>
                <a href={`#/topology/${encodeURIComponent(q.id)}`}>topology</a>
              </td>
            </tr>
          );
        }}
      />
      {props.selected && (
        <QueryDetail
          id={props.selected}
          query={data.queries.find((q) => q.id === props.selected)}
          stats={byQuery.get(props.selected)}
        />
      )}
      <h2>Tables</h2>
      {sourceList(data.tables, "tables")}
      <h2>Streams</h2>
      {sourceList(data.streams, "streams")}
    </div>
  );
}

/** One query: its lag per input partition and its input rate over the last minutes. */
function QueryDetail(props: { id: string; query: RunningQuery | undefined; stats: QueryStats | undefined }) {
  const [samples, setSamples] = useState<QuerySample[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    const load = () =>
      queryHistory(props.id).then(
        (h) => live && setSamples(h.samples),
        (e: Error) => live && setError(e.message),
      );
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [props.id]);
  const x = samples.map((s) => s.t / 1000);
  const partitions = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))].sort();
  const rate = samples.map((s, i) => {
    const prev = samples[i - 1];
    return prev && s.t > prev.t ? Math.max(0, ((s.recordsIn - prev.recordsIn) * 1000) / (s.t - prev.t)) : null;
  });
  const dropped = Object.entries(props.stats?.dropped ?? {});
  return (
    <section class="detail" data-query={props.id}>
      <h3>
        {props.id} <a href={`#/topology/${encodeURIComponent(props.id)}`}>topology</a>{" "}
        <a href={`#/log/${encodeURIComponent(props.id)}`}>processing log</a>
      </h3>
      {error && <p class="error">{error}</p>}
      <div class="facts">
        <span>
          Lag now:{" "}
          {partitions.length === 0
            ? "—"
            : Object.entries(props.stats?.lag ?? {})
                .map(([p, n]) => `${p} ${fmt(n)}`)
                .join(", ")}
        </span>
        <span>Dropped: {dropped.length === 0 ? "none" : dropped.map(([r, n]) => `${fmt(n)} ${r}`).join(", ")}</span>
        <span>Failed: {fmt(props.stats?.errors ?? 0)}</span>
      </div>
      <div class="charts">
        <Chart
          title="Lag per input partition (records)"
          x={x}
          series={partitions.map((p) => ({ name: p, values: samples.map((s) => s.lag[p] ?? null) }))}
        />
        <Chart title="Input rate (records/s)" x={x} series={[{ name: "records/s", values: rate }]} />
      </div>
      {props.query && <pre class="sql">{props.query.queryString}</pre>}
    </section>
  );
}
