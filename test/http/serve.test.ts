import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { runServe } from "../../src/cli/serve.ts";
import { tempDir } from "../fixtures/temp.ts";
import { eventually } from "../fixtures/eventually.ts";

it("esql serve deploys the files, serves queries and stops cleanly; a second start resumes", async () => {
  const dir = tempDir("esql-serve-");
  {
    const file = join(dir, "p.esql");
    writeFileSync(
      file,
      "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);\nCREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;\n",
    );
    const sink = { write: () => true } as unknown as NodeJS.WriteStream;
    for (let round = 0; round < 2; round++) {
      let stop!: () => void;
      const until = new Promise<void>((r) => (stop = r));
      let url = "";
      const done = runServe(
        [file],
        { data: join(dir, "data"), port: 0, host: "127.0.0.1", until, onListening: (u) => (url = u) },
        sink,
        sink,
      );
      await eventually(
        async () => url !== "",
        30_000,
        async () => "the server to listen",
        20,
      );
      if (round === 0) {
        const ins = await fetch(url + "/ksql", {
          method: "POST",
          body: JSON.stringify({ ksql: "INSERT INTO s (k, v) VALUES ('a', 1);" }),
          headers: { "content-type": "application/json" },
        });
        expect(ins.status).toBe(200);
      }
      let rows: unknown[] = [];
      const folded = async () => {
        const r = await fetch(url + "/query", {
          method: "POST",
          body: JSON.stringify({ ksql: "SELECT * FROM t;" }),
          headers: { "content-type": "application/json" },
        });
        rows = (await r.json()) as unknown[];
        return rows.length >= 2;
      };
      await eventually(folded, 10_000, async () => `a row of T; the answer: ${JSON.stringify(rows)}`, 30);
      expect(rows[1]).toEqual({ row: { columns: ["a", 1] } });
      stop();
      expect(await done).toBe(0);
    }
  }
});
