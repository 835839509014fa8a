import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { functions } from "../../src/functions/registry.ts";
import { KSQL_CASES_AVAILABLE, QTT_DIR } from "../fixtures/ksql-cases.ts";

const QTT = QTT_DIR;
/** Words followed by `(` that are not functions: keywords, types, source names used with `(`. */
const NOT_FUNCTIONS = new Set([
  "WITH",
  "IN",
  "DECIMAL",
  "STRUCT",
  "CAST",
  "TUMBLING",
  "HOPPING",
  "SESSION",
  "MAP",
  "ARRAY",
  "VALUES",
  "BY",
  "VARCHAR",
  "STRING",
  "INTEGER",
  "SELECT",
  "WITHIN",
  "WHERE",
  "AND",
  "HEADER",
  "HEADERS",
  "AS",
  "ON",
  "FROM",
  "EXISTS",
  "NOT",
  "OR",
  "GRACE",
  "RETENTION",
  "INSERT",
  "INTO",
  "TABLE",
  "STREAM",
  "TYPE",
]);

it.skipIf(!KSQL_CASES_AVAILABLE)("reports qtt functions missing from the registry", () => {
  const used = new Map<string, number>();
  const sources = new Set<string>();
  for (const f of readdirSync(QTT).filter((x) => x.endsWith(".json"))) {
    const j = JSON.parse(readFileSync(join(QTT, f), "utf8")) as {
      tests: { statements?: string[] }[];
    };
    for (const t of j.tests) {
      for (const s of t.statements ?? []) {
        for (const m of s.matchAll(/\b(?:STREAM|TABLE|INTO|FROM|JOIN)\s+`?([A-Za-z_][A-Za-z0-9_]*)/gi))
          sources.add(m[1]!.toUpperCase());
        for (const m of s.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
          const n = m[1]!.toUpperCase();
          used.set(n, (used.get(n) ?? 0) + 1);
        }
      }
    }
  }
  const missing = [...used]
    .filter(([n]) => !NOT_FUNCTIONS.has(n) && !sources.has(n) && !functions.get(n))
    .sort((a, b) => b[1] - a[1]);
  console.log(
    `qtt functions missing from the registry (${missing.length}): ${missing.map(([n, c]) => `${n}:${c}`).join(" ")}`,
  );
  expect(functions.all().length).toBeGreaterThan(100);
});
