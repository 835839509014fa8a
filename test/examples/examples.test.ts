/**
 * The examples stay correct: every `examples/*\/*.test.yaml` passes, and `esql run` processes each
 * example's events file without processing errors.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runRun } from "../../src/cli/run.ts";
import { loadEsqlTestFile, runEsqlTest } from "../../runtime/testing/esqltest.ts";
import { tempDir } from "../fixtures/temp.ts";
import { functionsFor } from "../../src/cli/functions.ts";

/** The user functions of an example (its functions/ folder), as the CLI loads them. */
async function withFunctions(paths: string[]) {
  const functions = await functionsFor(paths);
  return functions ? { functions } : {};
}

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const examples = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const dir = tempDir("esql-examples-");

/** The events file of each example and the topic it feeds. */
const EVENTS: Record<string, { topic: string; file: string }> = {
  bank: { topic: "transactions", file: "transactions.jsonl" },
  orders: { topic: "order_events", file: "order_events.jsonl" },
  signins: { topic: "signins", file: "signins.jsonl" },
  devices: { topic: "readings", file: "readings.jsonl" },
  carts: { topic: "cart_events", file: "cart_events.jsonl" },
  "cart-contents": { topic: "cart_events", file: "cart_events.jsonl" },
};

describe.each(examples)("examples/%s", (name) => {
  const files = readdirSync(join(EXAMPLES, name)).filter((f) => f.endsWith(".test.yaml"));

  it("has a test file", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const f of files) {
    const loaded = loadEsqlTestFile(join(EXAMPLES, name, f));
    if ("error" in loaded) {
      it(`${f} loads`, () => expect.fail(loaded.error));
      continue;
    }
    for (const test of loaded.tests) {
      it(test.name, async () => {
        const outcome = await runEsqlTest(loaded, test);
        expect(outcome.message ?? "", outcome.message).toBe("");
        expect(outcome.status).toBe("passed");
      });
    }
  }

  it("esql run processes its events without processing errors", async () => {
    const events = EVENTS[name];
    expect(events, `add the events file of examples/${name} to EVENTS`).toBeDefined();
    const out = new PassThrough();
    let text = "";
    out.on("data", (b: Buffer) => (text += b.toString()));
    const code = await runRun(
      [join(EXAMPLES, name)],
      {
        ...(await withFunctions([join(EXAMPLES, name)])),
        data: join(dir, name),
        inputs: [`${events!.topic}=${join(EXAMPLES, name, events!.file)}`],
        follow: false,
        fresh: true,
        json: true,
      },
      out as unknown as NodeJS.WriteStream,
    );
    expect(code).toBe(0);
    const result = JSON.parse(text) as { tables: Record<string, unknown[]>; processingErrors: number };
    expect(result.processingErrors).toBe(0);
    for (const [table, rows] of Object.entries(result.tables)) expect(rows.length, table).toBeGreaterThan(0);
  });
});
