import { describe, expect, it } from "vitest";
import { encodeKey } from "../../../runtime/state/keycodec.ts";
import { PartitionStore } from "../../../runtime/state/store.ts";
import { tempDir } from "../../fixtures/temp.ts";

describe("PartitionStore", () => {
  it("commits state and offsets together and finds both after reopening", async () => {
    const dir = tempDir("esql-store-");
    const s = await PartitionStore.open(dir);
    const k = encodeKey(["alice"]);
    await s.prefetch("agg", [k]);
    expect(s.get("agg", k)).toBeUndefined();
    s.put("agg", k, { count: 1, sum: 10n, tags: new Map([["a", 1]]) });
    const changes = await s.commit(new Map([["events/0", 5]]));
    expect(changes).toEqual([{ store: "agg", key: k, value: { count: 1, sum: 10n, tags: new Map([["a", 1]]) } }]);
    await s.close();

    const again = await PartitionStore.open(dir);
    expect(again.offset("events", 0)).toBe(5);
    await again.prefetch("agg", [k]);
    expect(again.get("agg", k)).toEqual({ count: 1, sum: 10n, tags: new Map([["a", 1]]) });
    await again.close();
  });

  it("range reads committed entries with the batch's uncommitted puts and deletes applied, in key order", async () => {
    const s = await PartitionStore.open(tempDir("esql-store-"));
    for (const t of [1, 2, 3, 4]) s.put("idx", encodeKey([t]), t);
    s.put("other", encodeKey([2]), "not in idx");
    await s.commit(new Map());
    s.delete("idx", encodeKey([2]));
    s.put("idx", encodeKey([3]), 30);
    s.put("idx", encodeKey([2.5]), 25);
    s.put("idx", encodeKey([9]), 90); // outside the range
    const got = await s.range("idx", { gte: encodeKey([2]), lt: encodeKey([5]) });
    expect(got).toEqual([
      [encodeKey([2.5]), 25],
      [encodeKey([3]), 30],
      [encodeKey([4]), 4],
    ]);
    await s.close();
  });

  it("keeps uncommitted changes out of the database", async () => {
    const dir = tempDir("esql-store-");
    const s = await PartitionStore.open(dir);
    const k = encodeKey([1]);
    await s.prefetch("x", [k]);
    s.put("x", k, 1);
    await s.close(); // no commit: a crash here loses the batch, never half of it

    const again = await PartitionStore.open(dir);
    expect(again.offset("t", 0)).toBeUndefined();
    expect(await again.read("x", k)).toBeUndefined();
    await again.close();
  });

  it("scans a key's entries in order, seeing the batch's own changes", async () => {
    const s = await PartitionStore.open(tempDir("esql-store-"));
    const key = encodeKey(["dev-1"]);
    const win = (start: number) => Buffer.concat([key, encodeKey([start])]);
    await s.loadPrefix("sessions", key);
    s.put("sessions", win(2000), "b");
    s.put("sessions", win(1000), "a");
    await s.commit(new Map());
    await s.loadPrefix("sessions", key);
    s.delete("sessions", win(1000));
    s.put("sessions", win(3000), "c");
    expect(s.scanLoaded("sessions", key).map(([, v]) => v)).toEqual(["b", "c"]);
    await s.commit(new Map());
    const all: unknown[] = [];
    for await (const [, v] of s.iterate("sessions")) all.push(v);
    expect(all).toEqual(["b", "c"]);
    await s.close();
  });

  it("says clearly when another handle holds the store", async () => {
    const dir = tempDir("esql-store-");
    const s = await PartitionStore.open(dir);
    await expect(PartitionStore.open(dir)).rejects.toThrow(/in use by another process/);
    await s.close();
  });
});
