// Used by bench/web.py, in Debian's Chromium:
// 1. open documents and time each until the live document is synced and its preview's first
//    screen is painted, and until the whole preview is in place (the sentinel at its end shows);
// 2. type `keys` keystrokes at human speed (random pauses) at the end of each document with the
//    preview open, and record the page's main-thread tasks meanwhile: the long-task timing
//    (PerformanceObserver "longtask", tasks over 50 ms) and, for every task, a DevTools trace
//    (the renderer main thread's RunTask events).
// Input (JSON on argv[2]): {base, email, password, runs, keys, docs: [{name, size, path, opening, sentinel}]}.
// 3. list the scripts a fresh browser fetches to open the largest document.
// Output: JSON {open: {name: [{first, whole}]}, typing: {name: {longTasks: [ms], longest: ms, p99: ms, tasks}},
// scripts: [path]}.
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const between = (low, high) => low + Math.random() * (high - low);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/** Open a document: ms until it is synced and its preview's first screen is painted (`first`),
 * and until the whole preview is in place (`whole`: the sentinel at its end shows). */
async function openDocument(page, doc) {
  await page.goto("/settings"); // leave the document (closes its live session)
  await page.getByRole("heading", { name: "Account settings" }).waitFor();
  const start = Date.now();
  await page.goto(doc.path);
  await page.waitForFunction(
    (opening) =>
      document.querySelector("[data-testid=sync-state]")?.getAttribute("data-state") === "saved" &&
      document.querySelector("[data-testid=preview]")?.firstElementChild?.textContent?.includes(opening),
    doc.opening,
    { timeout: 120000, polling: "raf" },
  );
  const first = Date.now() - start;
  // A long text's preview shows only the blocks near its viewport: scrolled to its end, the
  // last block shows once the whole text is rendered and in place.
  await page.waitForFunction(
    (sentinel) => {
      const preview = document.querySelector("[data-testid=preview]");
      const pane = preview?.closest(".scroll-pane");
      if (pane) pane.scrollTop = pane.scrollHeight;
      return preview?.lastElementChild?.textContent?.includes(sentinel);
    },
    doc.sentinel,
    { timeout: 120000, polling: 20 },
  );
  return { first, whole: Date.now() - start };
}

/** Main-thread task durations (ms) of the page's renderer from a DevTools trace. */
function mainThreadTasks(events) {
  const names = new Map();
  for (const e of events) {
    if (e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain") names.set(`${e.pid}:${e.tid}`, true);
  }
  const out = [];
  for (const e of events) {
    if (e.ph === "X" && (e.name === "RunTask" || e.name === "ThreadControllerImpl::RunTask") && names.has(`${e.pid}:${e.tid}`)) {
      out.push((e.dur ?? 0) / 1000);
    }
  }
  return out;
}

async function typeInto(page, doc) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+End");
  await page.evaluate(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push(e.duration);
    }).observe({ type: "longtask" });
  });
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on("Tracing.dataCollected", ({ value }) => events.push(...value));
  const done = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.start", { categories: "toplevel,__metadata", transferMode: "ReportEvents" });
  const marker = `typed-${doc.size}-end`;
  const words = "Typed by a person, one key at a time, with the preview open. ";
  let text = "\n\n";
  while (text.length < input.keys - marker.length) text += words;
  text = text.slice(0, input.keys - marker.length) + marker;
  for (const ch of text) {
    await page.keyboard.type(ch);
    await sleep(between(30, 150));
  }
  // The preview catches up with the last keystroke.
  await page.waitForFunction(
    (m) => document.querySelector("[data-testid=preview]")?.lastElementChild?.textContent?.includes(m),
    marker,
    { timeout: 120000, polling: 50 },
  );
  await sleep(500);
  await cdp.send("Tracing.end");
  await done;
  await cdp.detach();
  const longTasks = await page.evaluate(() => window.__longTasks);
  const tasks = mainThreadTasks(events).sort((a, b) => a - b);
  const p99 = tasks.length ? tasks[Math.min(tasks.length - 1, Math.floor(tasks.length * 0.99))] : 0;
  await page.locator("[data-testid=sync-state][data-state=saved]").waitFor({ timeout: 120000 });
  return { longTasks, longest: tasks.at(-1) ?? 0, p99, tasks: tasks.length };
}

// The JavaScript a browser fetches to open the largest document (fresh cache, already signed
// in: the sign-in pages are not the editor's): every script of the page and of its workers.
const scripts = new Set();
{
  const { context, page } = await signedInContext();
  const tokens = await page.evaluate(() => localStorage.getItem("mdreader.tokens"));
  await context.close();
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: input.base });
  await fresh.addInitScript((t) => {
    localStorage.setItem("mdreader.tokens", t);
    localStorage.setItem("mdreader.mode", "split");
  }, tokens);
  fresh.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith(".js")) scripts.add(path);
  });
  const page2 = await fresh.newPage();
  const big = input.docs.at(-1);
  await page2.goto(big.path);
  await page2.locator("[data-testid=sync-state][data-state=saved]").waitFor({ timeout: 120000 });
  await page2.waitForFunction(
    (sentinel) => {
      const preview = document.querySelector("[data-testid=preview]");
      const pane = preview?.closest(".scroll-pane");
      if (pane) pane.scrollTop = pane.scrollHeight;
      return preview?.lastElementChild?.textContent?.includes(sentinel);
    },
    big.sentinel,
    { timeout: 120000, polling: 50 },
  );
  await sleep(1000);
  await fresh.close();
}

const open = {};
for (const doc of input.docs) open[doc.name] = [];
const { context, page } = await signedInContext();
for (let run = 0; run < input.runs; run++) {
  for (const doc of input.docs) open[doc.name].push(await openDocument(page, doc));
}
const typing = {};
for (const doc of input.docs) {
  await openDocument(page, doc);
  typing[doc.name] = await typeInto(page, doc);
}
await context.close();
await browser.close();
process.stdout.write(JSON.stringify({ open, typing, scripts: [...scripts] }));
