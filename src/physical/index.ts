/** The physical planning stage (see README.md for the JSON format). */
export { buildPhysicalPlan, type PhysicalOptions } from "./build.ts";
export { formatPhysicalPlan, stepsOf } from "./format.ts";
export * from "./plan.ts";
