/**
 * A server with the bank example (examples/bank) and its transactions, for the web console's browser test and
 * its screenshots (`npm run console:screenshots`): a fresh engine in a temporary folder, `bank.esql` deployed,
 * the example's transactions appended, two malformed records among them so the processing log has entries.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../runtime/engine/engine.ts";
import { startServer, type RunningServer, type ServerOptions } from "../../runtime/http/server.ts";

const BANK = join(import.meta.dirname, "../../examples/bank");

export interface BankServer {
  readonly engine: Engine;
  readonly server: RunningServer;
  close(): Promise<void>;
}

export async function startBankServer(options: Partial<ServerOptions> = {}): Promise<BankServer> {
  const dir = mkdtempSync(join(tmpdir(), "esql-console-"));
  const engine = await Engine.open({ dataDir: dir });
  const r = await engine.execute(readFileSync(join(BANK, "bank.esql"), "utf8"));
  const failed = r.results.find((x) => x.kind === "error");
  if (failed) throw new Error(`bank.esql: ${failed.text}`);
  const lines = readFileSync(join(BANK, "transactions.jsonl"), "utf8").split("\n").filter(Boolean);
  const records = lines.map((line) => {
    const e = JSON.parse(line) as { key: string; value: unknown; timestamp: string };
    return {
      key: Buffer.from(e.key),
      value: Buffer.from(JSON.stringify(e.value)),
      timestamp: Date.parse(e.timestamp),
    };
  });
  // Two records the queries cannot fold: they go to the processing log.
  const at = records[records.length - 1]!.timestamp;
  records.push({ key: Buffer.from("ACC-1001"), value: Buffer.from("{not json"), timestamp: at });
  records.push({
    key: Buffer.from("ACC-1002"),
    value: Buffer.from(JSON.stringify({ tx_id: "T-BAD", kind: "DEPOSIT", amount: "lots", teller: "x" })),
    timestamp: at,
  });
  await engine.log.append("transactions", records);
  await engine.drain();
  const server = await startServer({ engine, ...options });
  return {
    engine,
    server,
    async close() {
      await server.close();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
