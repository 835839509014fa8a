/**
 * The engine on a real broker stops and resumes: the queries come back from the command topic and
 * continue from the input offsets their stores hold, so records produced while it was down are folded
 * exactly once. Without its data folder, it restores the state from the changelog topics.
 */
import { cpSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Engine, EngineOptions } from "../../runtime/engine/engine.ts";
import { NamespacedLog } from "../../runtime/log/namespaced.ts";
import type { RestoreProgress } from "../../runtime/state/changelog.ts";
import { encodeRecord, sourceForTopic } from "../../runtime/testing/records.ts";
import { openEngine } from "../fixtures/engine.ts";
import { useKafka } from "../fixtures/kafka.ts";
import { tempDir } from "../fixtures/temp.ts";

const STATEMENTS = `
CREATE STREAM clicks (uid VARCHAR KEY, n INT) WITH (kafka_topic='clicks', partitions=4, value_format='JSON');
CREATE TABLE per_user AS SELECT uid, COUNT(*) AS c, SUM(n) AS s FROM clicks WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY uid;
CREATE TABLE per_n AS SELECT n, COUNT(*) AS c FROM clicks GROUP BY n;
`;

/** 400 events over 12 users and 6 windows of 10 s. */
const EVENTS = Array.from({ length: 400 }, (_, i) => ({
  key: `u${(i * 7) % 12}`,
  value: { N: i % 5 },
  timestamp: 1_000 * Math.floor((i * 60) / 400) + (i % 3),
}));

function expectedRows(events: typeof EVENTS): string[] {
  const m = new Map<string, { c: number; s: number }>();
  for (const e of events) {
    const start = Math.floor(e.timestamp / 10_000) * 10_000;
    const k = `${e.key}|${start}|${start + 10_000}`;
    const acc = m.get(k) ?? { c: 0, s: 0 };
    acc.c++;
    acc.s += e.value.N;
    m.set(k, acc);
  }
  return [...m].map(([k, v]) => `${k}|${v.c}|${v.s}`).sort();
}

async function rows(engine: Engine): Promise<string[]> {
  const t = await engine.table("PER_USER");
  expect(t.columns).toEqual(["UID", "WINDOWSTART", "WINDOWEND", "C", "S"]);
  return t.rows.map((r) => r.join("|")).sort();
}

/** The repartitioned aggregate (GROUP BY a value column goes through an internal topic). */
async function perN(engine: Engine): Promise<string[]> {
  return (await engine.table("PER_N")).rows.map((r) => r.join("|")).sort();
}

function expectedPerN(events: typeof EVENTS): string[] {
  const m = new Map<number, number>();
  for (const e of events) m.set(e.value.N, (m.get(e.value.N) ?? 0) + 1);
  return [...m].map(([n, c]) => `${n}|${c}`).sort();
}

describe("the engine on Kafka", () => {
  const { kafka, tag } = useKafka("esql-restart");
  /** A persistent engine in `dataDir` on the topics of `prefix`, without the record cache. */
  const reopen = (dataDir: string, prefix: string, options: Partial<EngineOptions> = {}) =>
    openEngine({
      persistent: true,
      dataDir,
      log: new NamespacedLog(kafka, prefix),
      properties: { "ksql.streams.cache.max.bytes.buffering": "0" },
      ...options,
    });

  it("resumes a windowed and a repartitioned aggregate over 4 partitions from its stored offsets after a restart", async () => {
    const prefix = `${tag("restart")}-`;
    const dataDir = tempDir("esql-kafka-restart-");
    const first = await reopen(dataDir, prefix);
    expect((await first.execute(STATEMENTS)).diagnostics).toEqual([]);
    expect((await first.log.describeTopic("clicks"))?.partitions).toBe(4);
    const source = sourceForTopic(first.catalog, "clicks")!;
    const half = EVENTS.slice(0, 200);
    await first.log.append(
      "clicks",
      half.map((e) => encodeRecord(source, e)),
    );
    await first.drain();
    expect(await rows(first)).toEqual(expectedRows(half));
    expect(await perN(first)).toEqual(expectedPerN(half));
    await first.close();

    // Produced while no engine runs.
    const log = new NamespacedLog(kafka, prefix);
    await log.append(
      "clicks",
      EVENTS.slice(200).map((e) => encodeRecord(source, e)),
    );

    const second = await reopen(dataDir, prefix);
    try {
      expect([...second.queries.keys()]).toEqual([...first.catalog.queries.keys()]);
      const consumed = await second.drain();
      // Only what it had not read before: 200 per query from the input, 200 from the internal topic.
      expect(consumed).toBe(600);
      expect(await rows(second)).toEqual(expectedRows(EVENTS));
      expect(await perN(second)).toEqual(expectedPerN(EVENTS));
    } finally {
      await second.close();
    }
  });

  it("restores the stores from their changelog topics when the data folder is gone", async () => {
    const prefix = `${tag("changelog")}-`;
    const dataDir = tempDir("esql-kafka-changelog-");
    const first = await reopen(dataDir, prefix);
    expect((await first.execute(STATEMENTS)).diagnostics).toEqual([]);
    const source = sourceForTopic(first.catalog, "clicks")!;
    await first.log.append(
      "clicks",
      EVENTS.map((e) => encodeRecord(source, e)),
    );
    await first.drain();
    const before = { perUser: await rows(first), perN: await perN(first) };
    expect(before.perUser).toEqual(expectedRows(EVENTS));
    const changelogs = (await first.log.listTopics()).filter((t) => t.endsWith("-changelog"));
    // PER_USER: one stage; PER_N: the stage before the repartition and the one after.
    expect(changelogs).toHaveLength(3);
    for (const t of changelogs) expect((await first.log.describeTopic(t))?.config.cleanupPolicy).toBe("compact");
    await first.close();

    rmSync(dataDir, { recursive: true, force: true });
    const progress: RestoreProgress[] = [];
    const second = await reopen(dataDir, prefix, { onRestore: (p) => progress.push(p) });
    try {
      expect(progress.filter((p) => p.done).length).toBeGreaterThan(0);
      expect(await second.drain()).toBe(0); // nothing re-read: the offsets came back with the state
      expect(await rows(second)).toEqual(before.perUser);
      expect(await perN(second)).toEqual(before.perN);
      // And it goes on from there.
      await second.log.append(
        "clicks",
        EVENTS.slice(0, 50).map((e) => encodeRecord(source, e)),
      );
      await second.drain();
      expect(await perN(second)).toEqual(expectedPerN([...EVENTS, ...EVENTS.slice(0, 50)]));
    } finally {
      await second.close();
    }
  });

  it("catches up a store that is behind its changelog (an old copy of the data folder)", async () => {
    const prefix = `${tag("behind")}-`;
    const dataDir = tempDir("esql-kafka-behind-");
    const copy = tempDir("esql-kafka-behind-copy-");
    const first = await reopen(dataDir, prefix);
    expect((await first.execute(STATEMENTS)).diagnostics).toEqual([]);
    const source = sourceForTopic(first.catalog, "clicks")!;
    await first.log.append(
      "clicks",
      EVENTS.slice(0, 200).map((e) => encodeRecord(source, e)),
    );
    await first.drain();
    await first.close();
    cpSync(dataDir, copy, { recursive: true });

    const second = await reopen(dataDir, prefix);
    await second.log.append(
      "clicks",
      EVENTS.slice(200).map((e) => encodeRecord(source, e)),
    );
    await second.drain();
    await second.close();

    rmSync(dataDir, { recursive: true, force: true });
    cpSync(copy, dataDir, { recursive: true });
    const third = await reopen(dataDir, prefix);
    try {
      expect(await third.drain()).toBe(0);
      expect(await rows(third)).toEqual(expectedRows(EVENTS));
      expect(await perN(third)).toEqual(expectedPerN(EVENTS));
    } finally {
      await third.close();
    }
  });
});
