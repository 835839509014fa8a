/** `esql fmt`: print, --check, --write, syntax errors. */
import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFmt } from "../../src/cli/fmt.ts";
import { tempDir } from "../fixtures/temp.ts";

function sink(): { out: NodeJS.WriteStream; text: () => string } {
  let buf = "";
  const out = {
    write: (s: string) => ((buf += s), true),
    isTTY: false,
  } as unknown as NodeJS.WriteStream;
  return { out, text: () => buf };
}

describe("esql fmt", () => {
  const dir = tempDir("esql-fmt-");
  const messy = join(dir, "messy.esql");
  const clean = join(dir, "clean.esql");
  const bad = join(dir, "bad.esql");
  writeFileSync(messy, "select a from s emit changes;");
  writeFileSync(clean, "SELECT a FROM s EMIT CHANGES;\n");

  it("prints the formatted text", async () => {
    const s = sink();
    expect(await runFmt([messy], { check: false, write: false }, s.out)).toBe(0);
    expect(s.text()).toBe("SELECT a FROM s EMIT CHANGES;\n");
  });

  it("--check lists unformatted files and exits 1", async () => {
    const s = sink();
    expect(await runFmt([dir], { check: true, write: false }, s.out)).toBe(1);
    expect(s.text()).toContain("messy.esql");
    expect(s.text()).not.toContain("clean.esql");
  });

  it("--write rewrites them; then --check passes", async () => {
    expect(await runFmt([dir], { check: false, write: true }, sink().out)).toBe(0);
    expect(readFileSync(messy, "utf8")).toBe("SELECT a FROM s EMIT CHANGES;\n");
    expect(await runFmt([dir], { check: true, write: false }, sink().out)).toBe(0);
  });

  it("a syntax error prints the diagnostic and exits 1", async () => {
    writeFileSync(bad, "SELECT a FORM s;");
    const s = sink();
    expect(await runFmt([bad], { check: false, write: false }, s.out)).toBe(1);
    expect(s.text()).toMatch(/bad\.esql:1:15: error\[SYN001\]/);
  });
});
