/** `esql run` with CREATE OR REPLACE on a data folder: a refused redefinition is a located error, exit 1. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/temp.ts";
import { runEsql } from "../fixtures/cli.ts";

const dir = tempDir("esql-cli-replace-");

const esql = (...args: string[]) => runEsql(args, { cwd: dir });

describe("esql run with CREATE OR REPLACE", { timeout: 120_000 }, () => {
  it("refuses an aggregation change with file:line:col and the reason", () => {
    writeFileSync(
      join(dir, "v1.esql"),
      `CREATE STREAM orders (id STRING KEY, product STRING, price DOUBLE)
  WITH (kafka_topic = 'orders', value_format = 'JSON', partitions = 1);
CREATE TABLE revenue AS SELECT product, MAX(price) AS top FROM orders GROUP BY product;
`,
    );
    writeFileSync(
      join(dir, "v2.esql"),
      "CREATE OR REPLACE TABLE revenue AS SELECT product, MIN(price) AS top FROM orders GROUP BY product;\n",
    );
    expect(esql("run", "v1.esql", "--data", "data").code).toBe(0);
    const refused = esql("run", "v2.esql", "--data", "data");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "v2.esql:1:25: error[ESQL-S039]: CREATE OR REPLACE cannot change the aggregation of table REVENUE: " +
        "MAX(PRICE) became MIN(PRICE); the stored state would be misread. Use `esql apply`, which rebuilds it as a new version.",
    );
    expect(refused.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
