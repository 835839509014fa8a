import { describe, expect, it } from "vitest";
import { error } from "../../src/diagnostics/diagnostic.ts";
import { renderDiagnostic, renderGithub, diagnosticToJson } from "../../src/diagnostics/render.ts";

const text = "CREATE STREAM s (a INT) WITH (kafka_topic='t', value_format='JSON');\nSELECT b FROM s EMIT CHANGES;\n";
const span = { start: 77, end: 78, line: 2, col: 8, endLine: 2, endCol: 8 };

describe("diagnostic rendering", () => {
  it("shows file:line:col, the code, the line and a caret under the span", () => {
    const d = error("ESQL-S002", "column 'B' does not exist", span, "did you mean 'A'?");
    expect(renderDiagnostic(d, { path: "q.esql", text })).toBe(
      [
        "q.esql:2:8: error[ESQL-S002]: column 'B' does not exist",
        "  |",
        "2 | SELECT b FROM s EMIT CHANGES;",
        "  |        ^",
        "  = hint: did you mean 'A'?",
      ].join("\n"),
    );
  });

  it("underlines the whole span on one line and lines tabs up", () => {
    const t = "\tSELECT foo FROM s;";
    const d = error("SYN001", "m", { start: 8, end: 11, line: 1, col: 9, endLine: 1, endCol: 11 });
    expect(renderDiagnostic(d, { path: "a", text: t }).split("\n")[3]).toBe("  |            ^^^");
  });

  it("escapes GitHub annotations and emits JSON with 1-based positions", () => {
    const d = error("SYN001", "bad: 100%, really\nyes", span);
    expect(renderGithub(d, { path: "dir/a,b.esql", text })).toBe(
      "::error file=dir/a%2Cb.esql,line=2,col=8,endLine=2,endColumn=9,title=esql SYN001::bad: 100%25, really%0Ayes",
    );
    expect(diagnosticToJson(d, { path: "a", text })).toMatchObject({ line: 2, column: 8, code: "SYN001" });
  });
});
