import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Engine } from "../../../runtime/engine/engine.ts";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { Changelog, COMMIT_HEADER } from "../../../runtime/state/changelog.ts";
import { PartitionStore } from "../../../runtime/state/store.ts";
import { encodeKey } from "../../../runtime/state/keycodec.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "esql-changelog-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

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
      await log.append("cl", [{ key: Buffer.concat([Buffer.from([3]), Buffer.from("agg"), encodeKey([1])]), value: Buffer.from("null"), partition: 1 }]);

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
    const first = await Engine.open({ dataDir, changelogs: true });
    expect((await first.execute(statements)).diagnostics).toEqual([]);
    for (let i = 0; i < 40; i++) await first.execute(`INSERT INTO s (k, v) VALUES ('k${i}', ${i % 4});`);
    await first.drain();
    const rows = async (e: Engine) => (await e.table("T")).rows.map((r) => r.join("|")).sort();
    const before = await rows(first);
    expect(before).toEqual(["0|10", "1|10", "2|10", "3|10"]);
    await first.close();

    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    const second = await Engine.open({ dataDir, changelogs: true });
    try {
      expect(await second.drain()).toBe(0);
      expect(await rows(second)).toEqual(before);
    } finally {
      await second.close();
    }
  });
});
