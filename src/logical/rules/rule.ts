/** A rewrite rule over logical plans: a pure function returning the same plan object when it changes nothing. */
import type { LogicalPlan } from "../plan.ts";

export interface Rule {
  /** Stable name shown by `explain --verbose`. */
  readonly name: string;
  readonly apply: (plan: LogicalPlan) => LogicalPlan;
}
