/** The physical planning stage (see README.md for the JSON format). */
export { buildPhysicalPlan } from "./build.ts";
export { formatPhysicalPlan } from "./format.ts";
export * from "./plan.ts";
