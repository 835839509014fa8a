/**
 * Stateless operators: filter, projection and table functions (EXPLODE). Each compiles its expressions
 * once in `init` against the input edge's column names.
 */
import type { FilterSpec, ProjectSpec, TableFunctionSpec } from "../../src/plan/topology.ts";
import { compileExprs, type CompiledExpr } from "../expr/compile.ts";
import type { Processor, ProcessorContext, Row } from "./types.ts";

function errorSink(ctx: ProcessorContext) {
  return (e: unknown, where: string) => ctx.reportError(e, where);
}

export class FilterProcessor implements Processor {
  private test!: CompiledExpr;
  private ctx!: ProcessorContext;
  constructor(private readonly spec: FilterSpec) {}

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    this.test = compileExprs([this.spec.predicate], {
      columns: this.spec.columns,
      functions: ctx.functions,
      onError: errorSink(ctx),
    })[0]!;
  }

  process(rows: Row[]): Row[] {
    const out: Row[] = [];
    const table = this.spec.table;
    const side = this.spec.side;
    for (const r of rows) {
      this.ctx.currentRow = r;
      if (side !== undefined && r.side !== side) {
        out.push(r);
        continue;
      }
      if (table === undefined) {
        if (!r.tombstone && this.test(r.values) === true) out.push(r);
        continue;
      }
      const matchesNow = !r.tombstone && this.test(r.values) === true;
      const matchedBefore = r.old !== undefined && r.old !== null && this.test(r.old) === true;
      if (matchesNow) {
        out.push({ ...r, old: matchedBefore ? r.old : null });
      } else if (matchedBefore || r.old === undefined) {
        // The key leaves the filtered table (or we cannot tell whether it was in it: say so downstream).
        out.push({ ...r, tombstone: true, old: matchedBefore ? r.old : r.old === undefined ? undefined : null });
      }
    }
    return out;
  }
}

export class ProjectProcessor implements Processor {
  private fns!: CompiledExpr[];
  private ctx!: ProcessorContext;
  constructor(private readonly spec: ProjectSpec) {}

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    this.fns = compileExprs(this.spec.exprs, {
      columns: this.spec.columns,
      functions: ctx.functions,
      onError: errorSink(ctx),
    });
  }

  private project(values: readonly unknown[]): unknown[] {
    const fns = this.fns;
    const out = new Array<unknown>(fns.length);
    for (let i = 0; i < fns.length; i++) out[i] = fns[i]!(values);
    return out;
  }

  process(rows: Row[]): Row[] {
    for (const r of rows) {
      this.ctx.currentRow = r;
      const old = r.old;
      r.values = this.project(r.values);
      if (old !== undefined && old !== null) r.old = this.project(old);
    }
    return rows;
  }
}

export class TableFunctionProcessor implements Processor {
  private args!: CompiledExpr[][];
  private impls!: ((...a: unknown[]) => readonly unknown[])[];
  private ctx!: ProcessorContext;
  constructor(private readonly spec: TableFunctionSpec) {}

  /** Set when evaluating the current row's arguments failed: ksqlDB then drops the row. */
  private failed: { readonly error: unknown; readonly where: string } | undefined;

  init(ctx: ProcessorContext): void {
    this.ctx = ctx;
    const onError = (error: unknown, where: string) => {
      this.failed ??= { error, where };
    };
    this.args = this.spec.calls.map((c) =>
      compileExprs(c.args, { columns: this.spec.columns, functions: ctx.functions, onError }),
    );
    this.impls = this.spec.calls.map((c) => {
      const def = ctx.functions.get(c.name);
      if (!def || def.kind !== "table") throw new Error(`internal: ${c.name} is not a table function`);
      const r = def.resolve(c.argTypes.map((type) => ({ kind: "value", type })));
      if (!r.ok) throw new Error(`internal: ${c.name}: ${r.message}`);
      return r.value.impl;
    });
  }

  process(rows: Row[]): Row[] {
    const out: Row[] = [];
    for (const r of rows) {
      this.ctx.currentRow = r;
      if (r.tombstone) continue;
      // Several table functions in one SELECT are zipped: as many rows as the longest result, NULL-padded.
      const results: (readonly unknown[])[] = [];
      let n = 0;
      this.failed = undefined;
      for (let i = 0; i < this.impls.length; i++) {
        let res: readonly unknown[] = [];
        try {
          const args = this.args[i]!.map((f) => f(r.values));
          if (!this.failed) res = this.impls[i]!(...args) ?? [];
        } catch (e) {
          this.failed ??= { error: e, where: this.spec.calls[i]!.name };
        }
        results.push(res);
        n = Math.max(n, res.length);
      }
      if (this.failed) {
        // The record goes to the processing log, not downstream.
        this.ctx.drop("table function", "error", this.failed.error, { operation: this.failed.where });
        continue;
      }
      for (let j = 0; j < n; j++) {
        out.push({ ...r, values: [...r.values, ...results.map((res) => (j < res.length ? (res[j] ?? null) : null))] });
      }
    }
    return out;
  }
}
