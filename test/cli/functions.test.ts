/** User functions through the CLI: the functions/ folder beside the files, --functions, every command. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runEsql } from "../fixtures/cli.ts";
import { tempDir } from "../fixtures/temp.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../examples/cart-contents");

describe("user functions in the CLI", { timeout: 400_000 }, () => {
  it("check, explain, test, run, plan and apply pick up the functions/ folder beside the .esql files", () => {
    const data = tempDir();
    expect(runEsql(["check", EXAMPLE]).stdout).toContain("1 file, 2 statements: no errors");
    const explained = runEsql(["explain", join(EXAMPLE, "carts.esql")]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toMatch(/CART_ITEMS\(TYPE, SKU, QTY\)/);
    expect(runEsql(["test", EXAMPLE]).stdout.trimEnd().split("\n").pop()).toBe("2 passed, 0 failed, 0 skipped");
    const run = runEsql([
      "run",
      join(EXAMPLE, "carts.esql"),
      "--input",
      `cart_events=${join(EXAMPLE, "cart_events.jsonl")}`,
      "--data",
      join(data, "run"),
      "--json",
    ]);
    expect(run.code).toBe(0);
    const carts = (JSON.parse(run.stdout) as { tables: Record<string, { CART_ID: string; ITEMS: unknown }[]> }).tables
      .CARTS!;
    expect(carts.find((c) => c.CART_ID === "C1")!.ITEMS).toEqual({ apple: 2, bread: 1 });
    expect(runEsql(["plan", EXAMPLE, "--data", join(data, "deploy")]).code).toBe(2);
    expect(runEsql(["apply", EXAMPLE, "--data", join(data, "deploy")]).code).toBe(0);
  });

  it("--functions loads a module or folder elsewhere; SHOW FUNCTIONS and DESCRIBE FUNCTION list them in the REPL", () => {
    const repl = runEsql(["repl", "--data", join(tempDir(), "repl"), "--functions", join(EXAMPLE, "functions")], {
      input: "SHOW FUNCTIONS;\nDESCRIBE FUNCTION cart_total;\n",
    });
    expect(repl.stdout).toMatch(/CART_ITEMS\s+│ USER\s+│ AGGREGATE/);
    expect(repl.stdout).toContain("CART_TOTAL(STRING event_type, STRING sku, INTEGER qty, DOUBLE price) -> DOUBLE");
    expect(repl.stdout).toMatch(/Source\s+: .*cart\.ts \(sha256:[0-9a-f]{12}\)/);
  });

  it("a module that does not validate stops the command with exit 1 and says where and what", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "functions"));
    writeFileSync(
      join(dir, "a.esql"),
      "CREATE STREAM s (id STRING KEY) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);\n",
    );
    writeFileSync(
      join(dir, "functions", "bad.ts"),
      'export const TWICE = { kind: "scalar", name: "twice", params: ["INTEGR x"], returns: "INTEGER", fn: (x: number) => 2 * x };\n',
    );
    const r = runEsql(["check", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("esql: the user functions cannot be loaded:");
    expect(r.stderr).toMatch(/functions\/bad\.ts: function TWICE: parameter 1 'INTEGR x': unknown type INTEGR/);
  });
});
