import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { describeEventLogContract } from "./contract.ts";

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

describeEventLogContract(
  "embedded",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "esql-contract-"));
    folders.push(dir);
    return EmbeddedLog.open(dir);
  },
  { nullHeaderValues: true },
);
