/**
 * The diagnostic codes cannot drift: the list in src/diagnostics/codes.ts, the table in docs/language.md
 * ("Diagnostics") and the codes the sources report are the same set.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectEsqlFiles } from "../../src/cli/files.ts";
import { DIAGNOSTIC_CODES } from "../../src/diagnostics/codes.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** A code as a string literal in the sources: `"SYN001"`, `"ESQL-S002"`, `"ESQL-INTERNAL"`. */
const CODE_LITERAL = /["'`]((?:LEX|SYN|QRY|RUN|DEPLOY)\d{3}|ESQL-(?:S\d{3}|INTERNAL))["'`]/g;

/** The rows of the table under "## Diagnostics" (before its next heading): code, title, meaning. */
function documented(): { code: string; title: string; doc: string }[] {
  const md = readFileSync(join(ROOT, "docs/language.md"), "utf8");
  const section = md.slice(md.indexOf("\n## Diagnostics\n"));
  const body = section.slice(0, section.indexOf("\n#", 1)); // up to the next heading
  return body
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|\s*(code|-+)\s*\|/.test(l))
    .map((l) => {
      const [code, title, doc] = l
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim());
      return { code: code!, title: title!, doc: doc! };
    });
}

/** Where each code appears as a literal in the sources (the list itself left out). */
function used(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of collectEsqlFiles(
    ["grammar", "src", "runtime"].map((d) => join(ROOT, d)),
    ".ts",
  )) {
    if (file.endsWith(join("src", "diagnostics", "codes.ts"))) continue;
    for (const m of readFileSync(file, "utf8").matchAll(CODE_LITERAL)) {
      const at = out.get(m[1]!) ?? [];
      at.push(file.slice(ROOT.length + 1));
      out.set(m[1]!, at);
    }
  }
  return out;
}

describe("diagnostic codes", () => {
  const listed: string[] = DIAGNOSTIC_CODES.map((c) => c.code);

  it("are listed once each", () => {
    expect(listed.filter((c, i) => listed.indexOf(c) !== i)).toEqual([]);
  });

  it("docs/language.md documents exactly the list, in its order and words", () => {
    const expected = DIAGNOSTIC_CODES.map((c) => `| ${c.code} | ${c.title} | ${c.doc} |`).join("\n");
    expect(
      documented(),
      `the Diagnostics table of docs/language.md should be:\n| code | title | meaning |\n| --- | --- | --- |\n${expected}\n`,
    ).toEqual(DIAGNOSTIC_CODES.map((c) => ({ code: c.code, title: c.title, doc: c.doc })));
  });

  it("every code the sources report is in the list, and every listed code is reported somewhere", () => {
    const inSources = used();
    const unlisted = [...inSources].filter(([c]) => !listed.includes(c)).map(([c, at]) => `${c} (${at.join(", ")})`);
    expect(unlisted, "codes used in the sources but missing from src/diagnostics/codes.ts").toEqual([]);
    // (src/semantic/codes.ts names the ESQL-S codes: they count as used there.)
    const unused = listed.filter((c) => !inSources.has(c));
    expect(unused, "listed codes no source reports").toEqual([]);
  });
});
