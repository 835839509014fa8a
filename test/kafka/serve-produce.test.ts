/**
 * `esql produce --brokers` and `esql serve` on a real broker: events produced as JSON lines are folded by a
 * windowed aggregate the server deployed on Kafka, and a pull query over HTTP sees them; the CLI's
 * `serve --brokers` starts, answers its health check and stops cleanly on SIGTERM.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runProduce } from "../../src/cli/produce.ts";
import { runServe } from "../../src/cli/serve.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import { ESQL_BIN } from "../fixtures/cli.ts";
import { eventually } from "../fixtures/eventually.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

function collector(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

describe("produce and serve on Kafka", () => {
  const { brokers, kafka, tag } = useKafka("esql-serve-test");
  const dir = tempDir("esql-serve-kafka-");

  it(
    "serves pull queries over a projection of events written by esql produce --brokers",
    { timeout: 120_000 },
    async () => {
      const prefix = `${tag("esqltest-serve")}-`;
      // 300 events, 3 accounts, timestamps over two 1-minute windows.
      const lines = Array.from({ length: 300 }, (_, i) =>
        JSON.stringify({ account: `a${i % 3}`, amount: i % 10, ts: 60_000 + i * 400 }),
      ).join("\n");
      const err = collector();
      const code = await runProduce(
        `${prefix}events`,
        { brokers, data: dir, key: "account", timestamp: "ts", partitions: 3 },
        Readable.from([lines]),
        err.stream,
      );
      expect(err.text()).toContain(`produced 300 record(s) to ${prefix}events on Kafka`);
      expect(code).toBe(0);
      expect((await kafka.describeTopic(`${prefix}events`))?.partitions).toBe(3);

      const file = join(dir, "p.esql");
      writeFileSync(
        file,
        `CREATE STREAM events (account STRING KEY, amount INT) WITH (kafka_topic = 'events', value_format = 'JSON');
CREATE TABLE per_minute AS SELECT account, COUNT(*) AS n, SUM(amount) AS total FROM events WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY account EMIT CHANGES;
`,
      );
      const log = new NamespacedLog(kafka, prefix, { deleteTopicsOnClose: true });
      let stop!: () => void;
      const until = new Promise<void>((r) => (stop = r));
      let url = "";
      const out = collector();
      const done = runServe(
        [file],
        { data: join(dir, "data"), log, port: 0, host: "127.0.0.1", until, onListening: (u) => (url = u) },
        out.stream,
        out.stream,
      );
      try {
        await eventually(
          async () => url !== "",
          30_000,
          async () => `the server to listen: ${out.text()}`,
          20,
        );
        // Expected: per account and minute, the count and sum.
        const expected = new Map<string, [number, number]>();
        for (let i = 0; i < 300; i++) {
          const k = `a${i % 3}|${Math.floor((60_000 + i * 400) / 60_000) * 60_000}`;
          const [n, t] = expected.get(k) ?? [0, 0];
          expected.set(k, [n + 1, t + (i % 10)]);
        }
        let rows: string[] = [];
        const folded = async () => {
          const r = await fetch(url + "/query", {
            method: "POST",
            body: JSON.stringify({ ksql: "SELECT * FROM per_minute;" }),
            headers: { "content-type": "application/json" },
          });
          const body = (await r.json()) as { row?: { columns: unknown[] } }[];
          rows = body
            .filter((x) => x.row)
            .map((x) => x.row!.columns.join("|"))
            .sort();
          return (
            rows.length === expected.size &&
            rows.every(
              (row) =>
                expected.has(row.split("|").slice(0, 2).join("|")) &&
                Number(row.split("|")[3]) === expected.get(row.split("|").slice(0, 2).join("|"))![0],
            )
          );
        };
        await eventually(folded, 30_000, async () => `every window counted; rows: ${rows.join(", ")}`, 100);
        const want = [...expected].map(([k, [n, t]]) => {
          const [account, start] = k.split("|");
          return `${account}|${start}|${Number(start) + 60_000}|${n}|${t}`;
        });
        expect(rows).toEqual(want.sort());
      } finally {
        stop();
        expect(await done).toBe(0);
        await log.close();
      }
    },
  );

  it("esql serve --brokers starts on Kafka, reports healthy and stops on SIGTERM", { timeout: 120_000 }, async () => {
    const child = spawn(
      process.execPath,
      [
        ESQL_BIN,
        "serve",
        "--brokers",
        brokers.join(","),
        // Its own command topic (and group), deleted after the tests; not the broker's shared default.
        "--service-id",
        tag("serve-cli"),
        "--data",
        join(dir, "cli-data"),
        "--port",
        "0",
      ],
      {
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    // A cold start of the CLI takes 15-20 s on a loaded two-core machine (transpiling and loading the program).
    await eventually(
      async () => /at (http:\/\/\S+) /.test(stdout),
      90_000,
      async () => `the server to start: ${stderr}`,
      50,
    );
    const url = /at (http:\/\/\S+) /.exec(stdout)?.[1];
    expect(url, stderr).toBeDefined();
    expect(stdout).toContain(`(Kafka at ${brokers.join(",")}, state in`);
    const health = (await (await fetch(url + "/healthcheck")).json()) as { isHealthy: boolean };
    expect(health.isHealthy).toBe(true);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
