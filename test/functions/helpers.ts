import type { SqlType } from "../../src/types/sqltype.ts";
import { functions } from "../../src/functions/registry.ts";
import type { ArgInfo, ResolvedScalar, ResolvedAggregate } from "../../src/functions/types.ts";

export const v = (type: SqlType, literal?: unknown): ArgInfo =>
  literal === undefined ? { kind: "value", type } : { kind: "value", type, literal: { value: literal } };

export function resolveScalar(name: string, args: ArgInfo[]): ResolvedScalar {
  const f = functions.get(name);
  if (!f || f.kind !== "scalar") throw new Error(`no scalar ${name}`);
  const r = f.resolve(args);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

export function call(name: string, args: ArgInfo[], values: unknown[]): unknown {
  return resolveScalar(name, args).impl(...values);
}

export function resolveAggregate(name: string, args: ArgInfo[]): ResolvedAggregate {
  const f = functions.get(name);
  if (!f || f.kind !== "aggregate") throw new Error(`no aggregate ${name}`);
  const r = f.resolve(args);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

export function fold(name: string, args: ArgInfo[], rows: unknown[][]): unknown {
  const a = resolveAggregate(name, args).accumulator;
  let s = a.init();
  for (const row of rows) s = a.add(s, row);
  return a.result(s);
}
