import { EmbeddedLog } from "../../../runtime/log/embedded.ts";
import { describeEventLogContract } from "./contract.ts";
import { tempDir } from "../../fixtures/temp.ts";

describeEventLogContract(
  "embedded",
  async () => {
    const dir = tempDir("esql-contract-");
    return EmbeddedLog.open(dir);
  },
  { nullHeaderValues: true },
);
