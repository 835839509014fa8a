/**
 * The compiler's time is linear in its input, for every shape of hostile input: each shape is compiled at a
 * quarter of its size and at its size (a megabyte; an eighth to a quarter of one for valid statements, which
 * the parser, analyzer and planner all see, to keep this test short), and the larger may take at most
 * {@link MAX_RATIO} times as long (4 is linear; a quadratic part makes it 16). Time is the process's CPU time,
 * not the wall clock: the machines these tests run on are shared, and a process waiting for a core is not
 * slower code.
 */
import { describe, expect, it } from "vitest";
import { compileScript } from "../../src/compile.ts";
import { MAX_IDENTIFIER_LENGTH, MAX_NESTING } from "../../src/limits.ts";

const KB = 1000;
const MB = 1000 * KB;
/**
 * 4 is linear and 16 quadratic (4× the input). For shapes the compiler rejects while lexing (a statement over
 * the length limit) the bound sits below quadratic with room for the garbage collector, whose work grows faster
 * than the heap of tokens: under Node 24 an arithmetic chain measures 6-10× and unbalanced parentheses 7×
 * (Node 20: 4-6×).
 */
const MAX_RATIO = 12;
/**
 * The bound for valid scripts, which the parser, analyzer and planner all see: measured 1.4-4.2× under Node 20
 * once the catalog's maps became a trie (its chain of changes folded every √n statements measured 11× for 4×
 * the statements with every catalog kept, as `compileScript` keeps them).
 */
const MAX_RATIO_VALID = 8;
/**
 * The most CPU time a megabyte of any shape may take. Generous: shapes rejected by a limit take milliseconds,
 * but a megabyte of valid statements (some 14,000 of them, each parsed, analyzed and planned) takes seconds on
 * the loaded two-core machines this was written on.
 */
const MAX_MS_PER_MB = 20_000;

const STREAM =
  "CREATE STREAM s (id INT KEY, amount DOUBLE, a ARRAY<INT>, d DECIMAL(10, 2)) WITH (kafka_topic='s', value_format='json');\n";
const repeat = (unit: string, chars: number) => unit.repeat(Math.max(1, Math.floor(chars / unit.length)));
/** Statements from `make(i)` for i = 0, 1, ... until `chars` characters. */
function statements(chars: number, make: (i: number) => string): string {
  const parts = [STREAM];
  let length = STREAM.length;
  for (let i = 0; length < chars; i++) {
    const s = make(i);
    parts.push(s);
    length += s.length;
  }
  return parts.join("");
}

/**
 * Each shape makes a script of about `chars` characters; `code` is the diagnostic expected (none: valid);
 * `size` is the larger size it is compiled at (default a megabyte).
 */
const shapes: { name: string; make: (chars: number) => string; code?: string; size?: number }[] = [
  { name: "a numeric literal", make: (n) => `${STREAM}SELECT ${repeat("9", n)} FROM s;`, code: "SYN006" },
  { name: "a string literal", make: (n) => `${STREAM}SELECT '${repeat("x", n)}' FROM s;`, code: "SYN006" },
  { name: "an identifier", make: (n) => `${STREAM}SELECT ${repeat("x", n)} FROM s;`, code: "SYN006" },
  {
    name: "many CREATE STREAM and INSERT VALUES statements",
    size: MB / 4,
    make: (n) =>
      statements(n, (i) =>
        i % 2 === 0
          ? `CREATE STREAM t${i} (id INT KEY, v STRING) WITH (kafka_topic='t${i}', value_format='json');\n`
          : `INSERT INTO s (id, amount) VALUES (${i}, 2.5);\n`,
      ),
  },
  {
    name: "many CREATE STREAM AS SELECT statements",
    size: MB / 4,
    make: (n) =>
      statements(
        n,
        (i) => `CREATE STREAM x${i} AS SELECT id, amount * 2 AS twice FROM s WHERE id > ${i} EMIT CHANGES;\n`,
      ),
  },
  {
    name: "an arithmetic chain",
    make: (n) => `${STREAM}SELECT ${repeat("id + ", n)}id FROM s EMIT CHANGES;`,
    code: "SYN006",
  },
  {
    name: "IN lists",
    size: MB / 8,
    make: (n) => statements(n, () => `SELECT id FROM s WHERE id IN (${repeat("1, ", 6 * KB)}1) EMIT CHANGES;\n`),
  },
  {
    name: "nesting just within the limit",
    size: MB / 4,
    make: (n) =>
      statements(
        n,
        () => `SELECT ${"(".repeat(MAX_NESTING - 2)}id${")".repeat(MAX_NESTING - 2)} FROM s EMIT CHANGES;\n`,
      ),
  },
  {
    name: "many columns",
    size: MB / 4,
    make: (n) =>
      statements(
        n,
        (i) =>
          `CREATE STREAM w${i} (${Array.from({ length: 2000 }, (_, c) => `c${c} INT`).join(", ")}) WITH (kafka_topic='w${i}', value_format='json');\n`,
      ),
  },
  {
    name: "a comment",
    make: (n) => `${STREAM}-- ${repeat("x", n / 2)}\n/* ${repeat("y", n / 2)} */ SELECT id FROM s EMIT CHANGES;`,
  },
  { name: "unbalanced parentheses", make: (n) => `${STREAM}SELECT ${repeat("(", n)}1 FROM s;`, code: "SYN006" },
  {
    name: "misspelled column names (did-you-mean)",
    make: (n) =>
      `SELECT amountt${"x".repeat(60 * KB)} FROM s EMIT CHANGES;\n` +
      statements(n, () => `SELECT amountt${"x".repeat(MAX_IDENTIFIER_LENGTH - 10)} FROM s EMIT CHANGES;\n`),
    code: "ESQL-S002",
  },
];

/** CPU milliseconds of `f` (user and system, every thread of the process). */
function cpuMs(f: () => void): number {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

describe("compile time is linear in the input", () => {
  for (const shape of shapes) {
    it(shape.name, { timeout: 120_000 }, () => {
      // Warm the code paths of this shape so the first measurement does not pay for the JIT.
      compileScript(shape.make(8 * KB));
      const times: number[] = [];
      const full = shape.size ?? MB;
      for (const size of [full / 4, full]) {
        const text = shape.make(size);
        let codes: string[] = [];
        // The least of three runs: a shared machine and the garbage collector only ever add time.
        const runs = [0, 1, 2].map(() => cpuMs(() => (codes = compileScript(text).diagnostics.map((d) => d.code))));
        times.push(Math.min(...runs));
        if (shape.code === undefined) expect(codes).toEqual([]);
        else expect(codes).toContain(shape.code);
        expect(codes).not.toContain("ESQL-INTERNAL");
      }
      const [quarter, whole] = times as [number, number];
      console.log(
        `linear: ${shape.name}: ${quarter.toFixed(0)} ms for ${full / 4 / KB} KB, ${whole.toFixed(0)} ms for ${full / KB} KB (${(whole / quarter).toFixed(1)}x)`,
      );
      expect(whole).toBeLessThan((MAX_MS_PER_MB * full) / MB);
      // Timings of a few tens of milliseconds are mostly noise (the JIT, one collection more or less): their
      // ratio says nothing (Node 24 compiled a quarter megabyte of arithmetic in 28 ms, the megabyte in 284 ms).
      if (quarter > 50) expect(whole / quarter).toBeLessThan(shape.code === undefined ? MAX_RATIO_VALID : MAX_RATIO);
    });
  }
});

/**
 * A megabyte of valid statements of every kind (streams, tables, queries, inserts, selects) compiles within a
 * CPU budget relative to a baseline taken in the same run: the compile of a sixteenth of it. Linear is 16×;
 * the budget, {@link MEGABYTE_BUDGET}×, leaves room for the collector, whose work grows with the heap the
 * compiled statements keep (each statement's plans stay in the result).
 */
const MEGABYTE_BUDGET = 32;

describe("a megabyte of valid statements", () => {
  const mixed = (chars: number) =>
    statements(chars, (i) => {
      switch (i % 5) {
        case 0:
          return `CREATE STREAM m${i} (id INT KEY, v STRING, n DOUBLE) WITH (kafka_topic='m${i}', value_format='json');\n`;
        case 1:
          return `CREATE STREAM c${i} AS SELECT id, amount * 2 AS twice, UCASE(CAST(d AS STRING)) AS s FROM s WHERE id > ${i} AND amount < 100 EMIT CHANGES;\n`;
        case 2:
          return `CREATE TABLE t${i} AS SELECT id, COUNT(*) AS n, SUM(amount) AS total FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id EMIT CHANGES;\n`;
        case 3:
          return `INSERT INTO s (id, amount, d) VALUES (${i}, ${i}.5, 1.25);\n`;
        default:
          return `SELECT id, CASE WHEN amount > ${i} THEN 'big' ELSE 'small' END AS size FROM s WHERE id IN (1, 2, ${i}) EMIT CHANGES;\n`;
      }
    });

  it(`compiles within ${MEGABYTE_BUDGET}× the CPU time of a sixteenth of it`, { timeout: 300_000 }, () => {
    compileScript(mixed(16 * KB));
    /** The least CPU time of `runs` compiles of `text`, which must have no diagnostics. */
    const cpu = (text: string, runs: number) => {
      let codes: string[] = [];
      const times = Array.from({ length: runs }, () =>
        cpuMs(() => (codes = compileScript(text).diagnostics.map((d) => d.code))),
      );
      expect(codes).toEqual([]);
      return Math.min(...times);
    };
    // The baseline is short, so three runs; the megabyte (seconds) once: noise only ever adds to it.
    const baseline = cpu(mixed(MB / 16), 3);
    const whole = cpu(mixed(MB), 1);
    console.log(
      `a megabyte of valid statements: ${whole.toFixed(0)} ms CPU; a sixteenth: ${baseline.toFixed(0)} ms (${(whole / baseline).toFixed(1)}x)`,
    );
    expect(whole).toBeLessThan(MEGABYTE_BUDGET * baseline);
  });
});
