import { describe, expect, it } from "vitest";
import { expr, show, strip } from "./helpers.ts";
import { parseExpression } from "../../src/parse.ts";

describe("expression precedence", () => {
  const cases: [string, string][] = [
    ["a OR b AND c", "(A OR (B AND C))"],
    ["a AND b OR c", "((A AND B) OR C)"],
    ["NOT a AND b", "((NOT A) AND B)"],
    ["NOT a = b", "(NOT (A = B))"],
    ["NOT NOT a", "(NOT (NOT A))"],
    ["a = b AND c <> d", "((A = B) AND (C <> D))"],
    ["a != b", "(A <> B)"],
    ["a + b = c * d", "((A + B) = (C * D))"],
    ["a || b = c", "((A || B) = C)"],
    ["a + b || c + d", "((A + B) || (C + D))"],
    ["a + b * c", "(A + (B * C))"],
    ["a - b - c", "((A - B) - C)"],
    ["a / b % c * d", "(((A / B) % C) * D)"],
    ["-a * b", "((-A) * B)"],
    ["- -a", "(-(-A))"],
    ["+a", "(+A)"],
    ["-a[1]", "(-A[1])"],
    ["-s->f", "(-S->F)"],
    ["a->b->c[2]->d", "A->B->C[2]->D"],
    ["m['k'][0]", "M['k'][0]"],
    ["(a + b) * c", "((A + B) * C)"],
    ["a + b IS NULL", "((A + B) IS NULL)"],
    ["a IS NOT NULL AND b IS NULL", "((A IS NOT NULL) AND (B IS NULL))"],
    ["a BETWEEN 1 AND 2 AND b", "((A BETWEEN 1 AND 2) AND B)"],
    ["a NOT BETWEEN b + 1 AND c * 2", "(A NOT BETWEEN (B + 1) AND (C * 2))"],
    ["a IN (1, 2, 3)", "(A IN [1, 2, 3])"],
    ["a NOT IN ('x')", "(A NOT IN ['x'])"],
    ["a LIKE 'x%'", "(A LIKE 'x%')"],
    ["a NOT LIKE p ESCAPE '!'", "(A NOT LIKE P ESCAPE '!')"],
    ["a IS DISTINCT FROM b + 1", "(A IS DISTINCT FROM (B + 1))"],
    ["a IS NOT DISTINCT FROM b", "(A IS NOT DISTINCT FROM B)"],
    ["NOT a IN (1) OR b", "((NOT (A IN [1])) OR B)"],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(show(expr(text))).toBe(expected));
  }
});

describe("primary expressions", () => {
  it("literals", () => {
    expect(strip(expr("1"))).toEqual({ kind: "Literal", literal: "integer", value: 1, text: "1" });
    expect(strip(expr("3000000000"))).toEqual({
      kind: "Literal",
      literal: "integer",
      value: 3000000000,
      text: "3000000000",
    });
    expect(strip(expr("1.50"))).toEqual({ kind: "Literal", literal: "decimal", value: "1.50", text: "1.50" });
    expect(strip(expr(".5"))).toEqual({ kind: "Literal", literal: "decimal", value: ".5", text: ".5" });
    expect(strip(expr("1.5E3"))).toEqual({ kind: "Literal", literal: "double", value: 1500, text: "1.5E3" });
    expect(strip(expr("2e-1"))).toEqual({ kind: "Literal", literal: "double", value: 0.2, text: "2e-1" });
    expect(strip(expr("'it''s'"))).toEqual({ kind: "Literal", literal: "string", value: "it's", text: "'it''s'" });
    expect(strip(expr("'a\\b'"))).toEqual({ kind: "Literal", literal: "string", value: "a\\b", text: "'a\\b'" });
    expect(strip(expr("TRUE"))).toEqual({ kind: "Literal", literal: "boolean", value: true, text: "TRUE" });
    expect(strip(expr("false"))).toEqual({ kind: "Literal", literal: "boolean", value: false, text: "false" });
    expect(strip(expr("null"))).toEqual({ kind: "Literal", literal: "null", value: null, text: "null" });
  });

  it("BIGINT range: -9223372036854775808 is fine, one more is not", () => {
    expect(show(expr("-9223372036854775808"))).toBe("(-9223372036854775808)");
    expect(parseExpression("9223372036854775808").diagnostics[0]?.code).toBe("SYN003");
    expect(parseExpression("-9223372036854775809").diagnostics[0]?.code).toBe("SYN003");
    expect(parseExpression("1.8E308").diagnostics[0]?.code).toBe("SYN003");
  });

  it("identifiers: unquoted upper-cased, quoted kept, qualified", () => {
    expect(strip(expr("foo"))).toEqual({ kind: "ColumnRef", name: "FOO" });
    expect(strip(expr("`foo`"))).toEqual({ kind: "ColumnRef", name: "foo" });
    expect(strip(expr('"Foo"'))).toEqual({ kind: "ColumnRef", name: "Foo" });
    expect(strip(expr("`a``b`"))).toEqual({ kind: "ColumnRef", name: "a`b" });
    expect(strip(expr("t.col"))).toEqual({ kind: "ColumnRef", qualifier: "T", name: "COL" });
    expect(strip(expr("t.`Col`"))).toEqual({ kind: "ColumnRef", qualifier: "T", name: "Col" });
    expect(show(expr("a.b.c"))).toBe("A.B->C");
  });

  it("non-reserved keywords are names", () => {
    for (const w of [
      "value",
      "key",
      "size",
      "timestamp",
      "date",
      "time",
      "source",
      "type",
      "map",
      "struct",
      "session",
      "day",
      "final",
    ]) {
      expect(strip(expr(w))).toEqual({ kind: "ColumnRef", name: w.toUpperCase() });
    }
    expect(show(expr("REPLACE(a, 'x', 'y')"))).toBe("REPLACE(A, 'x', 'y')");
    expect(show(expr("TIMESTAMP + 1"))).toBe("(TIMESTAMP + 1)");
  });

  it("function calls", () => {
    expect(strip(expr("count(*)"))).toEqual({ kind: "FunctionCall", name: "COUNT", args: [], star: true });
    expect(strip(expr("COUNT()"))).toEqual({ kind: "FunctionCall", name: "COUNT", args: [], star: false });
    expect(show(expr("substring(s, 1, 2)"))).toBe("SUBSTRING(S, 1, 2)");
    expect(show(expr("f(g(x), -1)"))).toBe("F(G(X), (-1))");
  });

  it("lambdas as arguments", () => {
    expect(show(expr("TRANSFORM(a, x => x + 1)"))).toBe("TRANSFORM(A, (X) => (X + 1))");
    expect(show(expr("REDUCE(m, 0, (s, k, v) => s + v)"))).toBe("REDUCE(M, 0, (S, K, V) => (S + V))");
    expect(show(expr("TRANSFORM(a, (x) => x)"))).toBe("TRANSFORM(A, (X) => X)");
    expect(parseExpression("x => x").diagnostics[0]?.message).toMatch(/only allowed as a function argument/);
    expect(parseExpression("f((a + 1, b) => a)").diagnostics[0]?.message).toMatch(/lambda parameter/);
  });

  it("CASE, CAST", () => {
    expect(show(expr("CASE WHEN a > 1 THEN 'x' WHEN a < 0 THEN 'y' ELSE 'z' END"))).toBe(
      "CASE WHEN (A > 1) THEN 'x' WHEN (A < 0) THEN 'y' ELSE 'z' END",
    );
    expect(show(expr("CASE a WHEN 1 THEN 2 END"))).toBe("CASE A WHEN 1 THEN 2 END");
    expect(strip(expr("CAST(a AS DECIMAL(4, 2))"))).toEqual({
      kind: "Cast",
      operand: { kind: "ColumnRef", name: "A" },
      type: { kind: "DecimalType", precision: 4, scale: 2 },
    });
  });

  it("constructors", () => {
    expect(show(expr("ARRAY[1, 2, a]"))).toBe("ARRAY[1, 2, A]");
    expect(show(expr("ARRAY[]"))).toBe("ARRAY[]");
    expect(show(expr("MAP('a' := 1, k := v * 2)"))).toBe("MAP('a' := 1, K := (V * 2))");
    expect(show(expr("MAP()"))).toBe("MAP()");
    expect(show(expr("STRUCT(f1 := 1, `f2` := 'x')"))).toBe("STRUCT(F1 := 1, f2 := 'x')");
    expect(show(expr("ARRAY[1, 2][1]"))).toBe("ARRAY[1, 2][1]");
  });

  it("a parenthesised list is not an expression", () => {
    const r = parseExpression("(a, b)");
    expect(r.diagnostics[0]?.message).toBe("expected ')' but found ','");
  });
});

describe("types", () => {
  const typeOf = (t: string): unknown => {
    const e = expr(`CAST(x AS ${t})`);
    return e.kind === "Cast" ? strip(e.type) : undefined;
  };
  it("primitives and synonyms", () => {
    const cases: [string, string][] = [
      ["BOOLEAN", "BOOLEAN"],
      ["INT", "INTEGER"],
      ["integer", "INTEGER"],
      ["BIGINT", "BIGINT"],
      ["DOUBLE", "DOUBLE"],
      ["STRING", "STRING"],
      ["VARCHAR", "STRING"],
      ["BYTES", "BYTES"],
      ["DATE", "DATE"],
      ["TIME", "TIME"],
      ["TIMESTAMP", "TIMESTAMP"],
    ];
    for (const [text, name] of cases) expect(typeOf(text)).toEqual({ kind: "PrimitiveType", name });
  });
  it("structured and custom", () => {
    expect(typeOf("ARRAY<MAP<STRING, ARRAY<INT>>>")).toEqual({
      kind: "ArrayType",
      element: {
        kind: "MapType",
        key: { kind: "PrimitiveType", name: "STRING" },
        value: { kind: "ArrayType", element: { kind: "PrimitiveType", name: "INTEGER" } },
      },
    });
    expect(typeOf("STRUCT<a INT, `B b` STRUCT<key STRING>>")).toEqual({
      kind: "StructType",
      fields: [
        { kind: "StructField", name: "A", type: { kind: "PrimitiveType", name: "INTEGER" } },
        {
          kind: "StructField",
          name: "B b",
          type: {
            kind: "StructType",
            fields: [{ kind: "StructField", name: "KEY", type: { kind: "PrimitiveType", name: "STRING" } }],
          },
        },
      ],
    });
    expect(typeOf("STRUCT<>")).toEqual({ kind: "StructType", fields: [] });
    expect(typeOf("address")).toEqual({ kind: "CustomType", name: "ADDRESS" });
    expect(typeOf("DECIMAL(10,0)")).toEqual({ kind: "DecimalType", precision: 10, scale: 0 });
  });
});
