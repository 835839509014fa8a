/**
 * Processing log: the records queries could not fold (decode and evaluation errors, drops), read with a pull
 * query on the stream KSQL_PROCESSING_LOG, latest first, filterable by query.
 */
import { useEffect, useState } from "preact/hooks";
import { catalog, literal, pull, type RunningQuery } from "./api.ts";
import { Paged } from "./widgets.tsx";

interface Entry {
  readonly rowtime: number;
  readonly queryId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly operation: string;
  readonly reason: string;
  readonly message: string;
}

export function ProcessingLog(props: { query?: string; go: (hash: string) => void }) {
  const [queries, setQueries] = useState<RunningQuery[]>([]);
  const [entries, setEntries] = useState<Entry[]>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    catalog().then(
      (c) => setQueries(c.queries),
      () => undefined,
    );
  }, []);
  useEffect(() => {
    setEntries(undefined);
    const where = props.query ? ` WHERE QUERY_ID = ${literal(props.query)}` : "";
    pull(
      `SELECT ROWTIME, QUERY_ID, TOPIC, \`PARTITION\`, \`OFFSET\`, OPERATION, REASON, MESSAGE FROM KSQL_PROCESSING_LOG${where};`,
    ).then(
      ({ rows }) => {
        setEntries(
          rows
            .map((r) => ({
              rowtime: r[0] as number,
              queryId: (r[1] as string | null) ?? "",
              topic: (r[2] as string | null) ?? "",
              partition: r[3] as number,
              offset: r[4] as number,
              operation: (r[5] as string | null) ?? "",
              reason: (r[6] as string | null) ?? "error",
              message: (r[7] as string | null) ?? "",
            }))
            .reverse(),
        );
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [props.query, tick]);
  return (
    <div class="page">
      <div class="toolbar">
        <label>
          Query{" "}
          <select
            data-filter="query"
            value={props.query ?? ""}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              props.go(v ? `#/log/${encodeURIComponent(v)}` : "#/log");
            }}
          >
            <option value="">all queries</option>
            {queries.map((q) => (
              <option key={q.id} value={q.id}>
                {q.id}
              </option>
            ))}
          </select>
        </label>
        <button onClick={() => setTick(tick + 1)}>Refresh</button>
      </div>
      {error && <p class="error">{error}</p>}
      {!entries && !error && <p class="muted">Loading…</p>}
      {entries && (
        <Paged
          name="log"
          items={entries}
          pageSize={50}
          placeholder="Filter (topic, reason, message)"
          text={(e) => `${e.queryId} ${e.topic} ${e.reason} ${e.operation} ${e.message}`}
          head={
            <tr>
              <th>Time</th>
              <th>Query</th>
              <th>Topic</th>
              <th class="num">Partition</th>
              <th class="num">Offset</th>
              <th>Reason</th>
              <th>Message</th>
            </tr>
          }
          row={(e) => (
            <tr>
              <td class="nowrap">{new Date(e.rowtime).toLocaleString()}</td>
              <td>{e.queryId}</td>
              <td>{e.topic}</td>
              <td class="num">{e.partition}</td>
              <td class="num">{e.offset}</td>
              <td>
                <span class="tag">{e.reason}</span>
              </td>
              <td class="message">
                {e.operation ? `${e.operation}: ` : ""}
                {e.message}
              </td>
            </tr>
          )}
        />
      )}
    </div>
  );
}
