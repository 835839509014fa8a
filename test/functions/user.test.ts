import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { FunctionLoadError, loadFunctions } from "../../runtime/engine/functions.ts";
import { functions as builtins } from "../../src/functions/registry.ts";
import { userFunctionsOf } from "../../src/functions/user.ts";
import { compileScript } from "../../src/compile.ts";
import { openEngine } from "../fixtures/engine.ts";
import { tempDir } from "../fixtures/temp.ts";

const FOLDER = join(import.meta.dirname, "user-functions");
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const rec = (key: string, value: unknown, timestamp = 0) => ({ key: Buffer.from(key), value: json(value), timestamp });
const byKey = (rows: unknown[][]) => [...rows].sort((a, b) => String(a[0]).localeCompare(String(b[0])));

describe("user function modules", () => {
  it("validate with errors that name the file, the function and what is wrong", () => {
    const bad = {
      A: { kind: "scalar", name: "bad name", params: [], returns: "STRING", fn: () => "" },
      B: { kind: "scalar", name: "B", params: ["STRNG s"], returns: "STRING", fn: () => "" },
      C: { kind: "aggregate", name: "C", params: ["STRING s"], state: "ARRAY<STRING>", returns: "INTEGER" },
      D: { kind: "scalar", name: "D", params: ["STRING s"], returns: "ARRAY<T>", fn: () => [] },
      E: { kind: "table", name: "concat", params: ["STRING s"], returns: "STRING", fn: () => [] },
      F: { kind: "scalar", name: "F", params: ["DECIMAL d"], returns: "STRING", fn: () => "" },
      G: { kind: "scalar", name: "G", params: [], returns: "STRING", fn: "nope" },
    };
    const r = userFunctionsOf(bad, "fns/bad.ts", { taken: (n) => builtins.get(n) !== undefined });
    expect(r.defs).toEqual([]);
    const text = r.errors.join("\n");
    expect(text).toContain("fns/bad.ts: function BAD NAME: name: must be a SQL identifier");
    expect(text).toContain("fns/bad.ts: function B: parameter 1 'STRNG s': unknown type STRNG");
    expect(text).toMatch(/fns\/bad.ts: function C: initialize: must be a function/);
    expect(text).toContain("fns/bad.ts: function D: returns 'ARRAY<T>': type variable T is not bound by a parameter");
    expect(text).toContain("fns/bad.ts: function CONCAT: the name CONCAT is already taken");
    expect(text).toContain("fns/bad.ts: function F: parameter 1 'DECIMAL d': DECIMAL is not supported");
    expect(text).toContain("fns/bad.ts: function G: fn: must be a function");
    expect(userFunctionsOf({ x: 1 }, "empty.ts").errors).toEqual([
      'empty.ts: exports no function definition (an object with kind "scalar", "aggregate" or "table")',
    ]);
  });

  it("load from a folder: each function with its signatures and its module's content hash", async () => {
    const registry = await loadFunctions([FOLDER]);
    const mask = registry.get("mask_tail")!;
    expect(mask.signatures).toEqual(["MASK_TAIL(STRING s, INTEGER n) -> STRING"]);
    expect(mask.category).toBe("USER");
    expect(mask.origin?.file).toMatch(/basics\.ts$/);
    expect(mask.origin?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(registry.get("FIRST_SET")!.signatures).toEqual(["FIRST_SET(T values...) -> T"]);
    expect(registry.get("BAG")!.kind).toBe("aggregate");
    expect(registry.get("UCASE")!.origin).toBeUndefined();
    await expect(loadFunctions([join(FOLDER, "missing")])).rejects.toThrow(FunctionLoadError);
  });

  it("compile-time errors name the function and the arguments", async () => {
    const functions = await loadFunctions([FOLDER]);
    const r = compileScript(
      `CREATE STREAM s (id STRING KEY, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
       CREATE STREAM t AS SELECT id, MASK_TAIL(n, 'x') AS m FROM s;`,
      { functions },
    );
    expect(r.diagnostics.map((d) => d.message).join("\n")).toContain(
      "Function 'MASK_TAIL' does not accept parameters (INTEGER, STRING)",
    );
    const lifecycle = compileScript(
      `CREATE STREAM s (id STRING KEY, item STRING, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
       CREATE TABLE tb (id STRING PRIMARY KEY, item STRING, n INT) WITH (kafka_topic = 'tb', value_format = 'JSON', partitions = 1);
       CREATE TABLE a AS SELECT item, SPAN(id, n) AS s FROM tb GROUP BY item;
       CREATE TABLE b AS SELECT id, SPAN(item, n) AS s FROM s WINDOW SESSION (5 MINUTES) GROUP BY id;
       CREATE TABLE c AS SELECT item, BAG(id) AS s FROM tb GROUP BY item;`,
      { functions },
    );
    expect(lifecycle.diagnostics.map((d) => d.message)).toEqual([
      "The user aggregate SPAN has no undo: it cannot aggregate a table (updated and deleted rows must be undone).",
      "The user aggregate SPAN has no merge: it cannot aggregate session windows (sessions that merge combine their states).",
    ]);
  });
});

describe("user functions in queries", () => {
  it("scalar, generic, variadic and overloaded functions in a projection and a filter", async () => {
    const e = await openEngine({ functions: FOLDER });
    const r = await e.execute(`
      CREATE STREAM s (id STRING KEY, card STRING, a INT, b BIGINT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
      CREATE TABLE t AS SELECT id, LATEST_BY_OFFSET(MASK_TAIL(card, 4)) AS m, LATEST_BY_OFFSET(FIRST_SET(a, b, 7)) AS f,
        LATEST_BY_OFFSET(PAIR(id)) AS p, LATEST_BY_OFFSET(PAIR(id, a)) AS q
        FROM s WHERE MASK_TAIL(card, 1) <> '****' GROUP BY id;`);
    expect(r.diagnostics).toEqual([]);
    await e.log.append("s", [
      rec("x", { CARD: "1234567890", A: null, B: 5 }),
      rec("y", { CARD: "12345", A: 3, B: null }),
      rec("z", { CARD: "abcde", A: null, B: null }),
    ]);
    await e.drain();
    const t = await e.table("T");
    expect(e.processingErrors).toEqual([]);
    expect(t.types.map((x) => x.kind)).toEqual(["STRING", "STRING", "BIGINT", "MAP", "STRUCT"]);
    expect(byKey(t.rows)).toEqual([
      // PAIR is strict (the default): a NULL argument gives NULL without a call.
      ["x", "******7890", 5, new Map([["x", 1]]), null],
      ["y", "*2345", 3, new Map([["y", 1]]), { KEY: "y", VALUE: 3 }],
      ["z", "*bcde", 7, new Map([["z", 1]]), null],
    ]);
  });

  it("a table function gives zero or more rows per input row", async () => {
    const e = await openEngine({ functions: FOLDER });
    expect(
      (
        await e.execute(`
      CREATE STREAM s (id STRING KEY, text STRING) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
      CREATE STREAM w AS SELECT id, WORDS(text) AS word FROM s;
      CREATE TABLE counts AS SELECT word, COUNT(*) AS n FROM w GROUP BY word;`)
      ).diagnostics,
    ).toEqual([]);
    await e.log.append("s", [rec("a", { TEXT: "to be or not to be" }), rec("b", { TEXT: "  " })]);
    await e.drain();
    expect(byKey((await e.table("COUNTS")).rows)).toEqual([
      ["be", 2],
      ["not", 1],
      ["or", 1],
      ["to", 2],
    ]);
  });

  it("an aggregate over a table undoes the old row of an update or a delete", async () => {
    const e = await openEngine({ functions: FOLDER });
    expect(
      (
        await e.execute(`
      CREATE TABLE owners (pet STRING PRIMARY KEY, owner STRING, kind STRING) WITH (kafka_topic = 'owners', value_format = 'JSON', partitions = 1);
      CREATE TABLE pets AS SELECT owner, BAG(kind) AS kinds FROM owners GROUP BY owner;`)
      ).diagnostics,
    ).toEqual([]);
    await e.log.append("owners", [
      rec("rex", { OWNER: "ann", KIND: "dog" }),
      rec("tom", { OWNER: "ann", KIND: "cat" }),
      rec("fifi", { OWNER: "ann", KIND: "dog" }),
      rec("tom", { OWNER: "bob", KIND: "cat" }), // moves: undone for ann
      { key: Buffer.from("rex"), value: null, timestamp: 0 }, // deleted: undone
    ]);
    await e.drain();
    expect(byKey((await e.table("PETS")).rows)).toEqual([
      ["ann", new Map([["dog", 1]])],
      ["bob", new Map([["cat", 1]])],
    ]);
  });

  it("session windows that merge merge the aggregate's states", async () => {
    const e = await openEngine({ functions: FOLDER });
    expect(
      (
        await e.execute(`
      CREATE STREAM clicks (user STRING KEY, page STRING) WITH (kafka_topic = 'clicks', value_format = 'JSON', partitions = 1);
      CREATE TABLE visits AS SELECT user, BAG(page) AS pages FROM clicks WINDOW SESSION (10 SECONDS) GROUP BY user;`)
      ).diagnostics,
    ).toEqual([]);
    await e.log.append("clicks", [
      rec("u", { PAGE: "home" }, 1_000),
      rec("u", { PAGE: "cart" }, 15_000),
      rec("u", { PAGE: "home" }, 8_000), // within 10 s of both sessions: they merge
      rec("u", { PAGE: "late" }, 100_000),
    ]);
    await e.drain();
    const rows = (await e.table("VISITS")).rows.sort((a, b) => (a[1] as number) - (b[1] as number));
    expect(rows).toEqual([
      [
        "u",
        1_000,
        15_000,
        new Map([
          ["home", 2],
          ["cart", 1],
        ]),
      ],
      ["u", 100_000, 100_000, new Map([["late", 1]])],
    ]);
  });

  it("an aggregate's state (STRUCT with an ARRAY) is restored from the changelog after the local state is lost", async () => {
    const dataDir = tempDir();
    const sql = `
      CREATE STREAM s (id STRING KEY, item STRING, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
      CREATE TABLE spans AS SELECT id, SPAN(item, n) AS span, BAG(item) AS bag FROM s GROUP BY id;`;
    let e = await Engine.open({ dataDir, changelogs: true, functions: FOLDER });
    try {
      expect((await e.execute(sql)).diagnostics).toEqual([]);
      await e.log.append("s", [rec("a", { ITEM: "x", N: 5 }), rec("a", { ITEM: "y", N: 2 })]);
      await e.drain();
    } finally {
      await e.close();
    }
    rmSync(join(dataDir, "state"), { recursive: true, force: true });
    let restored = 0;
    e = await Engine.open({
      dataDir,
      changelogs: true,
      functions: FOLDER,
      onRestore: (p) => {
        if (p.done) restored += p.read;
      },
    });
    try {
      expect(restored).toBeGreaterThan(0);
      // The inputs already folded are not read again: the state came back with their offsets.
      const qid = e.catalog.source("SPANS")!.writtenBy!;
      expect(e.processingSummary(qid)).toMatch(/^2 records in/);
      await e.log.append("s", [rec("a", { ITEM: "x", N: 9 })]);
      await e.drain();
      expect((await e.table("SPANS")).rows).toEqual([
        [
          "a",
          "2..9 x,y,x",
          new Map([
            ["x", 2],
            ["y", 1],
          ]),
        ],
      ]);
    } finally {
      await e.close();
    }
  });

  it("a function that throws or returns the wrong type: the processing log names the record, the function and its arguments; the query goes on", async () => {
    const e = await openEngine({ functions: FOLDER });
    expect(
      (
        await e.execute(`
      CREATE STREAM s (id STRING KEY, x DOUBLE, i INT, item STRING) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
      CREATE STREAM r AS SELECT id, CHECKED_SQRT(x) AS root, LIAR(i) AS l FROM s;
      CREATE TABLE spans AS SELECT id, SPAN(item, i) AS span FROM s GROUP BY id;`)
      ).diagnostics,
    ).toEqual([]);
    await e.log.append("s", [
      rec("a", { X: 4, I: 1, ITEM: "p" }),
      rec("b", { X: -1, I: 13, ITEM: "boom" }),
      rec("c", { X: 9, I: 2, ITEM: "q" }),
    ]);
    await e.drain();
    const out = await e.pull("SELECT ID, ROOT, L FROM r;");
    expect(byKey(out.rows as unknown[][])).toEqual([
      ["a", 2, 1],
      ["b", null, null],
      ["c", 3, 2],
    ]);
    const errors = e.processingErrors.map((p) => [p.topic, p.partition, p.offset, p.where, p.message]);
    expect(errors).toContainEqual(["s", 0, 1, "CHECKED_SQRT", "CHECKED_SQRT(-1) failed: negative input -1"]);
    expect(errors).toContainEqual([
      "s",
      0,
      1,
      "LIAR",
      'LIAR(13) returned "thirteen", not a INTEGER: expected a 32-bit integer',
    ]);
    expect(errors).toContainEqual(["s", 0, 1, "SPAN", 'SPAN: add ("boom", 13) failed: boom is not an item']);
    // The aggregate skipped the failing row and folded the others.
    expect(byKey((await e.table("SPANS")).rows)).toEqual([
      ["a", "1..1 p"],
      ["b", "null..null "],
      ["c", "2..2 q"],
    ]);
  });

  it("a test run catches a function that is not deterministic", async () => {
    const e = await openEngine({ functions: await loadFunctions([FOLDER], { checkDeterminism: true }) });
    expect(
      (
        await e.execute(`
      CREATE STREAM s (id STRING KEY, i INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
      CREATE STREAM r AS SELECT id, TICK(i) AS t, MASK_TAIL(id, 1) AS m FROM s;`)
      ).diagnostics,
    ).toEqual([]);
    await e.log.append("s", [rec("a", { I: 1 })]);
    await e.drain();
    expect(e.processingErrors.map((p) => p.message)).toEqual([
      expect.stringMatching(/^TICK\(1\) is not deterministic: it returned \d+, then \d+ for the same arguments$/),
    ]);
  });

  it("a deployed query records its user functions' hashes; a restart with changed code says so, without them it stops", async () => {
    const dataDir = tempDir();
    const fns = join(dataDir, "fns");
    mkdirSync(fns);
    const module = (factor: number) =>
      `export const SCALE = { kind: "scalar", name: "SCALE", params: ["INTEGER x"], returns: "INTEGER", fn: (x: number) => x * ${factor} };\n`;
    writeFileSync(join(fns, "scale.ts"), module(2));
    let e = await Engine.open({ dataDir, functions: fns });
    try {
      const r = await e.execute(`
        CREATE STREAM s (id STRING KEY, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
        CREATE STREAM t AS SELECT id, SCALE(n) AS m FROM s;`);
      expect(r.diagnostics).toEqual([]);
      const recorded = (await e.log.read("_esql_commands", 0, 0, 100)).flatMap((c) => c.headers);
      const header = recorded.find((h) => h.key === "esql-functions")!;
      expect(JSON.parse(header.value!.toString())).toEqual([
        { name: "SCALE", hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      ]);
    } finally {
      await e.close();
    }
    e = await Engine.open({ dataDir, functions: fns });
    await e.close();
    expect(e.warnings).toEqual([]);
    writeFileSync(join(fns, "scale.ts"), module(3));
    e = await Engine.open({ dataDir, functions: fns });
    await e.close();
    expect(e.warnings).toEqual([
      expect.stringMatching(
        /SELECT ID, SCALE\(N\).*user function SCALE changed: deployed with sha256 [0-9a-f]{12}, now [0-9a-f]{12}/i,
      ),
    ]);
    await expect(Engine.open({ dataDir })).rejects.toThrow(/user function SCALE \(sha256 [0-9a-f]{12}\) is not loaded/);
  });
});
