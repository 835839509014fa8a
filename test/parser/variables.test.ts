import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";

describe("${var} substitution", () => {
  it("DEFINE then use, in order; tokens carry the reference's span", () => {
    const text = "DEFINE src = 'orders';\nDEFINE cols = 'id, amount * 2';\nSELECT ${cols} FROM ${src};";
    const r = parseScript(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.statements.map((s) => s.statement.kind)).toEqual(["Define", "Define", "QueryStatement"]);
    const q = r.statements[2]!;
    expect(q.text).toBe("SELECT id, amount * 2 FROM orders");
    if (q.statement.kind !== "QueryStatement") throw new Error();
    expect(q.statement.query.select).toHaveLength(2);
    const from = q.statement.query.from;
    if (from.kind !== "AliasedSource") throw new Error();
    expect(from.name.value).toBe("ORDERS");
    expect(text.slice(from.name.span.start, from.name.span.end)).toBe("${src}");
    const first = q.statement.query.select[0]!;
    expect(text.slice(first.span.start, first.span.end)).toBe("${cols}");
  });

  it("options.variables, case-insensitive names, substitution inside strings", () => {
    const r = parseScript("CREATE STREAM s (a INT) WITH (kafka_topic='${Topic}_v1', value_format='${fmt}');", {
      variables: new Map([
        ["topic", "t"],
        ["FMT", "JSON"],
      ]),
    });
    expect(r.diagnostics).toEqual([]);
    const s = r.statements[0]!;
    expect(s.text).toBe("CREATE STREAM s (a INT) WITH (kafka_topic='t_v1', value_format='JSON')");
    if (s.statement.kind !== "CreateSource") throw new Error();
    expect(s.statement.properties.map((p) => p.value.value)).toEqual(["t_v1", "JSON"]);
  });

  it("an undefined variable is SYN002 at the reference; UNDEFINE removes", () => {
    const text = "DEFINE x = '1';\nSELECT ${x} FROM t;\nUNDEFINE x;\nSELECT ${x} FROM t;";
    const r = parseScript(text);
    expect(r.statements.map((s) => s.statement.kind)).toEqual(["Define", "QueryStatement", "Undefine"]);
    expect(r.diagnostics).toHaveLength(1);
    const d = r.diagnostics[0]!;
    expect(d.code).toBe("SYN002");
    expect(d.span).toMatchObject({ line: 4, col: 8, endCol: 11 });
    expect(text.slice(d.span.start, d.span.end)).toBe("${x}");
  });

  it("syntax errors inside a substituted value point at the reference", () => {
    const text = "DEFINE bad = '1 2';\nSELECT ${bad} FROM t;";
    const d = parseScript(text).diagnostics[0]!;
    expect(d.code).toBe("SYN001");
    expect(text.slice(d.span.start, d.span.end)).toBe("${bad}");
  });

  it("an undefined variable inside a string is left as written", () => {
    const r = parseScript("SELECT '${nope}' FROM t;");
    expect(r.diagnostics).toEqual([]);
  });
});
