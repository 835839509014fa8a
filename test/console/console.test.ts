/**
 * The web console in a real headless browser (Chromium from the system's packages, driven by puppeteer-core)
 * against a server with the bank example: each page loads and shows what the server holds; a pull and a push
 * query run from the editor; credentials are asked for when the server needs them.
 *
 * Without Chromium (CHROMIUM_PATH, else /usr/bin/chromium) the suite is skipped with a note, except on CI
 * (CI=true), where that is a failure: .ci/run installs it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../runtime/engine/engine.ts";
import { CONSOLE_DIST } from "../../runtime/http/routes/console.ts";
import { startServer } from "../../runtime/http/server.ts";
import { startBankServer, type BankServer } from "../../scripts/console/bank-server.ts";

// Browser globals the callbacks run in the page use (the project's type check has no DOM library).
interface Elem {
  readonly textContent: string | null;
  readonly innerText?: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): Elem | null;
}
declare const document: { querySelector(s: string): Elem | null; querySelectorAll(s: string): ArrayLike<Elem> };
declare const location: { hash: string };
declare function getComputedStyle(e: Elem): { color: string };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
if (!present && process.env.CI === "true")
  throw new Error(`the web console's browser test needs Chromium at ${CHROMIUM} (CI=true): .ci/run installs it`);
if (!present) console.warn(`test/console: skipped, no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

/** The built console; built here when a checkout has not built it yet. */
function ensureBuilt(): void {
  if (existsSync(join(CONSOLE_DIST, "index.html"))) return;
  execFileSync(process.execPath, ["--import", "tsx", "scripts/console/build.ts"], { stdio: "inherit" });
}

async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}

/** The texts of the elements matching `selector`. */
const texts = (page: Page, selector: string) =>
  page.$$eval(selector, (els) => els.map((e) => ((e as unknown as Elem).innerText ?? e.textContent ?? "").trim()));

/** Replaces the editor's text (CodeMirror) by `sql`. */
async function typeSql(page: Page, sql: string): Promise<void> {
  await page.click(".cm-content");
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await page.keyboard.type(sql);
  await page.keyboard.press("Escape");
}

/**
 * The completions the editor offers at the cursor. Completion opens as one types; when the names it needs are
 * still on their way (a DESCRIBE), it is asked for again with Ctrl-Space, as a user would.
 */
async function completions(page: Page): Promise<string[]> {
  for (let i = 0; i < 40; i++) {
    const items = await texts(page, ".cm-tooltip-autocomplete li");
    if (items.length > 0) return items;
    await new Promise((r) => setTimeout(r, 250));
    if (i % 4 === 3) {
      await page.keyboard.down("Control");
      await page.keyboard.press("Space");
      await page.keyboard.up("Control");
    }
  }
  return [];
}

describe.skipIf(!present)("web console", () => {
  let bank: BankServer;
  let browser: Browser;
  let page: Page;
  let url: string;
  const errors: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    bank = await startBankServer({ console: true, consoleSampleMs: 200 });
    url = bank.server.url;
    // A query with two sub-topologies (a repartition by teller), for the topology graph.
    const r = await bank.engine.execute(
      "CREATE TABLE per_teller AS SELECT teller, COUNT(*) AS n FROM transactions GROUP BY teller EMIT CHANGES;",
    );
    expect(r.results.map((x) => x.kind)).not.toContain("error");
    browser = await launch();
    page = await browser.newPage();
    await page.setViewport({ width: 1366, height: 800 });
    // In front, so it renders frames (CodeMirror draws its tooltips in animation frames).
    await page.bringToFront();
    page.on("pageerror", (e) => errors.push((e as Error).message));
  });

  afterAll(async () => {
    await browser?.close();
    await bank?.close();
  });

  it("Projections lists the queries with their counts, the tables and streams, and charts a query's lag", async () => {
    await page.goto(`${url}/#/projections`);
    await page.waitForFunction(() => document.querySelectorAll("[data-list=queries] tbody tr").length === 4);
    const rows = await texts(page, "[data-list=queries] tbody tr");
    const balances = rows.find((r) => r.startsWith("CTAS_BALANCES_0"))!;
    // Records in (321 transactions + 2 malformed), state, failed (the two malformed records).
    expect(balances).toMatch(/BALANCES\s+RUNNING\s+323\s/);
    expect(balances).toMatch(/\s2\s+topology$/);
    expect(await texts(page, "[data-list=tables] tbody td.name")).toEqual(
      expect.arrayContaining(["BALANCES", "DAILY_TOTALS windowed", "PER_TELLER"]),
    );
    expect(await texts(page, "[data-list=streams] tbody td.name")).toEqual(
      expect.arrayContaining(["TRANSACTIONS", "LARGE_WITHDRAWALS", "KSQL_PROCESSING_LOG"]),
    );
    // The version column: every object serves its first version here.
    expect((await texts(page, "[data-list=tables] tbody tr")).find((r) => r.startsWith("BALANCES"))).toMatch(/v1$/);

    await page.click("[data-list=queries] a[href='#/projections/CTAS_BALANCES_0']");
    await page.waitForSelector("section.detail[data-query=CTAS_BALANCES_0] .chart canvas");
    const facts = await texts(page, "section.detail .facts");
    expect(facts[0]).toContain("transactions/0 0");
    expect(facts[0]).toContain("transactions/3 0");
    expect(facts[0]).toContain("Dropped: 2 undecodable");
    // One series per input partition in the lag chart's legend.
    const legend = await texts(page, "section.detail .chart:first-child .u-legend .u-series");
    expect(legend.filter((l) => l.startsWith("transactions/"))).toHaveLength(4);
  });

  it("Topology draws a query's sub-topologies, operators, stores and topics", async () => {
    await page.goto(`${url}/#/topology/CTAS_PER_TELLER_3`);
    await page.waitForSelector("svg.topology g.node");
    const clusters = await texts(page, "svg.topology g.cluster text");
    expect(clusters).toEqual(["Sub-topology 0 (4 tasks)", "Sub-topology 1 (4 tasks)"]);
    const nodes = await page.$$eval("svg.topology g.node", (gs) =>
      gs.map((g) => `${g.getAttribute("data-kind")}:${g.querySelector("text")!.textContent}`),
    );
    expect(nodes).toEqual(
      expect.arrayContaining([
        "topic:transactions",
        "topic:_esql-CTAS_PER_TELLER_3-groupby-0-repartition",
        "topic:PER_TELLER",
        "processor:Repartition",
        "processor:Sink",
        "store:agg",
      ]),
    );
    expect(nodes.some((n) => n.startsWith("processor:Aggregate: GROUP BY TELLER"))).toBe(true);
    // Edges connect them: the repartition topic is written by sub-topology 0 and read by sub-topology 1.
    expect(await page.$$eval("svg.topology polyline.edge", (e) => e.length)).toBeGreaterThanOrEqual(7);
  });

  it("Query: highlighting from the grammar, completion of names, a pull query's rows as a table", async () => {
    await page.goto(`${url}/#/query`);
    await page.waitForSelector(".cm-content");
    await typeSql(page, "SELECT * FROM balances WHERE account_id = 'ACC-1001';");
    // Keywords, strings and names are coloured differently (the TextMate grammar's scopes).
    const colors = await page.$$eval(".cm-line span", (spans) =>
      Object.fromEntries(spans.map((s) => [s.textContent, getComputedStyle(s).color])),
    );
    expect(colors.SELECT).toBeDefined();
    expect(colors.SELECT).toBe(colors.WHERE);
    const string = Object.keys(colors).find((t) => t?.includes("ACC-1001"));
    expect(string).toBeDefined();
    expect(colors[string!]).not.toBe(colors.SELECT);

    await page.click("[data-action=run]");
    await page.waitForFunction(() => document.querySelector(".result-status")?.textContent?.includes("1 row"));
    expect(await texts(page, "[data-list=results] thead th")).toEqual([
      "ACCOUNT_ID",
      "BALANCE",
      "TRANSACTIONS",
      "LAST_TX",
    ]);
    // What any client gets for the same query.
    const answer = (await fetch(`${url}/query-stream`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ sql: "SELECT * FROM balances WHERE account_id = 'ACC-1001';" }),
    }).then((r) => r.json())) as unknown[][];
    expect(answer).toHaveLength(2);
    expect((await texts(page, "[data-list=results] tbody tr"))[0]!.split("\t")).toEqual(answer[1]!.map(String));

    // Completion: sources by name, and the columns of the source the statement reads.
    await typeSql(page, "SELECT  FROM balances;");
    for (let i = 0; i < "FROM balances;".length + 1; i++) await page.keyboard.press("ArrowLeft");
    await page.keyboard.type("LAS");
    expect(await completions(page)).toContain("LAST_TX");
    await page.keyboard.press("Escape");
    await typeSql(page, "SELECT * FROM DAILY_T");
    expect(await completions(page)).toContain("DAILY_TOTALStable");
  });

  it("Query: a push query streams rows as they come until stopped", async () => {
    await page.goto(`${url}/#/query`);
    await page.waitForSelector(".cm-content");
    await typeSql(page, "SELECT account_id, amount FROM transactions WHERE teller = 'console' EMIT CHANGES;");
    await page.click("[data-action=run]");
    await page.waitForFunction(
      () => document.querySelector(".result-status")?.getAttribute("data-status") === "streaming",
    );
    const append = (tx: string, amount: number) =>
      bank.engine.log.append("transactions", [
        {
          key: Buffer.from("ACC-9"),
          value: Buffer.from(JSON.stringify({ tx_id: tx, kind: "DEPOSIT", amount, teller: "console" })),
        },
      ]);
    await append("C1", 12.5);
    await page.waitForFunction(() => document.querySelectorAll("[data-list=results] tbody tr").length === 1);
    await append("C2", 7);
    await page.waitForFunction(() => document.querySelectorAll("[data-list=results] tbody tr").length === 2);
    expect(await texts(page, "[data-list=results] tbody tr")).toEqual(["ACC-9\t12.5", "ACC-9\t7"]);
    expect(await texts(page, ".result-status")).toEqual(["Streaming: 2 rows received"]);

    await page.click("[data-action=stop]");
    await page.waitForFunction(() => document.querySelector(".result-status")?.getAttribute("data-status") === "idle");
    // The server closed it (no push query left running).
    await expect
      .poll(
        async () => (await fetch(`${url}/metrics`).then((r) => r.text())).match(/esql_push_queries_running (\d+)/)?.[1],
      )
      .toBe("0");
  });

  it("Processing log shows the failed records, filterable by query", async () => {
    await page.goto(`${url}/#/log`);
    await page.waitForSelector("[data-list=log] tbody tr");
    const all = await texts(page, "[data-list=log] tbody tr");
    // Each of the four queries failed the same two records.
    expect(all).toHaveLength(8);
    await page.select("select[data-filter=query]", "CTAS_BALANCES_0");
    await page.waitForFunction(() => location.hash === "#/log/CTAS_BALANCES_0");
    await page.waitForFunction(() => document.querySelectorAll("[data-list=log] tbody tr").length === 2);
    const rows = (await texts(page, "[data-list=log] tbody tr")).map((r) => r.split("\t").slice(1, 6));
    expect(rows).toEqual(
      expect.arrayContaining([
        ["CTAS_BALANCES_0", "transactions", "0", "132", "undecodable"],
        ["CTAS_BALANCES_0", "transactions", "3", "91", "undecodable"],
      ]),
    );
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!present)("web console: authentication and --no-console", () => {
  it("serves its page without credentials, asks for them, then shows what the API answers with them", async () => {
    ensureBuilt();
    const bank = await startBankServer({ console: true, auth: { apiKeys: ["s3cret"] } });
    const browser = await launch();
    try {
      const url = bank.server.url;
      expect((await fetch(`${url}/`)).status).toBe(200);
      const denied = await fetch(`${url}/esql/stats`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toContain("Basic");
      // The console's own requests get no challenge (the browser would ask on top of the console's form).
      expect(
        (await fetch(`${url}/esql/stats`, { headers: { "x-esql-console": "1" } })).headers.has("www-authenticate"),
      ).toBe(false);
      const page = await browser.newPage();
      await page.goto(`${url}/#/projections`);
      await page.waitForSelector("form.signin");
      await page.type("form.signin input[name=apiKey]", "s3cret");
      await page.click("form.signin button[type=submit]");
      await page.waitForFunction(() => document.querySelectorAll("[data-list=queries] tbody tr").length === 3);
    } finally {
      await browser.close();
      await bank.close();
    }
  });

  it("is not served when the console is off", async () => {
    const bank = await startBankServer();
    try {
      expect((await fetch(`${bank.server.url}/`)).status).toBe(404);
      expect((await fetch(`${bank.server.url}/esql/stats`)).status).toBe(404);
    } finally {
      await bank.close();
    }
  });
});

describe("web console without a build", () => {
  it("answers 503 with what to run when console/dist is missing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "esql-console-nobuild-"));
    const engine = await Engine.open({ dataDir: dir });
    const server = await startServer({ engine, console: true, consoleDir: join(dir, "nothing") });
    try {
      const r = await fetch(`${server.url}/`);
      expect(r.status).toBe(503);
      expect(await r.text()).toContain("npm run console:build");
    } finally {
      await server.close();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
