/**
 * Window times shared by the processors that keep windows: an aggregation's store and the `table` store of
 * an EMIT FINAL table (see sink.ts) expire windows on the same schedule.
 */
import type { AggregateWindow } from "./topology.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A window's grace period and retention, with ksqlDB's defaults: without GRACE PERIOD, 24 hours minus the
 * window size (the gap for sessions), at least 0, or 0 with EMIT FINAL; retention is RETENTION, and at least
 * (and by default) size + grace (gap + grace for sessions), as Kafka Streams requires of a window store.
 */
export function windowTimes(w: AggregateWindow, emitFinal: boolean): { graceMs: number; retentionMs: number } {
  const extent = (w.type === "SESSION" ? w.gapMs : w.sizeMs) ?? 0;
  const graceMs = w.graceMs ?? (emitFinal ? 0 : Math.max(DAY_MS - extent, 0));
  return { graceMs, retentionMs: Math.max(w.retentionMs ?? 0, extent + graceMs) };
}

/** The start of the newest time window that contains `ts` (the newest window a record at `ts` creates). */
export function lastWindowStart(ts: number, w: AggregateWindow): number {
  const size = w.sizeMs ?? 0;
  const advance = w.type === "HOPPING" ? (w.advanceMs ?? size) : size;
  return advance > 0 ? ts - (((ts % advance) + advance) % advance) : ts;
}
