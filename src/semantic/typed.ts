/** Typed expressions live with the plan IR (`src/plan/expr.ts`): the analyzer produces them, plans carry them. */
export * from "../plan/expr.ts";
