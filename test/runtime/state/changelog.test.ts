import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/engine/engine.ts";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { Changelog, COMMIT_HEADER, FencedError } from "../../../runtime/state/changelog.ts";
import { PartitionStore } from "../../../runtime/state/store.ts";
import { encodeKey } from "../../../runtime/state/keycodec.ts";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

const tmp = (): string => tempDir("esql-changelog-");
async function dump(store: PartitionStore): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of store.iterate("agg")) out.push(`${k.toString("hex")}=${JSON.stringify(v)}`);
  return out;
}

describe("changelog topics", () => {
  it("copy each commit (in several appends when large) and rebuild a store from them, offsets included", async () => {
    const dir = tmp();
    const log = await EmbeddedLog.open(join(dir, "log"));
    try {
      await log.createTopic("cl", { partitions: 2, config: { cleanupPolicy: "compact" } });
      const changelog = new Changelog(log, "cl", 1);
      const a = await PartitionStore.open(join(dir, "a"));
      const big = "x".repeat(4000);
      for (let batch = 0; batch < 3; batch++) {
        for (let i = 0; i < 300; i++) {
          const k = encodeKey([i]);
          await a.prefetch("agg", [k]);
          if (batch === 2 && i % 3 === 0) a.delete("agg", k);
          else a.put("agg", k, { batch, i, big });
        }
        await a.commit(new Map([["input/1", (batch + 1) * 100]]), changelog.write);
      }
      // 300 writes of ~4 kB per commit: more than one append each.
      const end = await log.endOffset("cl", 1);
      expect(end).toBe(3 * 301);
      expect(a.offset("cl", 1)).toBe(end);
      // A partial commit at the end (a crash in the middle of a large commit) is not applied.
      await log.append("cl", [
        {
          key: Buffer.concat([Buffer.from([3]), Buffer.from("agg"), encodeKey([1])]),
          value: Buffer.from("null"),
          partition: 1,
        },
      ]);

      const b = await PartitionStore.open(join(dir, "b"));
      const progress: boolean[] = [];
      expect(await changelog.restore(b, (p) => progress.push(p.done))).toBe(end + 1);
      expect(progress.at(-1)).toBe(true);
      expect(await dump(b)).toEqual(await dump(a));
      expect(b.offset("input", 1)).toBe(300);
      expect(b.offset("cl", 1)).toBe(end);
      // Up to date but for the partial commit, which is read and left alone.
      expect(await changelog.restore(a)).toBe(1);
      expect(a.offset("cl", 1)).toBe(end);
      const last = await log.read("cl", 1, end - 1, 1);
      expect(last[0]!.headers.map((h) => h.key)).toEqual([COMMIT_HEADER]);
      await a.close();
      await b.close();
    } finally {
      await log.close();
    }
  });

  it("let the engine rebuild its state folder from the log (changelogs on for the embedded log)", async () => {
    const dataDir = tmp();
    const statements = `
      CREATE STREAM s (k VARCHAR KEY, v INT) WITH (kafka_topic='s', partitions=2, value_format='JSON');
      CREATE TABLE t AS SELECT v, COUNT(*) AS c FROM s GROUP BY v;`;
    const first = await openEngine({ persistent: true, dataDir, changelogs: true });
    expect((await first.execute(statements)).diagnostics).toEqual([]);
    for (let i = 0; i < 40; i++) await first.execute(`INSERT INTO s (k, v) VALUES ('k${i}', ${i % 4});`);
    await first.drain();
    const rows = async (e: Engine) => (await e.table("T")).rows.map((r) => r.join("|")).sort();
    const before = await rows(first);
    expect(before).toEqual(["0|10", "1|10", "2|10", "3|10"]);
    await first.close();

    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    const second = await openEngine({ persistent: true, dataDir, changelogs: true });
    try {
      expect(await second.drain()).toBe(0);
      expect(await rows(second)).toEqual(before);
    } finally {
      await second.close();
    }
  });

  it("rebuild the same table from a compacted changelog", async () => {
    const dataDir = tmp();
    const log = await EmbeddedLog.open(join(dataDir, "log"), { cleanupIntervalMs: 0 });
    try {
      const statements = `
        CREATE STREAM s (k VARCHAR KEY, v INT) WITH (kafka_topic='s', partitions=1, value_format='JSON');
        CREATE TABLE t AS SELECT v, COUNT(*) AS c, MAX(k) AS m FROM s GROUP BY v;`;
      const first = await openEngine({ persistent: true, dataDir, log, changelogs: true });
      expect((await first.execute(statements)).diagnostics).toEqual([]);
      // One commit per insert: many changelog chunks rewriting the same few keys.
      for (let i = 0; i < 60; i++) {
        await first.execute(`INSERT INTO s (k, v) VALUES ('k${i}', ${i % 3});`);
        await first.drain();
      }
      const rows = async (e: Engine) => (await e.table("T")).rows.map((r) => r.join("|")).sort();
      const before = await rows(first);
      expect(before).toEqual(["0|20|k9", "1|20|k7", "2|20|k8"]);
      await first.close();

      const changelogs = (await log.listTopics()).filter((t) => t.endsWith("-changelog"));
      expect(changelogs.length).toBeGreaterThan(0);
      const count = async () => {
        let n = 0;
        for (const topic of changelogs) {
          for (let at = await log.beginningOffset(topic, 0); ;) {
            const batch = await log.read(topic, 0, at, 1000);
            if (batch.length === 0) break;
            n += batch.length;
            at = batch.at(-1)!.offset + 1;
          }
        }
        return n;
      };
      const written = await count();
      expect((await log.cleanup()).compactedRecords).toBeGreaterThan(0);
      expect(await count()).toBeLessThan(written / 4);

      rmSync(join(dataDir, "state"), { recursive: true, force: true });
      const second = await openEngine({ persistent: true, dataDir, log, changelogs: true });
      try {
        expect(await second.drain()).toBe(0);
        expect(await rows(second)).toEqual(before);
      } finally {
        await second.close();
      }
    } finally {
      await log.close();
    }
  });

  it("follow claims: an instance that lost a partition is fenced, and its late writes never reach a restore", async () => {
    const dir = tmp();
    const log = await EmbeddedLog.open(join(dir, "log"));
    try {
      await log.createTopic("cl", { partitions: 1, config: { cleanupPolicy: "compact" } });
      const put = async (store: PartitionStore, changelog: Changelog, key: number, value: string, input: number) => {
        const k = encodeKey([key]);
        await store.prefetch("agg", [k]);
        store.put("agg", k, value);
        await store.commit(new Map([["input/0", input]]), changelog.write);
      };
      // Instance A owns the partition and commits.
      const clA = new Changelog(log, "cl", 0);
      const a = await PartitionStore.open(join(dir, "a"));
      await clA.claim(a);
      await put(a, clA, 1, "a1", 10);
      // B takes over (A does not know yet): B's store gets A's commit, and B commits.
      const clB = new Changelog(log, "cl", 0);
      const b = await PartitionStore.open(join(dir, "b"));
      expect(await clB.claim(b)).toBeGreaterThan(0);
      expect(b.offset("input", 0)).toBe(10);
      await put(b, clB, 2, "b2", 20);
      // A's next commit lands after B's claim: A is fenced and does not apply it locally.
      await expect(put(a, clA, 3, "a3-stale", 30)).rejects.toBeInstanceOf(FencedError);
      expect(a.offset("input", 0)).toBe(10);
      await put(b, clB, 4, "b4", 40);
      // A fresh restore follows B's history only: A's late write is skipped, B's later commit applied.
      const c = await PartitionStore.open(join(dir, "c"));
      await new Changelog(log, "cl", 0).restore(c);
      const values = (await dump(c)).map((e) => e.split("=")[1]);
      expect(values).toEqual(['"a1"', '"b2"', '"b4"']);
      expect(c.offset("input", 0)).toBe(40);
      // A takes the partition back: its store catches up on B's commits, without its own stale one.
      const clA2 = new Changelog(log, "cl", 0);
      await a.close();
      const a2 = await PartitionStore.open(join(dir, "a"));
      await clA2.claim(a2);
      expect((await dump(a2)).map((e) => e.split("=")[1])).toEqual(['"a1"', '"b2"', '"b4"']);
      // And B, which lost it in turn, is fenced at its next commit.
      await expect(put(b, clB, 5, "b5-stale", 50)).rejects.toBeInstanceOf(FencedError);
      for (const s of [a2, b, c]) await s.close();
    } finally {
      await log.close();
    }
  });
});
