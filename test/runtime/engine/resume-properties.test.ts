/**
 * A query keeps the session properties it was created with: the command topic records them with the
 * statement, and a restarted engine replays the statement with them (as ksqlDB does), not with whatever the
 * new session has.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../fixtures/temp.ts";
import { openEngine } from "../../fixtures/engine.ts";

describe("resuming deployed statements", () => {
  it("replays each with the properties it ran with, and leaves the session's alone", async () => {
    const dataDir = tempDir("esql-resume-props-");
    const first = await openEngine({ persistent: true, dataDir });
    const r = await first.execute(`
      CREATE STREAM clicks (uid VARCHAR KEY, n INT) WITH (kafka_topic='clicks', partitions=1, value_format='JSON');
      INSERT INTO clicks (uid, n) VALUES ('old', 1);
      SET 'auto.offset.reset' = 'latest';
      CREATE TABLE recent AS SELECT uid, COUNT(*) AS c FROM clicks GROUP BY uid;
      UNSET 'auto.offset.reset';
      CREATE TABLE everything AS SELECT uid, COUNT(*) AS c FROM clicks GROUP BY uid;`);
    expect(r.diagnostics).toEqual([]);
    await first.close();
    // The state is lost (a new machine, say): both queries start again from their topics' offsets...
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    const second = await openEngine({ persistent: true, dataDir });
    try {
      await second.drain(); // the queries start: RECENT at the end of its topic
      await second.execute("INSERT INTO clicks (uid, n) VALUES ('new', 2);");
      await second.drain();
      // ...RECENT from the latest (it was created under 'latest'), EVERYTHING from the earliest.
      expect((await second.table("RECENT")).rows).toEqual([["new", 1]]);
      expect((await second.table("EVERYTHING")).rows.map((row) => row.join("|")).sort()).toEqual(["new|1", "old|1"]);
      expect(second.properties["auto.offset.reset"]).toBeUndefined();
    } finally {
      await second.close();
    }
  });
});
