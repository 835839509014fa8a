/**
 * Embedded log + JSON serde throughput: appends 1M small records, reads them back, decodes them.
 * Prints records/second. Not part of the test suite: `node --import tsx test/runtime/log/bench-log.ts [count]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import type { ProduceRecord } from "../../../runtime/log/types.ts";
import { createSerde } from "../../../runtime/serde/index.ts";
import { BIGINT, DOUBLE, STRING } from "../../../src/types/sqltype.ts";

const total = Number(process.argv[2] ?? 1_000_000);
const batchSize = 10_000;
const partitions = 4;
const dir = mkdtempSync(join(tmpdir(), "esql-bench-log-"));

const key = createSerde("KAFKA", [{ name: "ACCOUNT", type: STRING }], { isKey: true });
const value = createSerde(
  "JSON",
  [
    { name: "ID", type: BIGINT },
    { name: "KIND", type: STRING },
    { name: "AMOUNT", type: DOUBLE },
  ],
  { isKey: false },
);

const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString("en")} records/s`;

try {
  const log = await EmbeddedLog.open(dir);
  await log.createTopic("bench", { partitions });

  let t0 = performance.now();
  for (let done = 0; done < total; done += batchSize) {
    const batch: ProduceRecord[] = new Array(Math.min(batchSize, total - done));
    for (let i = 0; i < batch.length; i++) {
      const id = done + i;
      batch[i] = {
        key: key.serialize([`acct-${id % 1000}`]),
        value: value.serialize([id, id % 2 ? "deposit" : "withdrawal", (id % 500) / 4]),
        timestamp: id,
      };
    }
    await log.append("bench", batch);
  }
  const appendMs = performance.now() - t0;
  console.log(`append  ${total.toLocaleString("en")} records in ${appendMs.toFixed(0)} ms: ${rate(total, appendMs)}`);

  t0 = performance.now();
  let read = 0;
  let decoded = 0;
  let decodeMs = 0;
  for (let p = 0; p < partitions; p++) {
    let offset = 0;
    for (;;) {
      const recs = await log.read("bench", p, offset, batchSize);
      if (recs.length === 0) break;
      const d0 = performance.now();
      for (const r of recs) {
        const row = value.deserialize(r.value);
        if (row !== null) decoded++;
      }
      decodeMs += performance.now() - d0;
      read += recs.length;
      offset = recs[recs.length - 1]!.offset + 1;
    }
  }
  const readMs = performance.now() - t0 - decodeMs;
  console.log(`read    ${read.toLocaleString("en")} records in ${readMs.toFixed(0)} ms: ${rate(read, readMs)}`);
  console.log(
    `decode  ${decoded.toLocaleString("en")} JSON values in ${decodeMs.toFixed(0)} ms: ${rate(decoded, decodeMs)}`,
  );
  await log.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
