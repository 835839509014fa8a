/**
 * Read your writes (issue 19): every write returns a position token; a pull query given it waits until its
 * table has folded the write, through a repartition and a second query downstream of the first. Written and
 * read back at once 1,000 times through the REST API with the background processing loop running: no stale
 * read with the token, stale reads without it. The API (no loop at all: the wait folds what it needs), ksqlDB's
 * consistency vectors, malformed tokens and timeouts too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import {
  decodeToken,
  encodeToken,
  KSQL_VECTOR_ENABLED,
  KSQL_VECTOR_REQUEST,
  POSITION_HEADER,
} from "../../../runtime/engine/consistency.ts";
import { startServer, type RunningServer } from "../../../runtime/http/server.ts";
import { openEngine } from "../../fixtures/engine.ts";

const SCHEMA = `
  CREATE STREAM deposits (account VARCHAR KEY, region VARCHAR, amount INT)
    WITH (kafka_topic = 'deposits', value_format = 'JSON', partitions = 4);
  -- Re-keyed by region: a repartition topic between two stages.
  CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(amount) AS total FROM deposits GROUP BY region;
  -- A second query reading the first one's topic.
  CREATE TABLE busy_regions AS SELECT region, n, total FROM by_region WHERE n > 0;`;

const REGIONS = ["north", "south", "east"];

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(new URL(path, url), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe("read your writes over REST, with the background loop running", () => {
  let engine: Engine;
  let server: RunningServer;
  beforeAll(async () => {
    engine = await openEngine();
    server = await startServer({ engine, drainIntervalMs: 20 });
    const r = await post(server.url, "/ksql", { ksql: SCHEMA });
    expect(r.status, r.text).toBe(200);
  });
  afterAll(async () => {
    await server.close();
  });

  /** Writes one deposit of 1 through /ksql; its region's expected count after it, and the token. */
  const written = new Map<string, number>();
  const write = async (i: number) => {
    const region = REGIONS[i % REGIONS.length]!;
    const r = await post(server.url, "/ksql", {
      ksql: `INSERT INTO deposits (account, region, amount) VALUES ('acc${i % 11}', '${region}', 1);`,
    });
    expect(r.status, r.text).toBe(200);
    written.set(region, (written.get(region) ?? 0) + 1);
    return { region, want: written.get(region)!, token: r.headers.get(POSITION_HEADER)! };
  };
  const read = async (region: string, properties: Record<string, string>) => {
    const r = await post(server.url, "/query-stream", {
      sql: `SELECT n, total FROM busy_regions WHERE region = '${region}';`,
      properties,
    });
    expect(r.status, r.text).toBe(200);
    const rows = (JSON.parse(r.text) as unknown[]).slice(1) as number[][];
    return rows[0]?.[0] ?? 0;
  };

  it("never reads stale with the token (1,000 writes, each read back at once)", async () => {
    let stale = 0;
    for (let i = 0; i < 1000; i++) {
      const w = await write(i);
      expect(w.token).toMatch(/^esql1\./);
      const n = await read(w.region, { "esql.consistency.token": w.token });
      if (n !== w.want) stale++;
    }
    expect(stale).toBe(0);
  }, 120_000);

  it("reads stale without it", async () => {
    let stale = 0;
    for (let i = 0; i < 200; i++) {
      const w = await write(i);
      if ((await read(w.region, {})) !== w.want) stale++;
    }
    expect(stale).toBeGreaterThan(0);
  }, 60_000);

  it("takes the token of /inserts-stream acks", async () => {
    const res = await fetch(new URL("/inserts-stream", server.url), {
      method: "POST",
      headers: { "content-type": "application/vnd.ksqlapi.delimited.v1" },
      body: `{"target":"deposits"}\n{"ACCOUNT":"x","REGION":"west","AMOUNT":5}\n{"ACCOUNT":"y","REGION":"west","AMOUNT":7}\n`,
    });
    const acks = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string; position: string });
    expect(acks.map((a) => a.status)).toEqual(["ok", "ok"]);
    const r = await post(server.url, "/query-stream", {
      sql: "SELECT n, total FROM busy_regions WHERE region = 'west';",
      properties: { "esql.consistency.token": acks[1]!.position },
    });
    expect((JSON.parse(r.text) as unknown[]).slice(1)).toEqual([[2, 12]]);
  });

  it("answers ksqlDB's consistency vector and waits for one sent back", async () => {
    const r = await post(server.url, "/query", {
      ksql: "SELECT n FROM by_region WHERE region = 'north';",
      streamsProperties: { [KSQL_VECTOR_ENABLED]: true },
    });
    expect(r.status, r.text).toBe(200);
    const body = JSON.parse(r.text) as { consistencyToken?: { consistencyToken: string } }[];
    const vector = body.find((e) => e.consistencyToken)?.consistencyToken?.consistencyToken;
    expect(vector).toBeDefined();
    const decoded = JSON.parse(Buffer.from(vector!, "base64").toString()) as {
      version: number;
      offsetVector: Record<string, Record<string, number>>;
    };
    // The source topic's partitions the table folded: the offsets of the last records (ksqlDB's convention).
    const ends = await Promise.all([0, 1, 2, 3].map((p) => engine.log.endOffset("deposits", p)));
    for (const [p, o] of Object.entries(decoded.offsetVector.deposits ?? {})) expect(o).toBeLessThan(ends[+p]!);
    // Sent back: the read waits for it (it is folded already), and answers a vector at least as far.
    const again = await post(server.url, "/query-stream", {
      sql: "SELECT n FROM by_region WHERE region = 'north';",
      properties: { [KSQL_VECTOR_ENABLED]: true },
      requestProperties: { [KSQL_VECTOR_REQUEST]: vector },
    });
    expect(again.status, again.text).toBe(200);
    expect(again.text).toContain('"consistencyToken"');
    // One from the future times out with a clear error.
    const future = Buffer.from(JSON.stringify({ version: 0, offsetVector: { deposits: { "0": 1e9 } } })).toString(
      "base64",
    );
    const late = await post(server.url, "/query-stream", {
      sql: "SELECT n FROM by_region WHERE region = 'north';",
      properties: { "esql.consistency.timeout.ms": "200" },
      requestProperties: { [KSQL_VECTOR_REQUEST]: future },
    });
    expect(late.status).toBe(400);
    expect(late.text).toMatch(/timed out waiting for query .* partition 0 of deposits/);
  });
});

describe("read your writes through the API", () => {
  it("waits for the write even with nobody draining, and fails clearly when it cannot", async () => {
    const engine = await openEngine();
    const created = await engine.execute(SCHEMA);
    expect(created.diagnostics).toEqual([]);
    let stale = 0;
    let staleWithout = 0;
    const want = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const region = REGIONS[i % 3]!;
      const r = await engine.execute(
        `INSERT INTO deposits (account, region, amount) VALUES ('a${i}', '${region}', 2);`,
      );
      const position = r.results[0]?.kind === "ok" ? r.results[0].position : undefined;
      expect(position).toBeDefined();
      want.set(region, (want.get(region) ?? 0) + 1);
      const sql = `SELECT n, total FROM busy_regions WHERE region = '${region}';`;
      if (i % 10 === 0) {
        const without = await engine.pull(sql);
        if ((without.rows[0]?.[0] ?? 0) !== want.get(region)) staleWithout++;
      }
      const got = await engine.pull(sql, { consistencyToken: position!, timeoutMs: 10_000 });
      expect(got.diagnostics).toEqual([]);
      if (got.rows[0]?.[0] !== want.get(region) || got.rows[0]?.[1] !== 2 * want.get(region)!) stale++;
    }
    expect(stale).toBe(0);
    expect(staleWithout).toBe(100);

    // A token beyond what was written: the timeout passes, the error says where the wait stood.
    const beyond = encodeToken(new Map([["deposits", new Map([[1, 1_000_000]])]]));
    const t0 = Date.now();
    const late = await engine.pull("SELECT * FROM busy_regions;", { consistencyToken: beyond, timeoutMs: 150 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(late.diagnostics[0]?.code).toBe("RUN012");
    expect(late.diagnostics[0]?.message).toMatch(
      /partition 1 of deposits is at offset \d+, the token asks for 1000000/,
    );

    // Not a token.
    const bad = await engine.pull("SELECT * FROM busy_regions;", { consistencyToken: "abc" });
    expect(bad.diagnostics[0]?.code).toBe("RUN012");
    expect(bad.diagnostics[0]?.message).toMatch(/'abc' is not a position token/);

    // A SET in a session (the REPL's way) applies to the pull queries after it.
    const w = await engine.execute("INSERT INTO deposits (account, region, amount) VALUES ('z', 'far', 3);");
    const token = w.results[0]?.kind === "ok" ? w.results[0].position! : "";
    expect([...decodeToken(token).keys()]).toEqual(["deposits"]);
    await engine.execute(`SET 'esql.consistency.token' = '${token}';`);
    expect((await engine.pull("SELECT total FROM busy_regions WHERE region = 'far';")).rows).toEqual([[3]]);
  }, 120_000);
});

describe("position tokens", () => {
  it("round-trip, merge per partition and refuse garbage", () => {
    const p = new Map([
      [
        "a.b-c_d",
        new Map([
          [0, 5],
          [11, 123456789],
        ]),
      ],
      ["x:y;z", new Map([[3, 0]])],
    ]);
    expect(decodeToken(encodeToken(p))).toEqual(p);
    expect(() => decodeToken("esql1.!!")).toThrow(/not base64url/);
    expect(() => decodeToken(`esql1.${Buffer.from("t:1=").toString("base64url")}`)).toThrow(/malformed position/);
  });
});
