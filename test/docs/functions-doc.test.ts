import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { functionDocs } from "../../scripts/gen-function-docs.ts";

it("docs/functions.md is generated from the current registry (run scripts/gen-function-docs.ts)", () => {
  const committed = readFileSync(join(import.meta.dirname, "..", "..", "docs", "functions.md"), "utf8");
  expect(committed).toBe(functionDocs());
});
