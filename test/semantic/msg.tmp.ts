import { readFileSync, readdirSync } from "node:fs";
import { compileScript } from "../../src/compile.ts";
const DIR = "/work/shared/conformance/ksql/qtt";
let n = 0, match = 0; const misses: string[] = [];
for (const f of readdirSync(DIR)) for (const c of JSON.parse(readFileSync(`${DIR}/${f}`, "utf8")).tests) {
  const ex = c.expectedException; if (!ex || !/Ksql/.test(ex.type)) continue;
  for (const fm of c.format ?? ["JSON"]) {
    const d = compileScript(c.statements.join("\n").replaceAll("{FORMAT}", fm), { properties: c.properties ?? {} }).diagnostics;
    if (!d.length) continue; n++;
    const want = (ex.message ?? "").replace(/^Line: \d+, Col: \d+: /, "").trim();
    if (d.some((x) => (x.message + (x.hint ? " " + x.hint : "")).replace(/\s+/g, " ").includes(want.replace(/\s+/g, " ").slice(0, 60)))) match++;
    else misses.push(`${f} :: ${want.slice(0, 110)}\n    got: ${d[0]!.message.slice(0, 110)}`);
  }
}
console.log(`messages matching: ${match}/${n}`); console.log(misses.join("\n"));
