import { describe, expect, it } from "vitest";
import { startServer } from "../../../runtime/http/server.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

const MAX = "9223372036854775807"; // 2^63 − 1
const MIN = "-9223372036854775808"; // −2^63
const ABOVE_SAFE = "9007199254740993"; // 2^53 + 1: a double rounds it to 2^53

const record = (key: string, json: string) => ({ key: Buffer.from(key), value: Buffer.from(json) });

describe("BIGINT is exact over the 64-bit range, end to end", () => {
  it("decodes JSON exactly, folds SUM/MIN/MAX exactly, and writes the pull result, the REST JSON and the sink exactly", async () => {
    const dir = tempDir("esql-bigint-");
    const e = await openEngine({ persistent: true, dataDir: dir });
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const r = await e.execute(`
        CREATE STREAM s (k STRING KEY, id BIGINT, amount BIGINT, n INT)
          WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
        CREATE TABLE t WITH (kafka_topic = 't_sink') AS
          SELECT k, SUM(amount) AS total, MIN(amount) AS lo, MAX(amount) AS hi, COUNT(*) AS c,
                 MAX(amount + 1) AS plus1, MIN(-amount) AS neg
          FROM s GROUP BY k;
        CREATE TABLE by_id AS SELECT id, COUNT(*) AS c FROM s GROUP BY id;
        CREATE STREAM with_n AS SELECT k, n FROM s;`);
      expect(r.diagnostics).toEqual([]);
      await e.log.append("s", [
        // offset 0..2: 2^53+1 twice: a double-based SUM would give 2^54 (off by 2) and MIN/MAX 2^53
        record("a", `{"ID": ${ABOVE_SAFE}, "AMOUNT": ${ABOVE_SAFE}, "N": 1}`),
        record("a", `{"ID": 1, "AMOUNT": ${ABOVE_SAFE}}`),
        record("a", `{"ID": 2, "AMOUNT": -1}`),
        // offset 3..4: ±(2^63 − 1): the sum is 0
        record("b", `{"ID": ${MAX}, "AMOUNT": ${MAX}}`),
        record("b", `{"ID": -${MAX}, "AMOUNT": -${MAX}}`),
        // offset 5..6: 2^63 − 1 + 1 wraps to −2^63 (Java's long, as ksqlDB's SUM)
        record("c", `{"ID": 3, "AMOUNT": ${MAX}}`),
        record("c", `{"ID": 4, "AMOUNT": 1}`),
        // offset 7..9: out of range for the column: to the processing log of the queries that read the column
        // (a stage that ends in its projection or aggregation decodes only the columns it reads: t reads AMOUNT and
        // with_n reads N; by_id's first stage re-keys the whole row, so it decodes every column)
        record("d", `{"ID": 5, "AMOUNT": 99999999999999999999}`),
        record("d", `{"ID": 6, "AMOUNT": 1, "N": 3000000000}`),
        record("d", `{"ID": 7, "AMOUNT": "-9223372036854775809"}`),
      ]);
      await e.drain();

      const out = await e.pull("SELECT k, total, lo, hi, c, plus1, neg FROM t;");
      expect(out.diagnostics).toEqual([]);
      const byKey = new Map(out.rows.map((row) => [row[0], row.slice(1)]));
      expect(byKey.get("a")).toEqual([
        2n * BigInt(ABOVE_SAFE) - 1n,
        -1,
        BigInt(ABOVE_SAFE),
        3,
        BigInt(ABOVE_SAFE) + 1n,
        -BigInt(ABOVE_SAFE),
      ]);
      // MAX + 1 wraps to MIN, so MAX(amount + 1) is −MAX + 1
      expect(byKey.get("b")).toEqual([0, -BigInt(MAX), BigInt(MAX), 2, -BigInt(MAX) + 1n, -BigInt(MAX)]);
      expect(byKey.get("c")).toEqual([BigInt(MIN), 1, BigInt(MAX), 2, 2, -BigInt(MAX)]);
      // Only offset 8 folds into t (its N is out of range, but t does not read N).
      expect(byKey.get("d")).toEqual([1, 1, 1, 1, 2, -1]);

      // The out-of-range records are in the processing log with the reason `out-of-range`.
      const log = await e.pull(
        "SELECT `OFFSET`, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE FROM KSQL_PROCESSING_LOG;",
      );
      const entries = [...log.rows].sort((x, y) => (x[0] as number) - (y[0] as number));
      expect([...new Set(entries.map((x) => x[0]))]).toEqual([7, 8, 9]);
      for (const [, message] of entries) expect(String(message)).toMatch(/out-of-range/);

      // BIGINT keys: an exact lookup and a range seek in SQL order (negatives beyond −2^53 before the numbers).
      const one = await e.pull(`SELECT id, c FROM by_id WHERE id = ${MAX};`);
      expect(one.rows).toEqual([[BigInt(MAX), 1]]);
      const neg = await e.pull("SELECT id FROM by_id WHERE id < 2;");
      expect(neg.rows.map((x) => x[0])).toEqual([-BigInt(MAX), 1]);
      const big = await e.pull(`SELECT id FROM by_id WHERE id > 4;`);
      expect(big.rows.map((x) => x[0])).toEqual([BigInt(ABOVE_SAFE), BigInt(MAX)]);

      // The REST API writes the digits. (Started after the drain: its own drain loop is not raced with ours.)
      server = await startServer({ engine: e, drainIntervalMs: 20 });
      const res = await fetch(server.url + "/query", {
        method: "POST",
        body: JSON.stringify({ ksql: "SELECT k, total, lo, hi FROM t WHERE k = 'b';" }),
      });
      const text = await res.text();
      expect(text).toContain(`{"row":{"columns":["b",0,-${MAX},${MAX}]}}`);
      const stream = await fetch(server.url + "/query-stream", {
        method: "POST",
        body: JSON.stringify({ sql: "SELECT k, total FROM t WHERE k = 'c';" }),
      });
      expect(await stream.text()).toContain(`["c",${MIN}]`);

      // A push query's rows too.
      const push = await fetch(server.url + "/query-stream", {
        method: "POST",
        body: JSON.stringify({
          sql: "SELECT k, amount, amount - 1 AS less FROM s WHERE k = 'b' EMIT CHANGES LIMIT 2;",
          properties: { "auto.offset.reset": "earliest" },
        }),
      });
      expect((await push.text()).trim().split("\n").slice(1)).toEqual([
        `["b",${MAX},${BigInt(MAX) - 1n}]`,
        `["b",-${MAX},${MIN}]`,
      ]);

      // The sink topic's JSON has the digits.
      const end = await e.log.endOffset("t_sink", 0);
      const sink = (await e.log.read("t_sink", 0, 0, end)).map((x) => `${x.key?.toString()} ${x.value?.toString()}`);
      expect(sink).toContain(`b {"TOTAL":0,"LO":-${MAX},"HI":${MAX},"C":2,"PLUS1":-${BigInt(MAX) - 1n},"NEG":-${MAX}}`);
      expect(sink.some((x) => x.startsWith(`a {"TOTAL":${2n * BigInt(ABOVE_SAFE) - 1n},`))).toBe(true);
    } finally {
      await server?.close();
      await e.close();
    }
  });

  it("reads and writes BIGINT exactly in DELIMITED and KAFKA formats, keys included", async () => {
    const dir = tempDir("esql-bigint-");
    const e = await openEngine({ persistent: true, dataDir: dir });
    try {
      const r = await e.execute(`
        CREATE STREAM d (id BIGINT KEY, v BIGINT) WITH (kafka_topic = 'd', key_format = 'KAFKA', value_format = 'DELIMITED', partitions = 1);
        CREATE STREAM d2 WITH (kafka_topic = 'd2', key_format = 'KAFKA', value_format = 'DELIMITED') AS SELECT id, v, v - 1 AS w FROM d;`);
      expect(r.diagnostics).toEqual([]);
      const key = (v: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigInt64BE(v);
        return b;
      };
      await e.log.append("d", [
        { key: key(BigInt(MAX)), value: Buffer.from(MIN) },
        { key: key(BigInt(MIN)), value: Buffer.from(ABOVE_SAFE) },
        { key: key(1n), value: Buffer.from("99999999999999999999") },
      ]);
      await e.drain();
      const end = await e.log.endOffset("d2", 0);
      const out = (await e.log.read("d2", 0, 0, end)).map((x) => [x.key!.readBigInt64BE(0), x.value!.toString()]);
      expect(out).toEqual([
        // MIN − 1 wraps to MAX (a first field that starts with '-' is quoted, as ksqlDB's CSV writer does)
        [BigInt(MAX), `"${MIN}",${MAX}`],
        [BigInt(MIN), `${ABOVE_SAFE},${BigInt(ABOVE_SAFE) - 1n}`],
      ]);
      const log = await e.pull(
        "SELECT `OFFSET`, MESSAGE->DESERIALIZATIONERROR->ERRORMESSAGE FROM KSQL_PROCESSING_LOG;",
      );
      expect(log.rows.map((x) => x[0])).toEqual([2]);
      expect(String(log.rows[0]![1])).toMatch(/out-of-range/);
    } finally {
      await e.close();
    }
  });
});
