/** Terminal conventions shared by every command: colour only on a terminal and never with NO_COLOR. */
import pc from "picocolors";

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if ("NO_COLOR" in process.env && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

export function colors(stream: NodeJS.WriteStream = process.stdout) {
  return pc.createColors(useColor(stream));
}

/** Exit codes, the same for every command (documented in the README). */
export const EXIT = {
  ok: 0,
  /** The input has errors (diagnostics, failed tests). */
  failed: 1,
  /** Bad usage: unknown option, missing argument, file not found. */
  usage: 2,
} as const;
