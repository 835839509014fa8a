/**
 * Where a Node process's time went, from a `.cpuprofile` (`node --cpu-prof`): self time grouped by area
 * (the client library, JSON, each runtime folder, GC, idle), then the top functions.
 *
 *   node --import tsx test/bench/peers/profile.ts FILE.cpuprofile
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const ROOT = resolve(fileURLToPath(import.meta.url), "..", "..", "..", "..");

/** The area a function belongs to: a package under node_modules, a folder of this repo, or a V8 bucket. */
function area(frame: ProfileNode["callFrame"]): string {
  const { functionName: fn, url } = frame;
  if (fn === "(idle)" || fn === "(program)" || fn === "(garbage collector)") return fn;
  if ((fn === "parse" || fn === "stringify") && url === "") return `JSON.${fn}`;
  if (url.includes("node_modules/kafkajs/")) {
    // The client, split by direction: encoding and sending records, or fetching and decoding them.
    if (/\/(producer|requests\/produce)\/|\/recordBatch\/record\/v0\/index\.js|\/encoder\.js|\/crc32/.test(url))
      return "kafkajs: produce (group, encode)";
    if (/\/(requests\/fetch|consumer)\/|decoder\.js|\/utils\/long\.js/.test(url)) return "kafkajs: fetch (decode)";
    return "kafkajs: other";
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:") || url === "") return "node internals / builtins";
  const path = decodeURIComponent(url.replace(/^file:\/\//, ""));
  if (path.startsWith(ROOT)) {
    const parts = path.slice(ROOT.length + 1).split("/");
    return parts.slice(0, parts[0] === "runtime" || parts[0] === "src" ? 2 : 1).join("/");
  }
  return path;
}

export function summarizeProfile(file: string, top = 15): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    total += us;
    const a = area(n.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const short = n.callFrame.url
      .replace(/^file:\/\//, "")
      .replace(`${ROOT}/`, "")
      .replace(/.*node_modules\//, "");
    const name =
      `${n.callFrame.functionName || "(anonymous)"} ${short ? `${short}:${n.callFrame.lineNumber + 1}` : ""}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
  }
  const busy = total - (areas.get("(idle)") ?? 0);
  const line = (name: string, us: number) =>
    `  ${name.padEnd(64).slice(0, 64)} ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    `total ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle (percentages are of the latter)`,
    "by area (self time):",
    ...sorted(areas)
      .filter(([a]) => a !== "(idle)")
      .slice(0, 16)
      .map(([a, us]) => line(a, us)),
    `top ${top} functions (self time):`,
    ...sorted(fns)
      .filter(([f]) => !f.startsWith("(idle)"))
      .slice(0, top)
      .map(([f, us]) => line(f, us)),
  ].join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: profile.ts FILE.cpuprofile");
    process.exit(2);
  }
  console.log(summarizeProfile(file));
}
