import type { LogicalPlan } from "../logical/index.ts";
export type PhysicalPlan = { version: 1 };
export function buildPhysicalPlan(_p: LogicalPlan, _o: { properties: Record<string, string> }): PhysicalPlan { return { version: 1 }; }
