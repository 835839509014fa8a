/**
 * A function-level yardstick over ksqlDB's qtt cases: evaluates the simple ones with the registry alone,
 * without the engine. Covered shapes: `CREATE STREAM s (...) WITH (value_format JSON)` followed by either
 * `CREATE STREAM o AS SELECT f(col|literal|g(...)), ... FROM s` (one output per input) or
 * `CREATE TABLE o AS SELECT ..., AGG(...) FROM s GROUP BY col` (one changelog row per input).
 * Everything else is skipped. Arguments are converted with castFunction as the analyzer would.
 * Known harness limits (not function bugs) are listed in KNOWN.
 */
import { readFileSync, readdirSync } from "node:fs";
import { expect, it } from "vitest";
import { functions } from "../../src/functions/registry.ts";
import { castFunction, decimalToString, doubleToLong, parseDecimal, rescale } from "../../src/types/values.ts";
import type { SqlType } from "../../src/types/sqltype.ts";
import { formatType } from "../../src/types/sqltype.ts";
import { KSQL_CASES_AVAILABLE, QTT_DIR } from "../fixtures/ksql-cases.ts";

const Q = QTT_DIR + "/";
const failures: string[] = [];
type Tok = string;
function lex(s: string): Tok[] {
  return (
    s.match(/'(?:[^']|'')*'|`[^`]*`|\d+\.\d+|\d+|[A-Za-z_][A-Za-z0-9_]*|=>|->|<=|>=|<>|!=|[(),<>*+\-/%.=[\]]/g) ?? []
  );
}
function parseType(t: Tok[], i: { i: number }): SqlType {
  const w = t[i.i++]!.toUpperCase();
  const eat = (x: string) => {
    if (t[i.i] !== x) throw new Error("type " + x);
    i.i++;
  };
  switch (w) {
    case "INT":
    case "INTEGER":
      return { kind: "INTEGER" };
    case "BIGINT":
      return { kind: "BIGINT" };
    case "DOUBLE":
      return { kind: "DOUBLE" };
    case "STRING":
    case "VARCHAR":
      return { kind: "STRING" };
    case "BOOLEAN":
      return { kind: "BOOLEAN" };
    case "BYTES":
      return { kind: "BYTES" };
    case "DATE":
      return { kind: "DATE" };
    case "TIME":
      return { kind: "TIME" };
    case "TIMESTAMP":
      return { kind: "TIMESTAMP" };
    case "DECIMAL": {
      eat("(");
      const p = Number(t[i.i++]);
      eat(",");
      const s = Number(t[i.i++]);
      eat(")");
      return { kind: "DECIMAL", precision: p, scale: s };
    }
    case "ARRAY": {
      eat("<");
      const e = parseType(t, i);
      eat(">");
      return { kind: "ARRAY", element: e };
    }
    case "MAP": {
      eat("<");
      const k = parseType(t, i);
      eat(",");
      const v = parseType(t, i);
      eat(">");
      return { kind: "MAP", key: k, value: v };
    }
    case "STRUCT": {
      eat("<");
      const fields = [];
      while (t[i.i] !== ">") {
        let n = t[i.i++]!;
        n = n.startsWith("`") ? n.slice(1, -1) : n.toUpperCase();
        fields.push({ name: n, type: parseType(t, i) });
        if (t[i.i] === ",") i.i++;
      }
      eat(">");
      return { kind: "STRUCT", fields };
    }
    default:
      throw new Error("type " + w);
  }
}
type Expr =
  { k: "col"; name: string } | { k: "lit"; v: unknown; t: SqlType } | { k: "call"; name: string; args: Expr[] };
function parseExpr(t: Tok[], i: { i: number }): Expr {
  const x = t[i.i++]!;
  if (/^\d+$/.test(x))
    return {
      k: "lit",
      v: Number(x),
      t: { kind: Number(x) > 2147483647 ? "BIGINT" : "INTEGER" },
    };
  if (/^\d+\.\d+$/.test(x)) {
    const d = parseDecimal(x)!;
    return {
      k: "lit",
      v: d.unscaled,
      t: {
        kind: "DECIMAL",
        precision: Math.max(x.replace(".", "").replace(/^0+/, "").length, d.scale),
        scale: d.scale,
      },
    };
  }
  if (x === "-") {
    const e = parseExpr(t, i);
    if (e.k === "lit" && typeof e.v === "number") return { ...e, v: -e.v };
    if (e.k === "lit" && typeof e.v === "bigint") return { ...e, v: -e.v };
    throw new Error("neg");
  }
  if (x.startsWith("'"))
    return {
      k: "lit",
      v: x.slice(1, -1).replace(/''/g, "'"),
      t: { kind: "STRING" },
    };
  const u = x.toUpperCase();
  if (u === "NULL") return { k: "lit", v: null, t: { kind: "NULL" } };
  if (u === "TRUE" || u === "FALSE") return { k: "lit", v: u === "TRUE", t: { kind: "BOOLEAN" } };
  if (u === "CAST" || u === "CASE" || u === "STRUCT" || u === "ARRAY" || u === "MAP")
    throw new Error("unsupported " + u);
  if (t[i.i] === "(") {
    i.i++;
    const args: Expr[] = [];
    while (t[i.i] !== ")") {
      args.push(parseExpr(t, i));
      if (t[i.i] === ",") i.i++;
      else if (t[i.i] !== ")") throw new Error("arg " + t[i.i]);
    }
    i.i++;
    return { k: "call", name: u, args };
  }
  if (t[i.i] === "." || t[i.i] === "=>" || t[i.i] === "->" || t[i.i] === "[") throw new Error("unsupported");
  return { k: "col", name: x.startsWith("`") ? x.slice(1, -1) : u };
}
function toRuntime(t: SqlType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case "DECIMAL": {
      const d = parseDecimal(String(v as string | number))!; // JSON: a number or a string
      return rescale(d.unscaled, d.scale, t.scale);
    }
    case "BYTES":
      return Buffer.from(v as string, "base64");
    case "BIGINT":
      // As the JSON serde reads it: beyond 2^53 a bigint (the files' ±2^63 are Long.MAX/MIN_VALUE as doubles).
      return typeof v === "number" ? doubleToLong(v) : v;
    case "ARRAY":
      return (v as unknown[]).map((x) => toRuntime(t.element, x));
    case "MAP":
      return new Map(Object.entries(v as object).map(([k, x]) => [k, toRuntime(t.value, x)]));
    case "STRUCT": {
      const o: Record<string, unknown> = {};
      const src = v as Record<string, unknown>;
      for (const f of t.fields) {
        const key = Object.keys(src).find((k) => k.toUpperCase() === f.name.toUpperCase());
        o[f.name] = toRuntime(f.type, key ? src[key] : null);
      }
      return o;
    }
    default:
      return v;
  }
}
function toJson(t: SqlType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case "DECIMAL":
      return Number(decimalToString(v as bigint, t.scale));
    case "BYTES":
      return Buffer.from(v as Uint8Array).toString("base64");
    case "ARRAY":
      return (v as unknown[]).map((x) => toJson(t.element, x));
    case "MAP":
      return Object.fromEntries([...(v as Map<string, unknown>)].map(([k, x]) => [String(k), toJson(t.value, x)]));
    case "STRUCT":
      return Object.fromEntries(t.fields.map((f) => [f.name, toJson(f.type, (v as any)[f.name])]));
    case "DOUBLE":
      return Number.isFinite(v as number) ? v : String(v as number); // NaN, Infinity
    default:
      return v;
  }
}
function typeOf(e: Expr, cols: Map<string, SqlType>): { t: SqlType; ev: (row: Record<string, unknown>) => unknown } {
  if (e.k === "lit") return { t: e.t, ev: () => e.v };
  if (e.k === "col") {
    const t = cols.get(e.name);
    if (!t) throw new Error("col " + e.name);
    return { t, ev: (r) => r[e.name] ?? null };
  }
  const f = functions.get(e.name);
  if (!f) throw new Error("nofn " + e.name);
  if (f.kind !== "scalar") throw new Error("notscalar");
  const args = e.args.map((a) => typeOf(a, cols));
  const r = f.resolve(
    args.map((a, i) => ({
      kind: "value" as const,
      type: a.t,
      ...(e.args[i]!.k === "lit" ? { literal: { value: (e.args[i] as any).v } } : {}),
    })),
  );
  if (!r.ok)
    return {
      t: { kind: "NULL" },
      ev: () => {
        throw new Error("RESOLVE: " + r.message);
      },
    };
  const casts = args.map((a, i) => castFunction(a.t, r.value.argTypes[i]!) ?? ((x: unknown) => x));
  return {
    t: r.value.returnType,
    ev: (row) => {
      try {
        return r.value.impl(...args.map((a, i) => casts[i]!(a.ev(row))));
      } catch (err) {
        if (String(err).includes("RESOLVE")) throw err;
        return null;
      }
    },
  };
}
function checkAgg(file: string, test: any, cols: Map<string, SqlType>, keyCol: string, sel: string, groupCol: string) {
  const toks = lex(sel);
  const p = { i: 0 };
  const items: { alias: string; e: Expr }[] = [];
  let n = 0;
  while (p.i < toks.length) {
    const e = parseExpr(toks, p);
    let alias: string;
    if (toks[p.i]?.toUpperCase() === "AS") p.i++;
    if (toks[p.i] && toks[p.i] !== ",") {
      alias = toks[p.i++]!;
      alias = alias.startsWith("`") ? alias.slice(1, -1) : alias.toUpperCase();
    } else alias = e.k === "col" ? e.name : `KSQL_COL_${n++}`;
    if (toks[p.i] === ",") p.i++;
    items.push({ alias, e });
  }
  const aggs = items
    .filter((x) => x.e.k === "call")
    .map((x) => {
      const e = x.e as Extract<Expr, { k: "call" }>;
      const f = functions.get(e.name);
      if (!f || f.kind !== "aggregate") throw new Error("notagg " + e.name);
      const args = e.args.map((a) => typeOf(a, cols));
      const r = f.resolve(
        args.map((a, i) => ({
          kind: "value" as const,
          type: a.t,
          ...(e.args[i]!.k === "lit" ? { literal: { value: (e.args[i] as any).v } } : {}),
        })),
      );
      if (!r.ok) throw new Error("RESOLVE " + r.message);
      const casts = args.map((a, i) => castFunction(a.t, r.value.argTypes[i]!) ?? ((x: unknown) => x));
      return {
        alias: x.alias,
        r: r.value,
        args,
        casts,
        states: new Map<unknown, unknown>(),
      };
    });
  if (!aggs.length) throw new Error("noagg");
  checkTypes(
    file,
    test,
    test.statements[1],
    aggs.map((a) => ({ alias: a.alias, t: a.r.returnType })),
  );
  test.inputs.forEach((inp: any, k: number) => {
    const row: Record<string, unknown> = {};
    const val = inp.value ?? {};
    for (const [c, t] of cols) {
      const key = Object.keys(val).find((x) => x.toUpperCase() === c.toUpperCase());
      row[c] = toRuntime(t, key ? val[key] : null);
    }
    if (keyCol) row[keyCol] = toRuntime(cols.get(keyCol)!, inp.key ?? null);
    const g = JSON.stringify(row[groupCol] ?? null);
    const exp = test.outputs[k]?.value;
    for (const a of aggs) {
      const acc = a.r.accumulator;
      let st = a.states.has(g) ? a.states.get(g) : acc.init();
      st = acc.add(
        st,
        a.args.slice(0, a.r.rowArgCount).map((x, i) => a.casts[i]!(x.ev(row))),
      );
      a.states.set(g, st);
      if (!exp || !(a.alias in exp)) continue;
      const got = toJson(a.r.returnType, acc.result(st));
      const want = exp[a.alias];
      const ok =
        JSON.stringify(got) === JSON.stringify(want) ||
        (typeof got === "number" &&
          typeof want === "number" &&
          Math.abs(got - want) < 1e-9 * Math.max(1, Math.abs(want)));
      if (ok) pass++;
      else {
        fail++;
        failures.push(
          `${file} | ${test.name} | ${a.alias} (${formatType(a.r.returnType)}) in#${k}: got ${JSON.stringify(got)?.slice(0, 200)} want ${JSON.stringify(want)?.slice(0, 200)}`,
        );
      }
    }
  });
}
/** Compares result types with the output source's schema in `post`, when the case has one. */
function checkTypes(file: string, test: any, stmt: string, cols: { alias: string; t: SqlType }[]): void {
  const name = /^CREATE (?:STREAM|TABLE) (\S+)/i.exec(stmt.trim())?.[1]?.toUpperCase();
  const src = (test.post?.sources ?? []).find((x: any) => String(x.name).toUpperCase() === name);
  if (!src?.schema) return;
  const norm = (x: string) =>
    x
      .replace(/\s+/g, "")
      .replace(/VARCHAR/g, "STRING")
      .replace(/\bINT\b/g, "INTEGER")
      .toUpperCase();
  const parts: string[] = [];
  let depth = 0,
    cur = "";
  for (const ch of String(src.schema)) {
    if (ch === "<" || ch === "(") depth++;
    if (ch === ">" || ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const c of cols) {
    const col = parts
      .map((x) => x.trim())
      .find((x) =>
        x
          .replace(/`/g, "")
          .toUpperCase()
          .startsWith(c.alias.toUpperCase() + " "),
      );
    if (!col) continue;
    const want = norm(
      col
        .replace(/`/g, "")
        .slice(c.alias.length)
        .replace(/\s+KEY$/i, ""),
    );
    const got = norm(formatType(c.t).replace(/`/g, ""));
    if (want === got) pass++;
    else {
      fail++;
      failures.push(`${file} | ${test.name} | ${c.alias} type: got ${got} want ${want}`);
    }
  }
}

let pass = 0,
  fail = 0,
  skip = 0;
function run(): void {
  for (const file of readdirSync(Q).filter((f) => f.endsWith(".json"))) {
    const j = JSON.parse(readFileSync(Q + file, "utf8"));
    for (const test of j.tests) {
      const st: string[] = test.statements;
      if (st.length !== 2 || test.expectedException || !test.outputs) {
        skip++;
        continue;
      }
      try {
        const fmt = JSON.stringify(test.format ?? ["JSON"]);
        if (!/JSON/i.test(st[0]!.replace("{FORMAT}", fmt))) throw new Error("fmt");
        const m = /CREATE STREAM \S+ \((.*)\) WITH/is.exec(st[0]!);
        if (!m) throw new Error("create");
        const t = lex(m[1]!);
        const ii = { i: 0 };
        const cols = new Map<string, SqlType>();
        let keyCol = "";
        while (ii.i < t.length) {
          let n = t[ii.i++]!;
          n = n.startsWith("`") ? n.slice(1, -1) : n.toUpperCase();
          cols.set(n, parseType(t, ii));
          if (t[ii.i]?.toUpperCase() === "KEY") {
            ii.i++;
            keyCol = n;
          }
          if (t[ii.i] === ",") ii.i++;
        }
        const agg = /^CREATE TABLE \S+ AS SELECT (.*) FROM \S+ GROUP BY (\w+);?$/is.exec(st[1]!.trim());
        if (agg) {
          checkAgg(file, test, cols, keyCol, agg[1]!, agg[2]!.toUpperCase());
          continue;
        }
        const sm = /^CREATE STREAM \S+ AS SELECT (.*) FROM \S+;?$/is.exec(st[1]!.trim());
        if (!sm) throw new Error("select");
        const toks = lex(sm[1]!);
        const p = { i: 0 };
        const items: { alias: string; e: Expr }[] = [];
        let n = 0;
        while (p.i < toks.length) {
          const e = parseExpr(toks, p);
          let alias: string;
          if (toks[p.i]?.toUpperCase() === "AS") p.i++;
          if (toks[p.i] && toks[p.i] !== ",") {
            alias = toks[p.i++]!;
            alias = alias.startsWith("`") ? alias.slice(1, -1) : alias.toUpperCase();
          } else alias = e.k === "col" ? e.name : `KSQL_COL_${n++}`;
          if (toks[p.i] === ",") p.i++;
          items.push({ alias, e });
        }
        const compiled = items.filter((x) => x.e.k === "call").map((x) => ({ alias: x.alias, ...typeOf(x.e, cols) }));
        if (!compiled.length) throw new Error("nocall");
        checkTypes(
          file,
          test,
          st[1]!,
          compiled.map((c) => ({ alias: c.alias, t: c.t })),
        );
        test.inputs.forEach((inp: any, k: number) => {
          const row: Record<string, unknown> = {};
          const val = inp.value ?? {};
          for (const [c, t] of cols) {
            const key = Object.keys(val).find((x) => x.toUpperCase() === c.toUpperCase());
            row[c] = toRuntime(t, key ? val[key] : null);
          }
          if (keyCol) row[keyCol] = toRuntime(cols.get(keyCol)!, inp.key ?? null);
          const raw = test.outputs[k]?.value;
          if (!raw) return;
          const exp = Object.fromEntries(Object.entries(raw).map(([a, b]) => [a.toUpperCase(), b]));
          for (const c of compiled) {
            if (!(c.alias in exp)) continue;
            let got: unknown;
            try {
              got = toJson(c.t, c.ev(row));
            } catch (err) {
              got = String(err);
            }
            const want = exp[c.alias];
            const ok =
              JSON.stringify(got) === JSON.stringify(want) ||
              (typeof got === "number" &&
                typeof want === "number" &&
                Math.abs(got - want) < 1e-9 * Math.max(1, Math.abs(want)));
            if (ok) pass++;
            else {
              fail++;
              failures.push(
                `${file} | ${test.name} | ${c.alias} (${formatType(c.t)}): got ${JSON.stringify(got)?.slice(0, 200)} want ${JSON.stringify(want)?.slice(0, 200)}`,
              );
            }
          }
        });
      } catch {
        skip++;
      }
    }
  }
}

/** Failures that come from what this harness does not model: record keys of KAFKA format, ROWOFFSET,
 * DECIMALs serialized as JSON strings, and the collect_list/collect_set limit set through properties. */
const KNOWN = [/^key-schemas\.json/, /GROUP BY ROWOFFSET/, /by offset with decimals/, /with limit of 1/];

it.skipIf(!KSQL_CASES_AVAILABLE)("evaluates simple qtt projections and aggregations with the registry", () => {
  run();
  const unexpected = failures.filter((f) => !KNOWN.some((k) => k.test(f)));
  console.log(
    `qtt function cases: ${pass} values pass, ${fail} fail (${fail - unexpected.length} known harness limits), ${skip} cases skipped`,
  );
  for (const f of unexpected) console.log(`FAIL ${f}`);
  expect(unexpected).toEqual([]);
});
