/**
 * The golden corpus: every statement kind and clause, with one snapshot per compiler stage, so a change in
 * any stage shows up in review as a readable diff:
 *   <name>.ast.json      the AST (spans left out)
 *   <name>.catalog.txt   the sources the file defines (columns, key, formats, topic, window)
 *   <name>.plans.txt     per query: logical plan, plan after each rule, physical plan
 * and the rendered diagnostics of 37 typical mistakes in errors.txt.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";
import { renderDiagnostic } from "../../src/diagnostics/render.ts";
import { formatLogicalPlan } from "../../src/logical/index.ts";
import { parseScript } from "../../src/parse.ts";
import { formatPhysicalPlan } from "../../src/physical/format.ts";
import { formatType } from "../../src/types/sqltype.ts";
import { MISTAKES, PREAMBLE } from "./errors.ts";

const dir = join(import.meta.dirname, "golden");
const snap = (name: string) => join(import.meta.dirname, "__snapshots__", name);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".esql"))
  .sort();

function stripSpans(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripSpans);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== "span" && k !== "nameSpan") out[k] = stripSpans(x);
    return out;
  }
  return v;
}

describe("golden corpus", () => {
  it("covers every statement kind", () => {
    const kinds = new Set<string>();
    for (const f of files)
      for (const s of parseScript(readFileSync(join(dir, f), "utf8")).statements) kinds.add(s.statement.kind);
    expect([...kinds].sort()).toEqual(
      [
        "CreateAsSelect",
        "CreateSource",
        "CreateType",
        "Define",
        "Describe",
        "DropSource",
        "Explain",
        "InsertInto",
        "InsertValues",
        "Print",
        "QueryStatement",
        "SetProperty",
        "Show",
        "Terminate",
        "Undefine",
        "UnsetProperty",
      ].sort(),
    );
  });

  for (const f of files) {
    const name = f.replace(/\.esql$/, "");
    const text = readFileSync(join(dir, f), "utf8");

    it(`${f}: compiles with no diagnostic`, () => {
      const r = compileScript(text);
      expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`)).toEqual([]);
    });

    it(`${f}: AST`, async () => {
      const parsed = parseScript(text);
      await expect(
        JSON.stringify(stripSpans(parsed.statements.map((s) => s.statement)), null, 1) + "\n",
      ).toMatchFileSnapshot(snap(`${name}.ast.json`));
    });

    it(`${f}: catalog`, async () => {
      const r = compileScript(text);
      const lines: string[] = [];
      for (const s of r.catalog.sources.values()) {
        lines.push(
          `${s.sourceType} ${s.name} topic=${s.topic} key=${s.keyFormat.format} value=${s.valueFormat.format}${s.window ? ` window=${s.window.type}${s.window.sizeMs ? `(${s.window.sizeMs}ms)` : ""}` : ""}${s.timestamp ? ` timestamp=${s.timestamp.column}` : ""}${s.writtenBy ? ` writtenBy=${s.writtenBy}` : ""}`,
        );
        for (const c of s.columns)
          lines.push(
            `  ${c.name} ${formatType(c.type)}${c.namespace === "VALUE" ? "" : ` ${c.namespace}`}${c.headerKey ? `('${c.headerKey}')` : ""}`,
          );
      }
      await expect(lines.join("\n") + "\n").toMatchFileSnapshot(snap(`${name}.catalog.txt`));
    });

    it(`${f}: plans`, async () => {
      const r = compileScript(text);
      const out: string[] = [];
      for (const s of r.statements) {
        if (!s.logical || !s.physical) continue;
        out.push(`== ${s.text.replace(/\s+/g, " ").trim()}`, "-- logical", formatLogicalPlan(s.logical).trimEnd());
        for (const step of s.steps ?? []) {
          out.push(`-- after ${step.rule}${step.changed ? "" : " (no change)"}`);
          if (step.changed) out.push(formatLogicalPlan(step.plan).trimEnd());
        }
        out.push("-- physical", formatPhysicalPlan(s.physical).trimEnd(), "");
      }
      await expect(out.join("\n") + "\n").toMatchFileSnapshot(snap(`${name}.plans.txt`));
    });
  }
});

describe("rendered errors for typical mistakes", () => {
  it(`has at least 30 distinct mistakes, each reported with a code, a position and no internal error`, async () => {
    expect(new Set(MISTAKES.map((m) => m.name)).size).toBeGreaterThanOrEqual(30);
    const rendered: string[] = [];
    for (const m of MISTAKES) {
      const text = PREAMBLE + m.sql + "\n";
      const r = compileScript(text);
      const mine = r.diagnostics.filter((d) => d.span.start >= PREAMBLE.length);
      expect(mine.length, `no diagnostic for: ${m.name}`).toBeGreaterThan(0);
      expect(
        r.diagnostics.filter((d) => d.span.start < PREAMBLE.length),
        `preamble broke for: ${m.name}`,
      ).toEqual([]);
      for (const d of mine) {
        expect(d.code).not.toBe("ESQL-INTERNAL");
        expect(d.span.end).toBeLessThanOrEqual(text.length);
      }
      rendered.push(`### ${m.name}`, ...mine.map((d) => renderDiagnostic(d, { path: "mistake.esql", text })), "");
    }
    await expect(rendered.join("\n") + "\n").toMatchFileSnapshot(snap("errors.txt"));
  });
});
