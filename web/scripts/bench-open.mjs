// Used by bench/web.py: open documents in Debian's Chromium and time each until the live
// document is synced and its preview rendered. Input (JSON on argv[2]):
// {base, email, password, runs, docs: [{name, path, sentinel}]}. Output: JSON timings in ms.
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});

async function signedInContext() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: input.base });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("E-mail").fill(input.email);
  await page.getByLabel("Password").fill(input.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/w/"));
  await page.evaluate(() => localStorage.setItem("mdreader.mode", "split"));
  return { context, page };
}

const results = {};
for (const doc of input.docs) results[doc.name] = [];
const { context, page } = await signedInContext();
for (let run = 0; run < input.runs; run++) {
  for (const doc of input.docs) {
    await page.goto("/settings"); // leave the document (closes its live session)
    await page.getByRole("heading", { name: "Account settings" }).waitFor();
    const start = Date.now();
    await page.goto(doc.path);
    await page.locator('[data-testid=sync-state][data-state=saved]').waitFor({ timeout: 120000 });
    await page.waitForFunction(
      (sentinel) => document.querySelector("[data-testid=preview]")?.textContent?.includes(sentinel),
      doc.sentinel,
      { timeout: 120000, polling: 20 },
    );
    results[doc.name].push(Date.now() - start);
  }
}
await context.close();
await browser.close();
process.stdout.write(JSON.stringify(results));
