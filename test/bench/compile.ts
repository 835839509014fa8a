/**
 * Compile throughput: a 1,000-statement script (sources, CSAS/CTAS with filters, aggregates, windows,
 * pull and push queries) through parse, analysis and planning. Prints statements per second for the
 * parser alone and for the whole pipeline, and their ratio.
 */
import { performance } from "node:perf_hooks";
import { parseScript } from "../../src/parse.ts";
import { compileScript } from "../../src/compile.ts";

export function thousandStatementScript(): string {
  const out: string[] = [];
  for (let i = 0; out.length < 1000; i++) {
    out.push(
      `CREATE STREAM s${i} (id STRING KEY, amount DOUBLE, kind STRING, tags ARRAY<STRING>, at BIGINT) WITH (kafka_topic = 's${i}', value_format = 'JSON', partitions = 4, timestamp = 'at');`,
      `CREATE STREAM f${i} AS SELECT id, UCASE(kind) AS kind, amount * 2 AS doubled, ARRAY_LENGTH(tags) AS n FROM s${i} WHERE amount > ${i} AND kind LIKE 'a%' EMIT CHANGES;`,
      `CREATE TABLE t${i} AS SELECT id, COUNT(*) AS n, SUM(amount) AS total, MAX(at) AS last_at FROM s${i} GROUP BY id EMIT CHANGES;`,
      `CREATE TABLE w${i} AS SELECT kind, COUNT(*) AS n, AVG(amount) AS mean FROM s${i} WINDOW TUMBLING (SIZE ${1 + (i % 60)} MINUTES) GROUP BY kind EMIT CHANGES;`,
      `SELECT * FROM t${i} WHERE id = 'k${i}';`,
      `SELECT id, CASE WHEN amount > 10 THEN 'big' ELSE 'small' END AS size FROM s${i} EMIT CHANGES LIMIT 10;`,
    );
  }
  return out.slice(0, 1000).join("\n");
}

export interface CompileBenchResult {
  readonly statements: number;
  readonly parsePerSecond: number;
  readonly compilePerSecond: number;
}

function best(runs: number, f: () => void): number {
  let bestMs = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

export function benchCompile(): CompileBenchResult {
  const text = thousandStatementScript();
  const check = compileScript(text);
  if (check.diagnostics.length > 0) {
    throw new Error(`bench script does not compile: ${check.diagnostics[0]!.message}`);
  }
  const statements = check.statements.length;
  const parseMs = best(5, () => parseScript(text));
  const compileMs = best(5, () => compileScript(text));
  return {
    statements,
    parsePerSecond: (statements / parseMs) * 1000,
    compilePerSecond: (statements / compileMs) * 1000,
  };
}
