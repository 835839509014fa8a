/** The fixture registry of ksqlDB's test-suite functions: present only when added, resolving as the cases need. */
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";
import { functions as builtins } from "../../src/functions/registry.ts";
import { withKsqlTestFunctions } from "../fixtures/ksql-test-functions.ts";

const functions = withKsqlTestFunctions(builtins);
const BASE = "CREATE STREAM i (id BIGINT KEY, a BIGINT, b STRING, c INT) WITH (kafka_topic='i', value_format='JSON');";

describe("ksqlDB test-suite functions (fixture)", () => {
  it("are not built-ins", () => {
    expect(builtins.get("TEST_UDF")).toBeUndefined();
    expect(functions.get("test_udf")?.kind).toBe("scalar");
    expect(functions.get("WONT_FIND_ME")).toBeUndefined();
    expect(functions.get("UCASE")).toBe(builtins.get("UCASE"));
    expect(functions.all().length).toBeGreaterThan(builtins.all().length);
  });
  it("variadic aggregates accept the shapes of ksqlDB's cases and refuse the others", () => {
    const ok = (sql: string) => compileScript(BASE + sql, { functions }).diagnostics.map((d) => d.message);
    expect(ok("CREATE TABLE o AS SELECT id, VAR_ARG(a, b, 'x') AS r FROM i GROUP BY id;")).toEqual([]);
    expect(ok("CREATE TABLE o AS SELECT id, MID_VAR_ARG(a, b, 7, 3) AS r FROM i GROUP BY id;")).toEqual([]);
    expect(ok("CREATE TABLE o AS SELECT id, MULTI_ARG(a, b, 5, '10') AS r FROM i GROUP BY id;")).toEqual([]);
    expect(ok("CREATE TABLE o AS SELECT id, VAR_ARG(a, c) AS r FROM i GROUP BY id;")[0]).toContain(
      "does not accept parameters (BIGINT, INTEGER)",
    );
    expect(ok("CREATE TABLE o AS SELECT id, MULTI_ARG(a, b) AS r FROM i GROUP BY id;")[0]).toContain(
      "does not accept parameters",
    );
  });
  it("BAD_UDF throws at run time", () => {
    const f = functions.get("BAD_UDF");
    if (f?.kind !== "scalar") throw new Error("BAD_UDF is a scalar");
    const r = f.resolve([{ kind: "value", type: { kind: "BOOLEAN" } }]);
    if (!r.ok) throw new Error(r.message);
    expect(r.value.impl(false)).toBe(0);
    expect(() => r.value.impl(true)).toThrow();
  });
});
