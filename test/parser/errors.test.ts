import { describe, expect, it } from "vitest";
import { parseScript } from "../../src/parse.ts";

/** [script, code, "line:col", message, hint (substring) or undefined] */
const MISTAKES: [string, string, string, string, string | undefined][] = [
  ["SELECT a b c FROM s;", "SYN001", "1:12", "expected 'FROM' but found 'c'", "',' missing before 'c'"],
  ["SELECT a, b WHERE a = 1;", "SYN001", "1:13", "expected 'FROM' but found 'WHERE'", undefined],
  ["SELECT COUNT(a FROM s;", "SYN001", "1:16", "expected ')' but found 'FROM'", undefined],
  [
    "CREATE STREAM s (a INT b STRING) WITH (kafka_topic='s');",
    "SYN001",
    "1:24",
    "expected ')' but found 'b'",
    "',' missing before 'b'",
  ],
  [
    "CREATE STREAM s (a INT,) WITH (kafka_topic='s');",
    "SYN001",
    "1:24",
    "expected an identifier but found ')'",
    "trailing ','",
  ],
  [
    "CREATE STREAM s (a DECIMAL(10)) WITH (kafka_topic='s');",
    "SYN001",
    "1:20",
    "expected DECIMAL(precision, scale) but found 1 parameter(s)",
    "DECIMAL(p, s)",
  ],
  [
    "CREATE STREAM s (a MAP<STRING>) WITH (kafka_topic='s');",
    "SYN001",
    "1:30",
    "expected ',' but found '>'",
    undefined,
  ],
  [
    "CREATE STREAM s (a INT(3)) WITH (kafka_topic='s');",
    "SYN001",
    "1:24",
    "expected ',' or ')' after type INT but found '('",
    "takes no parameters",
  ],
  [
    "SELECT 'abc FROM s;",
    "LEX001",
    "1:8",
    "unterminated string literal: expected a closing ' but found end of input",
    "written twice",
  ],
  [
    "SELECT a FROM s /* never closed",
    "LEX001",
    "1:17",
    "unterminated comment: expected */ but found end of input",
    undefined,
  ],
  ["SELECT a # b FROM s;", "LEX001", "1:10", "unexpected character '#'", undefined],
  ["SELECT a FROM s WHERE a == 1;", "SYN001", "1:25", "expected ';' but found '=='", "use '='"],
  ["SELECT from FROM s;", "SYN001", "1:8", "expected '*' or an expression but found 'from'", "`FROM`"],
  [
    "CREATE STREAM s (select INT) WITH (kafka_topic='s');",
    "SYN001",
    "1:18",
    "expected an identifier but found 'select'",
    "back-quote it: `SELECT`",
  ],
  ["SELEC a FROM s;", "SYN001", "1:1", "expected a statement but found 'SELEC'", "did you mean SELECT?"],
  ["SELECT a FORM s;", "SYN001", "1:15", "expected 'FROM' but found 's'", "did you mean FROM instead of 'FORM'?"],
  [
    "SELECT a FROM s WINDOW TUMBLING (SIZE 10 BOBS) GROUP BY a;",
    "SYN001",
    "1:42",
    "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS) but found 'BOBS'",
    undefined,
  ],
  ["SELECT a FROM s WHERE a = ;", "SYN001", "1:27", "expected an expression but found ';'", undefined],
  ["SELECT a FROM s GROUP a;", "SYN001", "1:23", "expected 'BY' but found 'a'", undefined],
  [
    "CREATE TABLE t AS SELECT a FROM s EMIT;",
    "SYN001",
    "1:39",
    "expected 'CHANGES' or 'FINAL' but found ';'",
    undefined,
  ],
  ["INSERT INTO t VALUES (1, 2", "SYN001", "1:27", "expected ')' but found end of input", undefined],
  [
    "CREATE STREAM s (a INT) WITH (kafka_topic='s' value_format='JSON');",
    "SYN001",
    "1:47",
    "expected ')' but found 'value_format'",
    "',' missing",
  ],
  ["SELECT CASE WHEN a THEN 1 FROM s;", "SYN001", "1:27", "expected 'END' but found 'FROM'", undefined],
  ["SELECT * FROM a JOIN b;", "SYN001", "1:23", "expected 'ON' but found ';'", undefined],
  ["DROP s;", "SYN001", "1:6", "expected 'STREAM', 'TABLE' or 'TYPE' but found 's'", undefined],
  ["SELECT a FROM s\nWHERE (a = 1\n  AND b = 2;", "SYN001", "3:12", "expected ')' but found ';'", undefined],
  ["SELECT CAST(a AS) FROM s;", "SYN001", "1:17", "expected a type but found ')'", undefined],
  ["SELECT * FROM s WHERE a IN ();", "SYN001", "1:29", "expected an expression but found ')'", undefined],
  ["SELECT * FROM s GROUP BY a AND b;", "SYN001", "1:28", "expected ';' but found 'AND'", "parentheses"],
  ["SELECT * FROM s WHERE a = ${missing};", "SYN002", "1:27", "undefined variable 'missing'", "DEFINE missing"],
];

describe("typical mistakes give short, exact diagnostics", () => {
  for (const [script, code, at, message, hint] of MISTAKES) {
    it(`${JSON.stringify(script)}`, () => {
      const { diagnostics, statements } = parseScript(script);
      expect(statements).toEqual([]);
      expect(diagnostics).toHaveLength(1);
      const d = diagnostics[0]!;
      expect(d.code).toBe(code);
      expect(`${d.span.line}:${d.span.col}`).toBe(at);
      expect(d.message).toBe(message);
      if (hint === undefined) expect(d.hint).toBeUndefined();
      else expect(d.hint).toContain(hint);
      expect(d.message.length).toBeLessThan(120);
    });
  }
});

describe("error spans", () => {
  it("cover the offending token", () => {
    const text = "SELECT a FROM s WHERE a == 1;";
    const d = parseScript(text).diagnostics[0]!;
    expect(text.slice(d.span.start, d.span.end)).toBe("==");
    expect([d.span.endLine, d.span.endCol]).toEqual([1, 26]);
  });
  it("at end of input without ';' point just past the last token", () => {
    const text = "SELECT a FROM";
    const d = parseScript(text).diagnostics[0]!;
    expect(d.message).toBe("expected an identifier but found end of input");
    expect(d.span).toMatchObject({ start: 13, end: 13, line: 1, col: 14 });
  });
  it("an unterminated string runs to the end of the text", () => {
    const text = "SELECT a FROM s;\nSELECT 'x\n FROM t;";
    const r = parseScript(text);
    expect(r.statements).toHaveLength(1);
    const d = r.diagnostics[0]!;
    expect(d.span).toMatchObject({ start: 24, end: text.length, line: 2, col: 8, endLine: 3 });
  });
  it("a lexical error only costs its own statement", () => {
    const r = parseScript("SELECT a ^ b FROM s;\nSELECT a FROM t;");
    expect(r.statements.map((s) => s.text)).toEqual(["SELECT a FROM t"]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["LEX001"]);
  });
});
