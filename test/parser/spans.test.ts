import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";
import type { Span } from "../../src/diagnostics/diagnostic.ts";

const TEXT =
  "-- a comment\nCREATE STREAM out AS\n  SELECT `K`, a + b * 2 AS total\n  FROM src s\n  WHERE s.x IS NOT NULL;\nDROP STREAM out;";

function at(span: Span): string {
  return TEXT.slice(span.start, span.end);
}

describe("spans", () => {
  const r = parseScript(TEXT);
  it("parses", () => expect(r.diagnostics).toEqual([]));
  const s = r.statements[0]!.statement;
  if (s.kind !== "CreateAsSelect") throw new Error("expected CSAS");

  it("statements span their text without ';' or leading comments", () => {
    expect(at(s.span)).toBe(r.statements[0]!.text);
    expect(s.span).toMatchObject({ line: 2, col: 1, endLine: 5, endCol: 23 });
    expect(at(r.statements[1]!.statement.span)).toBe("DROP STREAM out");
  });

  it("names, expressions, clauses", () => {
    expect(at(s.name.span)).toBe("out");
    expect(s.name.span).toMatchObject({ line: 2, col: 15, endLine: 2, endCol: 17 });
    const item = s.query.select[1]!;
    expect(at(item.span)).toBe("a + b * 2 AS total");
    if (item.kind !== "SelectExpr") throw new Error();
    expect(at(item.expr.span)).toBe("a + b * 2");
    if (item.expr.kind !== "Binary") throw new Error();
    expect(at(item.expr.right.span)).toBe("b * 2");
    expect(item.expr.right.span).toMatchObject({ line: 3, col: 19, endCol: 23 });
    expect(at(item.alias!.span)).toBe("total");
    expect(at(s.query.from.span)).toBe("src s");
    expect(at(s.query.where!.span)).toBe("s.x IS NOT NULL");
    expect(at(s.query.span)).toBe("SELECT `K`, a + b * 2 AS total\n  FROM src s\n  WHERE s.x IS NOT NULL");
  });

  it("function calls carry a name span; parentheses widen the span", () => {
    const q = parseScript("SELECT f(x), (a) FROM t").statements[0]!.statement;
    if (q.kind !== "QueryStatement") throw new Error();
    const [call, paren] = q.query.select;
    if (call?.kind !== "SelectExpr" || call.expr.kind !== "FunctionCall" || paren?.kind !== "SelectExpr")
      throw new Error();
    expect(call.expr.nameSpan).toMatchObject({ start: 7, end: 8 });
    expect(call.expr.span).toMatchObject({ start: 7, end: 11 });
    expect(paren.expr.span).toMatchObject({ start: 13, end: 16 });
  });

  it("CRLF line endings count as one line break", () => {
    const d = parseScript("SELECT a\r\nFROM s\r\nWHERE ;").diagnostics[0]!;
    expect(d.span).toMatchObject({ line: 3, col: 7 });
  });
});
