/**
 * The logical planning stage: build the plan from an analyzed statement, then apply the rewrite rules in
 * order, keeping the plan after each rule (for `explain --verbose`).
 */
import type { LogicalPlan } from "./plan.ts";
import { pruneColumns } from "./rules/pruneColumns.ts";
import { pushDownFilter } from "./rules/pushDownFilter.ts";
import type { Rule } from "./rules/rule.ts";

export { buildLogicalPlan, type LogicalPlan } from "./plan.ts";
export { formatLogicalPlan } from "./format.ts";
export type { Rule } from "./rules/rule.ts";

/** The rules, in the order they run. Filters move first so pruning sees where they read. */
export const RULES: readonly Rule[] = [pushDownFilter, pruneColumns];

export interface RuleStep {
  readonly rule: string;
  /** Whether the rule changed the plan. */
  readonly changed: boolean;
  /** The plan after the rule. */
  readonly plan: LogicalPlan;
}

export function optimize(plan: LogicalPlan, rules: readonly Rule[] = RULES): { plan: LogicalPlan; steps: RuleStep[] } {
  const steps: RuleStep[] = [];
  let p = plan;
  for (const r of rules) {
    const next = r.apply(p);
    steps.push({ rule: r.name, changed: next !== p, plan: next });
    p = next;
  }
  return { plan: p, steps };
}
