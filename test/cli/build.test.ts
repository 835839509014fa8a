/**
 * `bin/esql.js` runs the build in `dist/` only when it is at least as new as every source it was made from
 * (`dist/build.json`), else the TypeScript sources: an edit not yet built never runs old code. Checked on a
 * copy of the entry point beside a stand-in build and stand-in sources that say which one ran.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ESQL_BIN, runEsql } from "../fixtures/cli.ts";
import { tempDir } from "../fixtures/temp.ts";

const ROOT = resolve(import.meta.dirname, "../..");

function fakePackage(): { dir: string; run: (env?: NodeJS.ProcessEnv) => string } {
  const dir = tempDir("esql-build-");
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "dist"));
  mkdirSync(join(dir, "src/cli"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  copyFileSync(ESQL_BIN, join(dir, "bin/esql.js"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "dist/esql.js"), `export async function main() { console.log("built"); return 0; }\n`);
  writeFileSync(
    join(dir, "src/cli/main.ts"),
    `export async function main(_: readonly string[]): Promise<number> { console.log("source"); return 0; }\n`,
  );
  const run = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(dir, "bin/esql.js")], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    expect(r.stderr).toBe("");
    return r.stdout.trim();
  };
  return { dir, run };
}

function writeManifest(dir: string, startedAt: number, inputs: string[]): void {
  writeFileSync(join(dir, "dist/build.json"), JSON.stringify({ startedAt, inputs }));
}

describe("bin/esql.js", () => {
  it("runs the build when no source it was made from changed since", () => {
    const { dir, run } = fakePackage();
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, "src/cli/main.ts"), old, old);
    writeManifest(dir, Date.now(), ["src/cli/main.ts"]);
    expect(run()).toBe("built");
    expect(run({ ESQL_FROM_SOURCE: "1" })).toBe("source");
  });

  it("runs the sources when one is newer than the build, missing, or the build has no manifest", () => {
    const { dir, run } = fakePackage();
    writeManifest(dir, Date.now() - 60_000, ["src/cli/main.ts"]);
    expect(run()).toBe("source");
    writeManifest(dir, Date.now() + 60_000, ["src/cli/main.ts", "src/cli/gone.ts"]);
    expect(run()).toBe("source");
    rmSync(join(dir, "dist/build.json"));
    expect(run()).toBe("source");
  });

  it("prints the version from the build as from the sources", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const built = runEsql(["--version"]);
    const source = runEsql(["--version"], { env: { ESQL_FROM_SOURCE: "1" } });
    expect(built.code).toBe(0);
    expect(built.stdout).toBe(source.stdout);
    expect(built.stdout.trim()).toBe(version);
  });

  it("loads neither kafkajs, LevelDB nor the HTTP server's packages for --version and check", () => {
    const probe = `
      import { createRequire } from "node:module";
      const { main } = await import(${JSON.stringify(join(ROOT, "dist/esql.js"))});
      await main(process.argv.slice(1));
      const heavy = Object.keys(createRequire(import.meta.url).cache).filter((k) =>
        /node_modules[/](kafkajs|classic-level|find-my-way|prom-client)[/]/.test(k));
      console.error("heavy:" + heavy.length);`;
    for (const args of [["--version"], ["check", join(ROOT, "examples/bank/bank.esql")]]) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", probe, "--", ...args], { encoding: "utf8" });
      expect(r.stderr.trim()).toBe("heavy:0");
      expect(r.status).toBe(0);
    }
  });
});
