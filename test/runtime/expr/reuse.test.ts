/**
 * Generated expressions are reused by source text (`runtime/expr/compile.ts`): expressions that differ only in
 * their literals share one compiled function, each with its own constants.
 */
import { describe, expect, it } from "vitest";
import { functions } from "../../../src/functions/registry.ts";
import type { TExpr } from "../../../src/plan/expr.ts";
import { compileExpr } from "../../../runtime/expr/compile.ts";

const STRING = { kind: "STRING" } as const;
const BOOLEAN = { kind: "BOOLEAN" } as const;
const INTEGER = { kind: "INTEGER" } as const;

const idIs = (value: string): TExpr => ({
  kind: "Compare",
  type: BOOLEAN,
  op: "=",
  left: { kind: "Column", type: STRING, name: "ID" },
  right: { kind: "Literal", type: STRING, value },
});

describe("compiled expressions", () => {
  it("that differ only in literals each keep their own values", () => {
    const options = { columns: ["ID", "N"], functions };
    const isA = compileExpr(idIs("a"), options);
    const isB = compileExpr(idIs("b"), options);
    expect(isA.toString()).toBe(isB.toString());
    expect([isA(["a", 1]), isA(["b", 1]), isB(["a", 1]), isB(["b", 1])]).toEqual([true, false, false, true]);
    const plus = (k: number): TExpr => ({
      kind: "Arithmetic",
      type: INTEGER,
      op: "+",
      left: { kind: "Column", type: INTEGER, name: "N" },
      right: { kind: "Literal", type: INTEGER, value: k },
    });
    expect([compileExpr(plus(1), options)(["x", 10]), compileExpr(plus(5), options)(["x", 10])]).toEqual([11, 15]);
  });

  it("over other columns are compiled apart", () => {
    const byId = compileExpr(idIs("a"), { columns: ["ID", "N"], functions });
    const shifted = compileExpr(idIs("a"), { columns: ["N", "ID"], functions });
    expect([byId(["a", 1]), shifted([1, "a"]), shifted(["a", 1])]).toEqual([true, true, false]);
  });
});
