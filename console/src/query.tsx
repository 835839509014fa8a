/** Query: an editor, pull results as a table, push queries streaming rows until stopped. */
import type { EditorView } from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import { catalog, ksql, runQuery, type QueryHeader } from "./api.ts";
import { createEditor, loadSqlLanguage, type Names } from "./editor.ts";
import { Paged } from "./widgets.tsx";

/** Rows kept of a push query (the latest; older ones scroll away). */
const PUSH_ROWS_KEPT = 1_000;
const DRAFT_KEY = "esql.query";

const cell = (v: unknown) =>
  v === null || v === undefined
    ? "NULL"
    : typeof v === "object"
      ? JSON.stringify(v)
      : String(v as string | number | boolean);

export function Query() {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const names = useRef<Names | undefined>(undefined);
  const [header, setHeader] = useState<QueryHeader>();
  const [rows, setRows] = useState<unknown[][]>([]);
  const [received, setReceived] = useState(0);
  const [status, setStatus] = useState<"idle" | "running" | "streaming">("idle");
  const [error, setError] = useState<string>();
  const [elapsed, setElapsed] = useState<number>();
  const running = useRef<{ stop(): Promise<void> } | null>(null);

  const run = () => {
    const sql = view.current?.state.doc.toString().trim() ?? "";
    if (sql === "" || running.current) return;
    setError(undefined);
    setHeader(undefined);
    setRows([]);
    setReceived(0);
    setElapsed(undefined);
    setStatus("running");
    const t0 = performance.now();
    let all: unknown[][] = [];
    let count = 0;
    const q = runQuery(sql, {
      header: (h) => {
        setHeader(h);
        if (!h.queryId.startsWith("pull")) setStatus("streaming");
      },
      rows: (r) => {
        count += r.length;
        all = [...all, ...r];
        if (all.length > PUSH_ROWS_KEPT * 2) all = all.slice(-PUSH_ROWS_KEPT);
        setRows(all);
        setReceived(count);
      },
    });
    running.current = q;
    q.done
      .catch((e: Error) => setError(e.message))
      .finally(() => {
        running.current = null;
        setStatus("idle");
        setElapsed(performance.now() - t0);
      });
  };
  const stop = () => void running.current?.stop();

  useEffect(() => {
    let disposed = false;
    const described = new Map<string, Promise<readonly string[]>>();
    const setup = async () => {
      const [lang, c, f] = await Promise.all([
        loadSqlLanguage().catch(() => undefined),
        catalog().catch(() => undefined),
        ksql("SHOW FUNCTIONS;").catch(() => []),
      ]);
      names.current = {
        keywords: lang?.keywords ?? [],
        functions: (f[0]?.functions ?? []).map((x) => x.name),
        sources: [...(c?.streams ?? []), ...(c?.tables ?? [])].map((s) => ({ name: s.name, type: s.type })),
        columns: (source) => {
          let p = described.get(source);
          if (!p) {
            p = ksql(`DESCRIBE \`${source}\`;`).then(([d]) => (d?.sourceDescription?.fields ?? []).map((x) => x.name));
            described.set(source, p);
          }
          return p;
        },
      };
      if (disposed) return;
      view.current = createEditor({
        parent: host.current!,
        doc: sessionStorage.getItem(DRAFT_KEY) ?? "",
        language: lang?.language,
        names: () => names.current,
        onRun: run,
        onChange: (text) => sessionStorage.setItem(DRAFT_KEY, text),
      });
      view.current.focus();
    };
    void setup();
    return () => {
      disposed = true;
      view.current?.destroy();
      void running.current?.stop();
    };
  }, []);

  const shown =
    status === "streaming" || (header && !header.queryId.startsWith("pull")) ? rows.slice(-PUSH_ROWS_KEPT) : rows;
  return (
    <div class="page query-page">
      <div class="editor" ref={host} />
      <div class="toolbar">
        <button class="primary" disabled={status !== "idle"} onClick={run} data-action="run">
          Run
        </button>
        <button disabled={status === "idle"} onClick={stop} data-action="stop">
          Stop
        </button>
        <span class="muted">
          Ctrl/⌘-Enter runs. A pull query answers once; a push query (EMIT CHANGES) streams rows until stopped.
        </span>
      </div>
      {error && <p class="error">{error}</p>}
      <div class="result-status" data-status={status}>
        {status === "running" && "Running…"}
        {status === "streaming" && `Streaming: ${received} rows received`}
        {status === "idle" &&
          header &&
          `${received} ${received === 1 ? "row" : "rows"}${elapsed !== undefined ? ` in ${Math.round(elapsed)} ms` : ""}`}
        {received > shown.length && ` (the latest ${shown.length} shown)`}
      </div>
      {header && (
        <Paged
          name="results"
          items={shown}
          pageSize={100}
          text={(r) => r.map(cell).join(" ")}
          head={
            <tr>
              {header.columnNames.map((c, i) => (
                <th key={c} title={header.columnTypes[i]}>
                  {c}
                </th>
              ))}
            </tr>
          }
          row={(r) => (
            <tr>
              {r.map((v, i) => (
                <td key={i} class={typeof v === "number" ? "num" : ""}>
                  {cell(v)}
                </td>
              ))}
            </tr>
          )}
        />
      )}
    </div>
  );
}
