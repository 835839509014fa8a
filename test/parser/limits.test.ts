/**
 * The compiler's limits (src/limits.ts): hostile inputs of about 1 MB each give a diagnostic with a code and
 * a position, fast, and never a throw; inputs just inside each limit still compile. Times are printed; the
 * bound asserted is generous (machines here are shared) but far below the minutes these inputs took before.
 */
import { describe, expect, it } from "vitest";
import { compileScript, type CompileResult } from "../../src/compile.ts";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.ts";
import { functions } from "../../src/functions/registry.ts";
import type { FunctionRegistry } from "../../src/functions/types.ts";
import {
  MAX_DECIMAL_PRECISION,
  MAX_ERRORS,
  MAX_EXPRESSION_DEPTH,
  MAX_IDENTIFIER_LENGTH,
  MAX_NESTING,
  MAX_STATEMENT_LENGTH,
} from "../../src/limits.ts";

const MB = 1_000_000;
const STREAM =
  "CREATE STREAM s (id INT KEY, amount DOUBLE, a ARRAY<INT>, d DECIMAL(10, 2)) WITH (kafka_topic='s', value_format='json');\n";
const repeat = (unit: string, chars: number) => unit.repeat(Math.max(1, Math.floor(chars / unit.length)));

/** Compiles `text`; `ms` is the CPU time it took (a process waiting for a core on a shared machine is not slower). */
function compileTimed(name: string, text: string): { r: CompileResult; ms: number } {
  const t0 = process.cpuUsage();
  const r = compileScript(text);
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  console.log(`limits: ${name}: ${(text.length / 1e6).toFixed(2)} MB in ${ms.toFixed(0)} ms`);
  return { r, ms };
}

/** Every diagnostic has a code and a span inside the text; none is an internal error. */
function expectSound(r: CompileResult, text: string): void {
  for (const d of r.diagnostics) {
    expect(d.code, d.message).not.toBe("ESQL-INTERNAL");
    expect(d.span.start).toBeGreaterThanOrEqual(0);
    expect(d.span.end).toBeLessThanOrEqual(text.length);
    expect(d.span.line).toBeGreaterThanOrEqual(1);
    expect(d.message.length, d.message.slice(0, 200)).toBeLessThanOrEqual(1000);
  }
}

const codes = (ds: readonly Diagnostic[]) => ds.map((d) => d.code);

describe("compiler limits", () => {
  // Warm the parser and the analyzer so the first timed shape does not pay for the JIT.
  compileScript(`${STREAM}SELECT id + 1 FROM s WHERE id IN (1, 2) EMIT CHANGES;`);

  const shapes: { name: string; text: string; code: string | undefined }[] = [
    // Over the statement length limit: rejected before the parser sees a token.
    { name: "deep nesting", text: `SELECT ${repeat("(", MB / 2)}1${repeat(")", MB / 2)} FROM s;`, code: "SYN006" },
    {
      name: "deep nesting within the statement limit",
      text: `SELECT ${repeat("(", 45_000)}1${repeat(")", 45_000)} FROM s;`,
      code: "SYN005",
    },
    { name: "many unbalanced parentheses", text: `SELECT ${repeat("(", MB)}1 FROM s;`, code: "SYN006" },
    {
      name: "many unbalanced parentheses within the statement limit",
      text: `SELECT ${repeat("(", 90_000)}1 FROM s;`,
      code: "SYN005",
    },
    { name: "many closing parentheses", text: `${STREAM}SELECT 1${repeat(")", MB)} FROM s;`, code: "SYN006" },
    { name: "deep subscripts", text: `${STREAM}SELECT a${repeat("[1]", MB)} FROM s;`, code: "SYN006" },
    {
      name: "deep subscripts within the statement limit",
      text: `${STREAM}SELECT a${repeat("[1]", MAX_STATEMENT_LENGTH - 100)} FROM s;`,
      code: "SYN005",
    },
    { name: "long arithmetic chain", text: `${STREAM}SELECT ${repeat("1+", 90_000)}1 FROM s;`, code: "SYN005" },
    { name: "long integer literal", text: `SELECT ${repeat("9", MB)} FROM s;`, code: "SYN006" },
    { name: "long numeric literal in a statement", text: `SELECT ${repeat("9", 90_000)} FROM s;`, code: "SYN003" },
    { name: "long decimal literal", text: `SELECT 1.${repeat("5", 90_000)} FROM s;`, code: "SYN003" },
    { name: "long identifier", text: `${STREAM}SELECT ${repeat("x", MB)} FROM s;`, code: "SYN006" },
    { name: "long misspelled column", text: `${STREAM}SELECT amountt${repeat("x", 90_000)} FROM s;`, code: "SYN006" },
    { name: "long string", text: `${STREAM}SELECT '${repeat("x", MB)}' FROM s EMIT CHANGES;`, code: "SYN006" },
    {
      name: "long string within the statement limit",
      text: `${STREAM}SELECT '${repeat("x", MAX_STATEMENT_LENGTH - 100)}' FROM s EMIT CHANGES;`,
      code: undefined,
    },
    { name: "unterminated string", text: `SELECT '${repeat("x", MB)}`, code: "LEX001" },
    { name: "many bad statements", text: repeat("x;\n", MB), code: "SYN007" },
    {
      name: "many misspelled columns in one statement",
      text: `${STREAM}SELECT ${repeat("amout, ", 40_000)}id FROM s EMIT CHANGES;`,
      code: "SYN007",
    },
  ];

  for (const shape of shapes) {
    it(`${shape.name}: a diagnostic, fast`, () => {
      const { r, ms } = compileTimed(shape.name, shape.text);
      expectSound(r, shape.text);
      if (shape.code === undefined) expect(r.diagnostics).toEqual([]);
      else expect(codes(r.diagnostics)).toContain(shape.code);
      // Lexing 1 MB of one-character tokens alone takes about a second, more when the suite runs in parallel on
      // a shared machine; before the limits these inputs crashed the compiler or took minutes.
      expect(ms).toBeLessThan(5000);
    });
  }

  it("many statements: time grows linearly with their number", () => {
    const make = (n: number) =>
      STREAM +
      Array.from({ length: n }, (_, i) =>
        i % 2 === 0
          ? `CREATE STREAM x${i} AS SELECT id, amount * 2 AS twice FROM s WHERE id > ${i} EMIT CHANGES;`
          : `INSERT INTO s (id, amount) VALUES (${i}, 2.5);`,
      ).join("\n");
    compileScript(make(200));
    const small = compileTimed("1,000 statements", make(1000));
    const large = compileTimed("4,000 statements", make(4000));
    expect(large.r.diagnostics).toEqual([]);
    expect(large.r.statements).toHaveLength(4001);
    console.log(`limits: 4x the statements took ${(large.ms / small.ms).toFixed(1)}x the time`);
    // Copying the catalog per statement made this quadratic (16x); linear is 4x. Generous for noise.
    expect(large.ms / small.ms).toBeLessThan(9);
  });

  it("statements just inside the limits compile", () => {
    const nested = `${"(".repeat(MAX_NESTING - 2)}id${")".repeat(MAX_NESTING - 2)}`;
    const chain = `${"id + ".repeat(MAX_EXPRESSION_DEPTH - 20)}id`;
    const name = `c${"x".repeat(MAX_IDENTIFIER_LENGTH - 1)}`;
    const text = `${STREAM}CREATE STREAM t AS SELECT ${nested} AS n, ${chain} AS c, CAST(d AS DECIMAL(${MAX_DECIMAL_PRECISION}, 3)) AS ${name} FROM s EMIT CHANGES;`;
    const r = compileScript(text);
    expect(r.diagnostics).toEqual([]);
    // Comparisons do not chain: a generated WHERE of 450 terms is as deep as its ANDs.
    const terms = Array.from({ length: 450 }, (_, i) => `id <> ${i}`).join(" AND ");
    expect(compileScript(`${STREAM}SELECT id FROM s WHERE ${terms} EMIT CHANGES;`).diagnostics).toEqual([]);
  });

  it("one level beyond a nesting limit is a diagnostic at the token that goes over", () => {
    const text = `${STREAM}SELECT ${"(".repeat(MAX_NESTING + 1)}id${")".repeat(MAX_NESTING + 1)} FROM s;`;
    const r = compileScript(text);
    expect(codes(r.diagnostics)).toEqual(["SYN005"]);
    expect(r.diagnostics[0]!.span.start).toBe(STREAM.length + "SELECT ".length + MAX_NESTING);
    const deepType = `CREATE STREAM u (id INT KEY, x ${"ARRAY<".repeat(MAX_NESTING + 1)}INT${">".repeat(MAX_NESTING + 1)}) WITH (kafka_topic='u', value_format='json');`;
    expect(codes(compileScript(deepType).diagnostics)).toEqual(["SYN005"]);
  });

  it("DECIMAL precision and scale are bounded, for declared types and arithmetic results", () => {
    const cases: [string, string][] = [
      ["CAST(amount AS DECIMAL(10, 1000000))", "ESQL-S010"],
      ["CAST(amount AS DECIMAL(0, 0))", "ESQL-S010"],
      ["CAST(amount AS DECIMAL(5, 6))", "ESQL-S010"],
      [`CAST(amount AS DECIMAL(${MAX_DECIMAL_PRECISION + 1}, 0))`, "ESQL-S010"],
      ["CAST(amount AS DECIMAL(99999999999999999999999, 1))", "ESQL-S010"],
      [
        `CAST(d AS DECIMAL(${MAX_DECIMAL_PRECISION}, 500)) * CAST(d AS DECIMAL(${MAX_DECIMAL_PRECISION}, 500))`,
        "ESQL-S010",
      ],
    ];
    for (const [expr, code] of cases) {
      const text = `${STREAM}SELECT ${expr} FROM s EMIT CHANGES;`;
      const { r, ms } = compileTimed(expr.slice(0, 40), text);
      expectSound(r, text);
      expect(codes(r.diagnostics), expr).toEqual([code]);
      expect(ms).toBeLessThan(2000);
    }
    // ksqlDB's own bounds (precision ≥ 1, 0 ≤ scale ≤ precision) still accept their edges.
    expect(
      compileScript(`${STREAM}SELECT CAST(d AS DECIMAL(1, 1)), CAST(d AS DECIMAL(38, 0)) FROM s EMIT CHANGES;`)
        .diagnostics,
    ).toEqual([]);
  });

  it("a statement over the length limit is one diagnostic; the next statement is still checked", () => {
    const long = `SELECT '${"x".repeat(MAX_STATEMENT_LENGTH)}' FROM s;`;
    const r = compileScript(`${STREAM}${long}\nSELECT nope FROM s EMIT CHANGES;`);
    expect(codes(r.diagnostics)).toEqual(["SYN006", "ESQL-S002"]);
  });

  it("the length limit applies to the text once variables are substituted", () => {
    const text = `DEFINE v = '${"y".repeat(60_000)}';\nSELECT '${"${v}".repeat(20_000)}', ${"${v}, ".repeat(50)}1 FROM s;`;
    const { r, ms } = compileTimed("variables expanding to 1.2 GB", text);
    expect(codes(r.diagnostics)).toEqual(["SYN006"]);
    expect(ms).toBeLessThan(3000);
  });

  it(`stops after ${MAX_ERRORS} errors`, () => {
    const r = compileScript(`${STREAM}${"SELECT nope FROM s EMIT CHANGES;\n".repeat(300)}`);
    expect(r.diagnostics).toHaveLength(MAX_ERRORS + 1);
    expect(r.diagnostics.at(-1)!.code).toBe("SYN007");
  });

  it("an exception inside the compiler is an internal-error diagnostic at its statement, not a throw", () => {
    const broken: FunctionRegistry = new Proxy(functions, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === "function"
          ? () => {
              throw new RangeError("Maximum call stack size exceeded");
            }
          : v;
      },
    });
    const text = `${STREAM}SELECT ABS(amount) FROM s EMIT CHANGES;\nSELECT nope FROM s EMIT CHANGES;`;
    const r = compileScript(text, { functions: broken });
    expect(codes(r.diagnostics)).toEqual(["ESQL-INTERNAL", "ESQL-S002"]);
    expect(r.diagnostics[0]!.span.line).toBe(2);
    expect(r.diagnostics[0]!.message).toContain("Maximum call stack size exceeded");
  });
});
