/**
 * Every query of ksqlDB's QTT cases that compiles gets a physical plan, and every persistent query a
 * topology plan, that is plain JSON (strict round trip: no undefined fields, bigint, Map or functions) and
 * no internal compiler error.
 */
import { deepStrictEqual } from "node:assert";
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";

import { KSQL_CASES_AVAILABLE, QTT_DIR as DIR } from "../fixtures/ksql-cases.ts";

describe.skipIf(!KSQL_CASES_AVAILABLE)("physical plans of the conformance queries", () => {
  it("are JSON and never come from an internal error", () => {
    let plans = 0;
    let topologies = 0;
    const internal: string[] = [];
    for (const f of readdirSync(DIR).filter((x) => x.endsWith(".json"))) {
      for (const c of JSON.parse(readFileSync(`${DIR}/${f}`, "utf8")).tests as {
        name: string;
        statements: string[];
        format?: string[];
        properties?: Record<string, string>;
      }[]) {
        for (const fm of c.format ?? ["JSON"]) {
          const r = compileScript(c.statements.join("\n").replaceAll("{FORMAT}", fm), {
            properties: c.properties ?? {},
          });
          for (const d of r.diagnostics)
            if (d.code === "ESQL-INTERNAL") internal.push(`${f} :: ${c.name}: ${d.message}`);
          for (const s of r.statements) {
            if (s.topology) {
              topologies++;
              deepStrictEqual(JSON.parse(JSON.stringify(s.topology)), s.topology);
            }
            if (!s.physical) continue;
            plans++;
            deepStrictEqual(JSON.parse(JSON.stringify(s.physical)), s.physical);
          }
        }
      }
    }
    expect(internal).toEqual([]);
    expect(plans).toBeGreaterThan(800);
    expect(topologies).toBeGreaterThan(700);
  });
});
