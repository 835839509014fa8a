import type { AnalyzedStatement } from "../semantic/statements.ts";
export type LogicalPlan = { kind: "stub" };
export interface RuleStep { rule: string; plan: LogicalPlan }
export function buildLogicalPlan(_a: AnalyzedStatement): LogicalPlan | undefined { return undefined; }
export function optimize(p: LogicalPlan): { plan: LogicalPlan; steps: RuleStep[] } { return { plan: p, steps: [] }; }
