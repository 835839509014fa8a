/**
 * Drives `node bin/esql.js ...` through a real pseudo-terminal (node-pty) for tests: what the program
 * writes is collected as a screen transcript (ANSI codes stripped), keys are typed, and `expectScreen`
 * waits for text to appear after the last mark.
 */
import { resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { spawn, type IPty } from "node-pty";

export const BIN = resolve(import.meta.dirname, "../../bin/esql.js");

export const KEY = { enter: "\r", tab: "\t", ctrlC: "\x03", ctrlD: "\x04", up: "\x1b[A" } as const;

export class Terminal {
  /** Everything written, raw (with escape codes). */
  raw = "";
  private mark = 0;
  private exit: Promise<number>;
  private readonly pty: IPty;

  constructor(args: readonly string[], options: { cwd: string; env?: Record<string, string>; cols?: number }) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && k !== "NO_COLOR" && k !== "FORCE_COLOR") env[k] = v;
    this.pty = spawn(process.execPath, [BIN, ...args], {
      name: "xterm-256color",
      cols: options.cols ?? 160,
      rows: 50,
      cwd: options.cwd,
      env: { ...env, TERM: "xterm-256color", ...options.env },
    });
    this.pty.onData((d) => (this.raw += d));
    this.exit = new Promise((r) => this.pty.onExit((e) => r(e.exitCode)));
  }

  /** The transcript as text: escape codes removed, carriage returns dropped. */
  get screen(): string {
    return clean(this.raw);
  }

  /** What appeared since the last `expectScreen` that matched (or since the start). */
  get recent(): string {
    return clean(this.raw.slice(this.mark));
  }

  type(text: string): void {
    this.pty.write(text);
  }

  /** Types a line and Enter. */
  line(text: string): void {
    this.pty.write(text + KEY.enter);
  }

  /** Waits until `pattern` shows after the mark; moves the mark past it. */
  async expectScreen(pattern: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const raw = this.raw.slice(this.mark);
      const text = clean(raw);
      const matches = (t: string) => (typeof pattern === "string" ? t.includes(pattern) : pattern.test(t));
      if (matches(text)) {
        // Move the mark just past the match: the shortest prefix of the raw output that shows it.
        let lo = 0;
        let hi = raw.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (matches(clean(raw.slice(0, mid)))) hi = mid;
          else lo = mid + 1;
        }
        this.mark += lo;
        return clean(raw.slice(0, lo));
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`timed out waiting for ${String(pattern)}; the screen since the last match:\n${text}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Waits for the process to end (after Ctrl-D); returns its exit code. */
  async exited(timeoutMs = 30_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`did not exit; screen:\n${this.screen}`)), timeoutMs)),
    );
    try {
      return await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    try {
      this.pty.kill();
    } catch {
      // already gone
    }
  }
}

function clean(raw: string): string {
  return stripVTControlCharacters(raw).replace(/\r/g, "");
}
