/**
 * Progress of long work (replaying a topic into a projection, restoring stores from changelogs): a bar
 * (cli-progress) with records done and total, rate and time left when the stream is a terminal; plain
 * log lines every few seconds otherwise (CI logs, files). Quick work shows nothing: the bar appears only
 * after a moment, and the first log line after one interval.
 *
 * `ESQL_PROGRESS_INTERVAL_MS` sets the interval of log lines (default 5000) and caps the delay before the
 * bar (default 500).
 */
import { Presets, SingleBar } from "cli-progress";
import type { Engine } from "../../runtime/engine/engine.ts";
import type { StageTask } from "../../runtime/query/stage.ts";
import type { RestoreProgress } from "../../runtime/state/changelog.ts";

export interface ProgressOptions {
  /** Where the bar or lines go (stderr in every command). */
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw a bar (a terminal) or write lines; default: whether `stream` is a TTY. */
  readonly tty?: boolean;
  /** Between log lines; default `ESQL_PROGRESS_INTERVAL_MS` or 5000. */
  readonly intervalMs?: number;
}

export function progressInterval(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.ESQL_PROGRESS_INTERVAL_MS);
  return Number.isFinite(n) && n > 0 ? n : 5000;
}

const number = new Intl.NumberFormat("en-US");

/** `75s` → `1m15s`. */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One piece of work counted in records. `update` as often as you like (it is cheap); `stop` at the end.
 * What is shown: `label [bar] done/total records | rate/s | time left`.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly started = Date.now();
  private bar: SingleBar | undefined;
  private lastLine: number;
  private done = 0;
  private total = 0;
  private stopped = false;

  constructor(
    private readonly label: string,
    private readonly options: ProgressOptions,
  ) {
    this.tty = options.tty ?? options.stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? progressInterval();
    this.lastLine = this.started;
  }

  private measured: { rate: number; secondsLeft?: number } | undefined;

  private rate(): number {
    if (this.measured) return this.measured.rate;
    const s = (Date.now() - this.started) / 1000;
    return s > 0 ? this.done / s : 0;
  }

  private left(): number {
    const r = this.rate();
    return r > 0 ? (this.total - this.done) / r : Number.POSITIVE_INFINITY;
  }

  /** `measured`: the rate and time left as the worker measured them (a server rebuilding), instead of from here. */
  update(done: number, total: number, measured?: { rate: number; secondsLeft?: number }): void {
    if (this.stopped) return;
    this.done = done;
    this.total = Math.max(total, done);
    this.measured = measured;
    const now = Date.now();
    const payload = {
      rate: number.format(Math.round(measured ? measured.rate : this.rate())),
      left: duration(measured ? (measured.secondsLeft ?? Number.POSITIVE_INFINITY) : this.left()),
      doneText: number.format(done),
      totalText: number.format(this.total),
    };
    if (this.tty) {
      if (!this.bar && now - this.started >= Math.min(500, this.intervalMs) && done < this.total) {
        this.bar = new SingleBar({
          ...Presets.shades_classic,
          stream: this.options.stream,
          format: `${this.label} [{bar}] {percentage}% | {doneText}/{totalText} records | {rate} records/s | {left} left`,
          barsize: 30,
          hideCursor: true,
          fps: 10,
          // The terminal test and people who resize windows: never wrap the bar onto two lines.
          linewrap: false,
        });
        this.bar.start(this.total, done, payload);
      } else if (this.bar) {
        this.bar.setTotal(this.total);
        this.bar.update(done, payload);
      }
      return;
    }
    if (now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      const pct = this.total > 0 ? Math.floor((100 * done) / this.total) : 100;
      this.options.stream.write(
        `${this.label}: ${payload.doneText}/${payload.totalText} records (${pct}%), ${payload.rate} records/s, about ${payload.left} left\n`,
      );
    }
  }

  /** Ends the bar (left at its final state) or writes a last line when lines were written. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const secs = (Date.now() - this.started) / 1000;
    if (this.bar) {
      this.bar.update(this.done, {
        rate: number.format(Math.round(this.rate())),
        left: "0s",
        doneText: number.format(this.done),
        totalText: number.format(this.total),
      });
      this.bar.stop();
    } else if (!this.tty && this.lastLine !== this.started) {
      this.options.stream.write(
        `${this.label}: ${number.format(this.done)} records in ${duration(secs)} (${number.format(Math.round(this.rate()))} records/s)\n`,
      );
    }
  }
}

/**
 * Runs `work` (typically `engine.drain()`) and shows how far the engine's queries are through the
 * records their source topics held when it started: positions of the first stages' tasks against the
 * topics' end offsets, sampled every 100 ms.
 */
export async function withReplayProgress<T>(
  engine: Engine,
  label: string,
  options: ProgressOptions,
  work: () => Promise<T>,
): Promise<T> {
  type Input = { task: StageTask; index: number; start: number; end: number };
  const inputs: Input[] = [];
  for (const q of engine.queries.values()) {
    for (const task of q.tasks) {
      task.stage.inputs.forEach((input, index) => {
        if (input.kind === "source") inputs.push({ task, index, start: 0, end: 0 });
      });
    }
  }
  let total = 0;
  for (const i of inputs) {
    i.start = await i.task.currentPosition(i.index);
    i.end = await engine.log.endOffset(i.task.inputTopics[i.index]!, i.task.partition);
    total += Math.max(0, i.end - i.start);
  }
  if (total === 0) return work();
  const progress = new Progress(label, options);
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      let done = 0;
      for (const i of inputs) done += Math.min(i.end, await i.task.currentPosition(i.index)) - i.start;
      progress.update(done, total);
    } catch {
      // a task closed under us: the next sample or the end tells
    } finally {
      sampling = false;
    }
  };
  const timer = setInterval(() => void sample(), 100);
  try {
    const result = await work();
    clearInterval(timer);
    await sample();
    return result;
  } finally {
    clearInterval(timer);
    progress.stop();
  }
}

/**
 * An `onRestore` callback for `Engine.open`: one progress display over every changelog partition being
 * restored (records read of all partitions reported so far); stops when they are all done.
 */
export function restoreProgress(options: ProgressOptions): (p: RestoreProgress) => void {
  const parts = new Map<string, RestoreProgress>();
  let progress: Progress | undefined;
  return (p) => {
    parts.set(`${p.topic}/${p.partition}`, p);
    progress ??= new Progress("restoring state", options);
    let read = 0;
    let total = 0;
    for (const x of parts.values()) {
      read += x.read;
      total += x.total;
    }
    progress.update(read, total);
    if ([...parts.values()].every((x) => x.done)) {
      progress.stop();
      progress = undefined;
      parts.clear();
    }
  };
}
