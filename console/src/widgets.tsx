/** Small pieces the pages share: a filtered, paged list; a uPlot chart; number formatting. */
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n * 10) / 10);

/**
 * A list with a filter box and pages: what keeps 1,000 streams, tables or queries usable (only one page is
 * in the DOM).
 */
export function Paged<T>(props: {
  items: readonly T[];
  /** The text the filter box matches. */
  text: (item: T) => string;
  pageSize?: number;
  placeholder?: string;
  head: ComponentChildren;
  row: (item: T) => ComponentChildren;
  name: string;
}) {
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(0);
  const size = props.pageSize ?? 25;
  const matching = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f === "" ? props.items : props.items.filter((i) => props.text(i).toLowerCase().includes(f));
  }, [props.items, filter]);
  const pages = Math.max(1, Math.ceil(matching.length / size));
  const p = Math.min(page, pages - 1);
  return (
    <div class="paged" data-list={props.name}>
      <div class="toolbar">
        <input
          type="search"
          placeholder={props.placeholder ?? "Filter"}
          value={filter}
          onInput={(e) => {
            setFilter((e.target as HTMLInputElement).value);
            setPage(0);
          }}
        />
        <span class="muted">
          {matching.length} of {props.items.length}
        </span>
        {pages > 1 && (
          <span class="pager">
            <button disabled={p === 0} onClick={() => setPage(p - 1)}>
              ‹
            </button>
            page {p + 1} / {pages}
            <button disabled={p >= pages - 1} onClick={() => setPage(p + 1)}>
              ›
            </button>
          </span>
        )}
      </div>
      <table>
        <thead>{props.head}</thead>
        <tbody>{matching.slice(p * size, (p + 1) * size).map(props.row)}</tbody>
      </table>
    </div>
  );
}

/** A line chart (uPlot): x is epoch seconds, one series per name. */
export function Chart(props: {
  title: string;
  x: readonly number[];
  series: readonly { name: string; values: readonly (number | null)[] }[];
  width?: number;
  height?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  const key = props.series.map((s) => s.name).join("\u0000");
  const plot = useRef<{ u: uPlot; key: string } | null>(null);
  useEffect(() => {
    const data = [props.x as number[], ...props.series.map((s) => s.values as (number | null)[])] as uPlot.AlignedData;
    if (plot.current && plot.current.key === key) {
      plot.current.u.setData(data);
      return;
    }
    plot.current?.u.destroy();
    const colors = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
    const u = new uPlot(
      {
        title: props.title,
        width: props.width ?? 520,
        height: props.height ?? 160,
        series: [{}, ...props.series.map((s, i) => ({ label: s.name, stroke: colors[i % colors.length], width: 1.5 }))],
        axes: [{}, { size: 50 }],
        legend: { show: props.series.length <= 8, live: false },
      },
      data,
      el.current!,
    );
    plot.current = { u, key };
  });
  useEffect(() => () => plot.current?.u.destroy(), []);
  return <div class="chart" ref={el} />;
}
