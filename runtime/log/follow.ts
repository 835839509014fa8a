import type { EventLog, LogRecord, PartitionPosition, SubscribeOptions } from "./types.ts";

/**
 * `EventLog.subscribe` built on `read` and `waitForData`, for logs that can read at random positions
 * (the embedded log). Visits the partitions round-robin so that one busy partition cannot starve the
 * others, yields one batch per non-empty read, and waits when every partition is at its end.
 */
export async function* followByReading(
  log: Pick<EventLog, "read" | "waitForData">,
  topic: string,
  positions: readonly PartitionPosition[],
  options: SubscribeOptions = {},
): AsyncIterableIterator<LogRecord[]> {
  const maxRecords = options.maxRecords ?? 1000;
  const signal = options.signal;
  const next = positions.map((p) => ({ partition: p.partition, offset: p.offset }));
  if (next.length === 0) return;
  while (!signal?.aborted) {
    let got = false;
    for (const pos of next) {
      if (signal?.aborted) return;
      const batch = await log.read(topic, pos.partition, pos.offset, maxRecords);
      if (batch.length > 0) {
        pos.offset = batch[batch.length - 1]!.offset + 1;
        got = true;
        yield batch;
      }
    }
    if (!got && !(await log.waitForData(topic, next, signal))) return;
  }
}
