/** `node --import tsx test/semantic/run-conformance.ts`: prints the conformance figures and writes the failure list. */
import { writeFileSync } from "node:fs";
import { runConformance, runRestConformance } from "./conformance.ts";
const r = runConformance();
const rest = runRestConformance();
writeFileSync("/tmp/esql-conformance-failures.txt", [...r.failures, ...rest.failures].join("\n\n") + "\n");
console.log(
  `valid: ${r.ok.pass}/${r.ok.total} (${((100 * r.ok.pass) / r.ok.total).toFixed(1)}%)  invalid rejected: ${r.bad.pass}/${r.bad.total} (${((100 * r.bad.pass) / r.bad.total).toFixed(1)}%)  (with a similar message: ${r.bad.similar})  threw: ${r.threw}`,
);
console.log(`rest: valid ${rest.ok.pass}/${rest.ok.total}  invalid rejected ${rest.bad.pass}/${rest.bad.total}`);
