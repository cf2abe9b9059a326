// Shared helpers for the end-to-end tests: Debian's Chromium driven by playwright-core
// against a real MDReader server (BASE_URL, started by tests/web/test_e2e.py).
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const BASE_URL = process.env.BASE_URL ?? "http://127.0.0.1:8000";
export const ARTIFACTS = resolve(process.env.ARTIFACTS_DIR ?? resolve(here, "../../test-artifacts/web"));
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(ARTIFACTS, { recursive: true });

// Every Content-Security-Policy violation on any page of a script fails the script: the
// policy must allow what the app (and the share page) need, and the app must need nothing
// it does not allow.
export const cspViolations = [];
process.on("exit", () => {
  if (cspViolations.length) {
    console.error(`Content-Security-Policy violations:\n  ${cspViolations.join("\n  ")}`);
    process.exitCode = 1;
  }
});

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** A new browser context (its own storage: another person) with a page and error capture. */
export async function newPage(browser, { viewport = { width: 1280, height: 800 }, name = "page" } = {}) {
  const context = await browser.newContext({ viewport, baseURL: BASE_URL });
  await context.exposeFunction("__reportCsp", (what) => cspViolations.push(`${name}: ${what}`));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__reportCsp(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}: ${e.sample || ""} <${e.target?.nodeName ?? "?"}>`);
    });
  });
  const page = await context.newPage();
  page.errors = [];
  page.dialogs = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("dialog", (d) => {
    page.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(`console: ${m.text()}${m.location()?.url ? ` <${m.location().url}>` : ""}`);
  });
  page.label = name;
  return { context, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: false });
}

let counter = 0;
export function uniqueEmail(prefix = "user") {
  return `${prefix}-${Date.now().toString(36)}-${++counter}@example.com`;
}

export const PASSWORD = "Correct-Horse-7";

export async function signUp(page, { name, email, password = PASSWORD }) {
  await page.goto("/signup");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Welcome, ${name}`).waitFor();
}

export async function signIn(page, { email, password = PASSWORD }) {
  await page.goto("/signin");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function createWorkspace(page, name) {
  await page.getByLabel("Workspace name").fill(name);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.locator(".ws-name", { hasText: name }).waitFor();
  return page.url().split("/w/")[1].split("/")[0];
}

/** The access token of the signed-in page (for API calls in the test's own set-up). */
export async function tokenOf(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem("mdreader.tokens")).access);
}

export async function api(page, method, path, body) {
  const token = await tokenOf(page);
  const response = await page.request.fetch(`${BASE_URL}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok()) throw new Error(`${method} ${path}: ${response.status()} ${await response.text()}`);
  return response.status() === 204 ? null : response.json();
}

/** Links in the e-mails the SMTP test server received (MAIL_LOG) for one address. */
export function mailedLinks(email) {
  const log = process.env.MAIL_LOG;
  if (!log || !existsSync(log)) return [];
  const text = readFileSync(log, "utf8");
  const links = [];
  for (const block of text.split("--- e-mail from ").slice(1)) {
    if (!block.includes(` to ${email}:`)) continue;
    for (const m of block.matchAll(/https?:\/\/\S+/g)) links.push(m[0]);
  }
  return links;
}

/** Retry `fn` until it returns a truthy value, or fail after `timeout` ms (generous: it
 * returns as soon as the condition holds, and `make test` runs beside other tests on two
 * cores). */
export async function eventually(fn, { timeout = 30000, interval = 50, what = "condition" } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeout) throw new Error(`timed out waiting for ${what}: ${last}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Type into the CodeMirror editor of `page` at the end of the document. */
export async function typeInEditor(page, text) {
  const content = page.locator(".cm-content");
  await content.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(text, { delay: 5 });
}

export async function editorText(page) {
  return page.evaluate(() => {
    const el = document.querySelector(".cm-content");
    // CodeMirror keeps the text in its view; read it through the DOM lines.
    return el ? [...el.querySelectorAll(".cm-line")].map((l) => l.textContent).join("\n") : null;
  });
}

/** The current TOTP code (RFC 6238, SHA-1, 30 s, 6 digits) of a base32 secret. */
export async function totp(secret, at = Date.now()) {
  const { createHmac } = await import("node:crypto");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

/** Path and query of a mailed link, to open on the test server whatever PUBLIC_URL says. */
export function localPath(link) {
  const u = new URL(link);
  return u.pathname + u.search;
}

/** Whether the server has a route (for endpoints other branches are still building). */
export async function serverHas(path, method = "get") {
  const response = await fetch(`${BASE_URL}/api/openapi.json`);
  const spec = await response.json();
  return Boolean(spec.paths?.[path]?.[method]);
}

/** Create a document with the sidebar's button (or a row's "+") and give it a title. */
export async function newDocument(page, title, button = page.getByRole("button", { name: "New document" }).first()) {
  const before = page.url();
  await button.click();
  await page.waitForURL((url) => url.href !== before && /\/d\/[^/?]+/.test(url.pathname));
  const id = new URL(page.url()).pathname.split("/d/")[1];
  const input = page.getByRole("textbox", { name: "Title", exact: true });
  await eventually(async () => (await input.inputValue()) === "Untitled", { what: "the new document's page" });
  await input.fill(title);
  await page.locator(".tree-link", { hasText: title }).waitFor();
  // A person waits for "Saved" before going elsewhere; leaving earlier asks first, and the
  // tests dismiss that question, which aborts the navigation.
  await waitSaved(page);
  return id;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const between = (low, high) => low + Math.random() * (high - low);

/** A slow, uneven network for one browser context: every API request waits 0–`max` ms, and
 * every WebSocket frame too, in each direction in order (a socket never reorders). While
 * `net.hold` is true the frames to the server are kept back; `net.discard()` drops them (they
 * never arrive: the tab that sent them is gone). `net.requests` lists the API requests. */
export async function slowNetwork(context, { max = 300 } = {}) {
  const net = { hold: false, requests: [], generation: 0, discard: () => {} };
  await context.route("**/api/**", async (route) => {
    const request = route.request();
    net.requests.push(`${request.method()} ${new URL(request.url()).pathname}`);
    await sleep(between(0, max));
    await route.continue().catch(() => {});
  });
  const held = new Set();
  net.discard = () => {
    net.generation += 1;
    net.hold = false;
    for (const release of [...held]) release();
    held.clear();
  };
  await context.routeWebSocket(/\/ws($|\?|\/)/, (ws) => {
    const server = ws.connectToServer();
    const lane = (deliver, holdable) => {
      let last = 0;
      let queue = Promise.resolve();
      return (message) => {
        const generation = net.generation;
        queue = queue.then(async () => {
          if (holdable && net.hold) await new Promise((release) => held.add(release));
          if (generation !== net.generation) return; // discarded
          const at = Math.max(last, Date.now() + between(0, max));
          last = at;
          await sleep(at - Date.now());
          try { deliver(message); } catch { /* closed meanwhile */ }
        });
      };
    };
    ws.onMessage(lane((m) => server.send(m), true));
    server.onMessage(lane((m) => ws.send(m), false));
    ws.onClose((code, reason) => server.close({ code, reason }));
    server.onClose((code, reason) => ws.close({ code, reason }));
  });
  return net;
}

/** Type like a person: one key every `low`–`high` ms. */
export async function typeSlowly(page, text, { low = 50, high = 150 } = {}) {
  for (const ch of text) {
    await page.keyboard.type(ch);
    await sleep(between(low, high));
  }
}

/** Choose the completion offering `text` with Enter, as a person does: they see the list,
 * then press the key. CodeMirror ignores Enter for a moment after the list appears or changes
 * (its interactionDelay, against accidental picks); a script that pressed at once typed a
 * line break instead. */
export async function pickCompletion(page, text) {
  const option = page.locator(".cm-tooltip-autocomplete li", { hasText: text });
  await option.waitFor();
  await sleep(between(250, 400));
  await page.keyboard.press("Enter");
  await page.locator(".cm-tooltip-autocomplete").waitFor({ state: "detached" });
}

export async function waitSaved(page, timeout = 20000) {
  await page.getByTestId("sync-state").and(page.locator("[data-state=saved]")).waitFor({ timeout });
}

/** One browser for the tests of a file: launched before them, closed after. */
export function browserForFile() {
  const held = { browser: null };
  before(async () => {
    held.browser = await launch();
  });
  after(async () => {
    await held.browser?.close();
  });
  return () => held.browser;
}

/** Two people, each in a browser context of their own: an owner with a workspace and a member
 * of it with `role`. */
export async function ownerAndMember(browser, { owner = "Olga Owner", member = "Mo Member", role = "editor", workspace = "Team", memberViewport } = {}) {
  const a = await newPage(browser, { name: "owner" });
  const b = await newPage(browser, { name: "member", ...(memberViewport ? { viewport: memberViewport } : {}) });
  const email = uniqueEmail("member");
  await signUp(b.page, { name: member, email });
  await signUp(a.page, { name: owner, email: uniqueEmail("owner") });
  const wid = await createWorkspace(a.page, workspace);
  const added = await api(a.page, "POST", `/api/workspaces/${wid}/members`, { email, role });
  return { owner: a, member: b, wid, memberId: added.user_id };
}

/** The plain-text e-mails the SMTP test server received for one address: [{subject, text}]. */
export function mailedTo(email) {
  const log = process.env.MAIL_LOG;
  if (!log || !existsSync(log)) return [];
  const out = [];
  for (const block of readFileSync(log, "utf8").split("--- e-mail from ").slice(1)) {
    const head = block.split("\n", 1)[0];
    if (!head.includes(` to ${email}:`)) continue;
    out.push({ subject: head.split(`to ${email}: `)[1] ?? "", text: block.slice(head.length) });
  }
  return out;
}
