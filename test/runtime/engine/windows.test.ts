/**
 * Window semantics: EMIT FINAL (each window once, after window end + grace in stream time, no tombstones),
 * window retention (old windows leave the store; late records do not bring them back), and stream-stream
 * outer joins with a GRACE PERIOD (the non-joined row waits for the join window to close). Each case runs
 * its inputs twice, record by record and as one batch: the output must not depend on the batching.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { decodeRecord, produceAndDrain, readAll, sourceForTopic } from "../../../runtime/testing/records.ts";
import { openEngine } from "../../fixtures/engine.ts";

interface In {
  readonly topic: string;
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
}

interface Out {
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
  readonly window?: { readonly start: number; readonly end: number };
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function open(statements: string): Promise<Engine> {
  const engine = await openEngine({
    processingLogStream: false,
    // Every update is an output record, as in ksqlDB's tests.
    properties: { "ksql.streams.cache.max.bytes.buffering": "0" },
  });
  engines.push(engine);
  const r = await engine.execute(statements);
  expect(r.diagnostics).toEqual([]);
  return engine;
}

async function output(engine: Engine, topic: string): Promise<Out[]> {
  const source = sourceForTopic(engine.catalog, topic);
  return (await readAll(engine.log, topic)).map((rec) => {
    const d = decodeRecord(source, rec);
    return { key: d.key, value: d.value, timestamp: d.timestamp, ...(d.window ? { window: d.window } : {}) };
  });
}

/** Runs `inputs` record by record (one drain each) and returns the output of `topic` after each record. */
async function stepwise(statements: string, inputs: readonly In[], topic: string): Promise<Out[][]> {
  const engine = await open(statements);
  const steps: Out[][] = [];
  let seen = 0;
  for (const i of inputs) {
    await produceAndDrain(engine, i.topic, [{ key: i.key, value: i.value, timestamp: i.timestamp }]);
    const all = await output(engine, topic);
    steps.push(all.slice(seen));
    seen = all.length;
  }
  return steps;
}

/** Runs `inputs` as few batches as possible (consecutive records of a topic together). */
async function batched(statements: string, inputs: readonly In[], topic: string): Promise<Out[]> {
  const engine = await open(statements);
  for (let i = 0; i < inputs.length;) {
    let j = i;
    while (j < inputs.length && inputs[j]!.topic === inputs[i]!.topic) j++;
    await produceAndDrain(
      engine,
      inputs[i]!.topic,
      inputs.slice(i, j).map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp })),
    );
    i = j;
  }
  return output(engine, topic);
}

/** Records dropped as late by aggregates (`operator/reason` counters of every task). */
const lateDropped = (engine: Engine): number =>
  [...engine.queries.values()]
    .flatMap((q) => q.tasks)
    .reduce((n, t) => n + (t.metrics.dropped.get("aggregate/late") ?? 0), 0);

async function storeEntries(engine: Engine, store: string): Promise<number> {
  let n = 0;
  for (const q of engine.queries.values())
    for (const t of q.tasks) for await (const _ of t.stateStore.iterate(store)) n++;
  return n;
}

const ev = (topic: string, key: string, timestamp: number, value: unknown = { V: 1 }): In => ({
  topic,
  key,
  value,
  timestamp,
});

describe("EMIT FINAL", () => {
  const STREAM = "CREATE STREAM s (id STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON');";

  it("session windows: one record per session, once end + gap + grace has passed; nothing for merged sessions", async () => {
    const sql = `${STREAM}
      CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s
        WINDOW SESSION (10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) GROUP BY id EMIT FINAL;`;
    const inputs = [
      ev("s", "a", 0),
      ev("s", "a", 8), // merges with [0,0]: nothing emitted, no tombstone
      ev("s", "a", 12), // [0,12]
      ev("s", "b", 20),
      ev("s", "a", 27), // close time 12: [0,12] is not closed yet (end must be < close time)
      ev("s", "a", 28), // close time 13: [0,12] closes
      ev("s", "b", 44), // close time 29: b [20,20] and a [27,28] close
      ev("s", "a", 3), // late: its session would end before the close time
    ];
    const steps = await stepwise(sql, inputs, "T");
    const expected: Out[][] = [
      [],
      [],
      [],
      [],
      [],
      [{ key: "a", value: { N: 3 }, timestamp: 12, window: { start: 0, end: 12, type: "session" } as never }],
      [
        { key: "b", value: { N: 1 }, timestamp: 20, window: { start: 20, end: 20, type: "session" } as never },
        { key: "a", value: { N: 2 }, timestamp: 28, window: { start: 27, end: 28, type: "session" } as never },
      ],
      [],
    ];
    expect(steps).toEqual(expected);
    expect(await batched(sql, inputs, "T")).toEqual(expected.flat());
  });

  it("tumbling and hopping windows: each window once, at window end + grace, never before", async () => {
    const sql = `${STREAM}
      CREATE TABLE t AS SELECT id, SUM(v) AS total FROM s
        WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) GROUP BY id EMIT FINAL;`;
    const inputs = [
      ev("s", "a", 1, { V: 1 }),
      ev("s", "a", 9, { V: 2 }),
      ev("s", "a", 12, { V: 4 }),
      ev("s", "a", 14, { V: 8 }), // stream time 14 < 10 + 5: [0,10) still open
      ev("s", "a", 5, { V: 16 }), // in grace: counted in [0,10)
      ev("s", "a", 15, { V: 32 }), // closes [0,10)
      ev("s", "a", 7, { V: 64 }), // late
      ev("s", "a", 25, { V: 128 }), // closes [10,20)
    ];
    const steps = await stepwise(sql, inputs, "T");
    const w = (start: number) => ({ start, end: start + 10, type: "time" }) as never;
    const expected: Out[][] = [
      [],
      [],
      [],
      [],
      [],
      [{ key: "a", value: { TOTAL: 19 }, timestamp: 9, window: w(0) }],
      [],
      [{ key: "a", value: { TOTAL: 44 }, timestamp: 15, window: w(10) }],
    ];
    expect(steps).toEqual(expected);
    expect(await batched(sql, inputs, "T")).toEqual(expected.flat());
  });

  it("with HAVING: a window HAVING rejects is not emitted at all (no tombstone for what was never emitted)", async () => {
    const sql = `${STREAM}
      CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s
        WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY id HAVING COUNT(*) > 1 EMIT FINAL;`;
    const inputs = [ev("s", "a", 1), ev("s", "b", 2), ev("s", "a", 3), ev("s", "c", 10)];
    const expected = [
      { key: "a", value: { N: 2 }, timestamp: 3, window: { start: 0, end: 10, type: "time" } as never },
    ];
    expect((await stepwise(sql, inputs, "T")).flat()).toEqual(expected);
    expect(await batched(sql, inputs, "T")).toEqual(expected);
  });

  it("does not depend on batching when stream time jumps past a window's retention", async () => {
    // ksqlDB: a hopping window that was already past its retention when stream time closed it is not
    // emitted. Record by record, [0,5) closes at 6 and is emitted; [2,7) is past retention at 10.
    const sql = `${STREAM}
      CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s
        WINDOW HOPPING (SIZE 5 MILLISECONDS, ADVANCE BY 2 MILLISECONDS, GRACE PERIOD 1 MILLISECONDS)
        GROUP BY id EMIT FINAL;`;
    const inputs = [0, 1, 2, 1, 6, 5, 10].map((t) => ev("s", "k", t));
    const steps = await stepwise(sql, inputs, "T");
    const expected = [
      { key: "k", value: { N: 4 }, timestamp: 2, window: { start: 0, end: 5, type: "time" } as never },
      { key: "k", value: { N: 2 }, timestamp: 6, window: { start: 4, end: 9, type: "time" } as never },
    ];
    expect(steps.flat()).toEqual(expected);
    expect(await batched(sql, inputs, "T")).toEqual(expected);
  });
});

describe("window retention", () => {
  it("keeps the store bounded over days of events and does not resurrect expired windows", async () => {
    const engine = await open(`
      CREATE STREAM s (id STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON');
      CREATE TABLE per_min AS SELECT id, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id;
      CREATE TABLE per_min_short AS SELECT id, COUNT(*) AS n FROM s
        WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 10 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY id;
      CREATE TABLE per_session AS SELECT id, COUNT(*) AS n FROM s
        WINDOW SESSION (30 SECONDS, GRACE PERIOD 1 MINUTE) GROUP BY id;`);
    const MIN = 60_000;
    const days = 4;
    const keys = ["a", "b", "c"];
    const sizes: number[] = [];
    for (let hour = 0; hour < days * 24; hour++) {
      const batch = [];
      for (let m = 0; m < 60; m++)
        for (const k of keys) batch.push({ key: k, value: { V: 1 }, timestamp: (hour * 60 + m) * MIN + 1000 });
      await produceAndDrain(engine, "s", batch);
      if ((hour + 1) % 24 === 0) sizes.push(await storeEntries(engine, "agg"));
    }
    const perMin = (await engine.table("PER_MIN")).rows.length;
    const short = (await engine.table("PER_MIN_SHORT")).rows.length;
    const sessions = (await engine.table("PER_SESSION")).rows.length;
    console.log(
      `window retention: ${days * 24 * 60 * keys.length} events over ${days} days; ` +
        `agg store entries at the end of each day: ${sizes.join(", ")}; ` +
        `windows kept: default retention ${perMin}, RETENTION 10 MINUTES ${short}, sessions ${sessions}; ` +
        `time index entries: ${await storeEntries(engine, "aggtime")}`,
    );
    // Default retention for a 1-minute window without GRACE PERIOD: size + (24 h - size) = 1 day.
    expect(perMin).toBeLessThanOrEqual(keys.length * (24 * 60 + 1));
    expect(perMin).toBeGreaterThanOrEqual(keys.length * 24 * 60);
    expect(short).toBeLessThanOrEqual(keys.length * 11);
    // One open session per key (events every minute, gap 30 s): older ones expire after gap + grace.
    expect(sessions).toBeLessThanOrEqual(keys.length * 3);
    expect(sizes[sizes.length - 1]).toBe(sizes[1]);
    expect(await storeEntries(engine, "aggtime")).toBe(await storeEntries(engine, "agg"));

    // A late record for an expired window is dropped and counted; the window does not come back.
    const dropped = lateDropped(engine);
    await produceAndDrain(engine, "s", [{ key: "a", value: { V: 1 }, timestamp: MIN + 1000 }]);
    expect(lateDropped(engine)).toBe(dropped + 3);
    const rows = (await engine.table("PER_MIN")).rows;
    expect(rows.length).toBe(perMin);
  });
});

describe("EMIT FINAL table retention", () => {
  it("keeps the emitted windows of an EMIT FINAL table for their retention only (tumbling and session)", async () => {
    const engine = await open(`
      CREATE STREAM s (id STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON');
      CREATE TABLE final_min AS SELECT id, COUNT(*) AS n FROM s
        WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 10 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY id EMIT FINAL;
      CREATE TABLE final_session AS SELECT id, COUNT(*) AS n FROM s
        WINDOW SESSION (30 SECONDS, RETENTION 5 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY id EMIT FINAL;`);
    const MIN = 60_000;
    const keys = ["a", "b", "c"];
    const sizes: number[] = [];
    for (let hour = 0; hour < 6; hour++) {
      const batch = [];
      for (let m = 0; m < 60; m++)
        for (const k of keys) batch.push({ key: k, value: { V: 1 }, timestamp: (hour * 60 + m) * MIN + 1000 });
      await produceAndDrain(engine, "s", batch);
      sizes.push(await storeEntries(engine, "table"));
    }
    const minTable = await engine.table("FINAL_MIN");
    const minutes = minTable.rows;
    const sessions = (await engine.table("FINAL_SESSION")).rows;
    // Windows closed in the last 10 minutes of stream time (one per minute and key), not the 6 hours emitted.
    expect(minutes.length).toBeGreaterThan(0);
    expect(minutes.length).toBeLessThanOrEqual(keys.length * 11);
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.length).toBeLessThanOrEqual(keys.length * 6);
    expect(sizes.at(-1)).toBe(sizes[1]);
    expect(await storeEntries(engine, "tabletime")).toBe(await storeEntries(engine, "table"));
    const start = minTable.columns.indexOf("WINDOWSTART");
    const newest = Math.max(...minutes.map((r) => r[start] as number));
    expect(newest).toBe((6 * 60 - 2) * MIN);
  });
});

describe("stream-stream outer joins", () => {
  const STREAMS = `
    CREATE STREAM l (id STRING KEY, a STRING) WITH (kafka_topic='l', value_format='JSON');
    CREATE STREAM r (id STRING KEY, b STRING) WITH (kafka_topic='r', value_format='JSON');`;
  const S = 1000;
  const inputs = [
    ev("l", "k1", 0, { A: "x" }),
    ev("r", "k1", 30 * S, { B: "y" }), // matches x in time: x never goes out with NULLs
    ev("l", "k2", 10 * S, { A: "z" }), // no match yet
    ev("r", "k3", 20 * S, { B: "w" }), // right only
    ev("l", "k9", 130 * S, { A: "-" }), // stream time 130 s: z's window closes at 10 + 60 + 60 = 130 (not yet)
    ev("l", "k9", 131 * S, { A: "-" }), // 131 s: z closes
    ev("l", "k9", 141 * S, { A: "-" }), // 141 s: w (20 + 60 + 60 < 141) closes
  ];

  it("LEFT JOIN with GRACE PERIOD emits the non-joined row once the window has closed, and not at all on a match", async () => {
    const sql = `${STREAMS}
      CREATE STREAM j AS SELECT l.id AS id, a, b FROM l LEFT JOIN r WITHIN 1 MINUTE GRACE PERIOD 1 MINUTE ON l.id = r.id;`;
    const steps = await stepwise(sql, inputs, "J");
    const expected: Out[][] = [
      [],
      [{ key: "k1", value: { A: "x", B: "y" }, timestamp: 30 * S }],
      [],
      [],
      [],
      [{ key: "k2", value: { A: "z", B: null }, timestamp: 10 * S }],
      [],
    ];
    expect(steps).toEqual(expected);
    expect(await batched(sql, inputs, "J")).toEqual(expected.flat());
  });

  it("FULL OUTER JOIN with GRACE PERIOD waits on both sides", async () => {
    const sql = `${STREAMS}
      CREATE STREAM j AS SELECT ROWKEY AS id, a, b FROM l FULL OUTER JOIN r WITHIN 1 MINUTE GRACE PERIOD 1 MINUTE ON l.id = r.id;`;
    const steps = await stepwise(sql, inputs, "J");
    const expected: Out[][] = [
      [],
      [{ key: "k1", value: { A: "x", B: "y" }, timestamp: 30 * S }],
      [],
      [],
      [],
      [{ key: "k2", value: { A: "z", B: null }, timestamp: 10 * S }],
      [{ key: "k3", value: { A: null, B: "w" }, timestamp: 20 * S }],
    ];
    expect(steps).toEqual(expected);
    expect(await batched(sql, inputs, "J")).toEqual(expected.flat());
  });

  it("without GRACE PERIOD keeps ksqlDB's eager behaviour", async () => {
    const sql = `${STREAMS}
      CREATE STREAM j AS SELECT l.id AS id, a, b FROM l LEFT JOIN r WITHIN 1 MINUTE ON l.id = r.id;`;
    const steps = await stepwise(sql, inputs.slice(0, 3), "J");
    expect(steps).toEqual([
      [{ key: "k1", value: { A: "x", B: null }, timestamp: 0 }],
      [{ key: "k1", value: { A: "x", B: "y" }, timestamp: 30 * S }],
      [{ key: "k2", value: { A: "z", B: null }, timestamp: 10 * S }],
    ]);
  });

  it("keeps the join buffers bounded by the join window", async () => {
    const engine = await open(`${STREAMS}
      CREATE STREAM j AS SELECT l.id AS id, a, b FROM l LEFT JOIN r WITHIN 10 SECONDS GRACE PERIOD 5 SECONDS ON l.id = r.id;`);
    for (let m = 0; m < 60; m++) {
      const batch = [];
      for (let s = 0; s < 60; s++) batch.push({ key: `k${s % 7}`, value: { A: "x" }, timestamp: (m * 60 + s) * S });
      await produceAndDrain(engine, "l", batch);
    }
    const buffered = (await storeEntries(engine, "left")) + (await storeEntries(engine, "right"));
    const waiting = await storeEntries(engine, "outer");
    console.log(`join buffers after 3600 left rows (1 per second): ${buffered} buffered, ${waiting} waiting`);
    // Retention: before + after + grace = 25 s of rows (one per second), plus those not yet past it.
    expect(buffered).toBeLessThanOrEqual(26);
    expect(waiting).toBeLessThanOrEqual(26);
    expect(await storeEntries(engine, "jointime")).toBe(buffered);
    // Every row went out once with NULLs, in time order, except those still waiting.
    const out = await output(engine, "J");
    expect(out.length).toBe(3600 - waiting);
    expect(out.map((o) => o.timestamp)).toEqual([...out.map((o) => o.timestamp)].sort((x, y) => x - y));
  });
});
