/**
 * Screenshots of each page of the web console for the README (docs/console/*.png): a server with the bank
 * example, transactions arriving for a few seconds (so the charts have a history), then each page in
 * headless Chromium (CHROMIUM_PATH, else /usr/bin/chromium) at a laptop's 1366×800.
 *
 *   npm run console:screenshots
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { CONSOLE_DIST } from "../../runtime/http/routes/console.ts";
import { startBankServer } from "./bank-server.ts";

const out = join(import.meta.dirname, "../../docs/console");
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium)) throw new Error(`no Chromium at ${chromium} (set CHROMIUM_PATH)`);
if (!existsSync(join(CONSOLE_DIST, "index.html")))
  execFileSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "build.ts")], { stdio: "inherit" });
mkdirSync(out, { recursive: true });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bank = await startBankServer({ console: true, consoleSampleMs: 1_000, drainIntervalMs: 2_500 });
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
try {
  // Deposits and withdrawals for 20 s, faster than the server drains them: lag rises and falls.
  const tellers = ["payroll", "atm", "branch", "online"];
  for (let i = 0; i < 40; i++) {
    const records = Array.from({ length: 5 + (i % 7) * 4 }, (_, j) => ({
      key: Buffer.from(`ACC-${1001 + ((i * 7 + j) % 12)}`),
      value: Buffer.from(
        JSON.stringify({
          tx_id: `S${i}-${j}`,
          kind: j % 3 === 0 ? "WITHDRAWAL" : "DEPOSIT",
          amount: 20 + ((i * 31 + j * 17) % 700),
          teller: tellers[j % tellers.length],
        }),
      ),
    }));
    await bank.engine.log.append("transactions", records);
    await sleep(500);
  }
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 800 });
  await page.bringToFront();
  const url = bank.server.url;
  const shot = async (name: string) => {
    await sleep(800);
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`docs/console/${name}.png`);
  };

  await page.goto(`${url}/#/projections/CTAS_BALANCES_0`);
  await page.waitForSelector("section.detail .chart canvas");
  await shot("projections");

  await page.goto(`${url}/#/topology/CTAS_DAILY_TOTALS_1`);
  await page.waitForSelector("svg.topology g.node");
  await shot("topology");

  await page.goto(`${url}/#/query`);
  await page.waitForSelector(".cm-content");
  await page.click(".cm-content");
  await page.keyboard.type(
    "-- accounts holding more than 1,000\nSELECT account_id, balance, transactions, last_tx\nFROM balances\nWHERE balance > 1000;",
  );
  await page.keyboard.press("Escape");
  await page.click("[data-action=run]");
  await page.waitForFunction("document.querySelector('.result-status')?.textContent.includes('rows')");
  await shot("query");

  await page.goto(`${url}/#/log`);
  await page.waitForSelector("[data-list=log] tbody tr");
  await shot("processing-log");
} finally {
  await browser.close();
  await bank.close();
}
