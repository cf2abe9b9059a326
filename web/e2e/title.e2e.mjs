// The title is typed at a person's speed over a slow, uneven network (0–300 ms on every request
// and WebSocket frame), then the page is reloaded: the server has exactly what was typed, 20
// titles in a row. No key sends a REST save of its own; the tree, breadcrumbs and the tab
// follow the live title; two people renaming at once both keep their words.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api, browserForFile, ownerAndMember, createWorkspace, eventually, newPage, shot, signIn, signUp, slowNetwork, typeSlowly, uniqueEmail, waitSaved,
} from "./lib.mjs";

const browserOf = browserForFile();

// The slow network routes each socket through the test; a reload can find it closing there.
const notShim = (e) => !e.includes("WebSocket is already in CLOSING or CLOSED state");

const WORDS = ["Project", "Handbook", "Jitter", "title", "test", "spring", "fair", "notes", "Q3:", "plan/draft", "why?", "café", "naïve"];

/** A title of exactly 40 characters from ordinary words (with `:` `/` `?` and accents). */
function title40(i) {
  let t = `${i + 1}.`;
  let k = i * 7;
  while (t.length < 40) t += ` ${WORDS[k++ % WORDS.length]}`;
  return t.slice(0, 40).replace(/ $/, "x");
}

async function typeTitles(page, net, first, count) {
  const titleInput = page.getByRole("textbox", { name: "Title", exact: true });
  for (let i = first; i < first + count; i++) {
    const expected = title40(i);
    assert.equal(expected.length, 40);
    // A new document from the sidebar: its title is focused and selected; type over it.
    const before = page.url();
    await page.getByRole("button", { name: "New document" }).first().click();
    await page.waitForURL((url) => url.href !== before && /\/d\/[^/?]+/.test(url.pathname));
    const did = new URL(page.url()).pathname.split("/d/")[1];
    await eventually(async () => (await titleInput.evaluate((el) => el === document.activeElement)), {
      what: "the new document's title focused",
    });
    const sent = net.requests.length;
    await typeSlowly(page, expected);
    // Not one request per key: the title travels in the live document.
    const patches = net.requests.slice(sent).filter((r) => r.startsWith("PATCH") && r.includes(did));
    assert.deepEqual(patches, [], "no REST save per keystroke");
    await waitSaved(page);
    // Saved means the server has it: reload and compare what it kept.
    await page.reload();
    const doc = await api(page, "GET", `/api/documents/${did}`);
    assert.equal(doc.title, expected, `title ${i + 1} as the server kept it`);
    await eventually(async () => (await titleInput.inputValue()) === expected, { what: `title ${i + 1} after reload` });
    // The tab, the breadcrumbs and the tree show it too.
    assert.equal(await page.title(), `${expected} · MDReader`);
    await page.locator(".breadcrumbs .current", { hasText: expected }).waitFor();
    await page.locator(".tree-link", { hasText: expected }).waitFor();
  }
}

test("20 titles typed at human speed over a jittery network are kept exactly", async () => {
  // Four windows of one person type five titles each at the same time (to stay within the
  // test run's time), every one over its own slow network.
  const email = uniqueEmail("title");
  const first = await newPage(browserOf(), { name: "typist-1" });
  await signUp(first.page, { name: "Tess Typist", email });
  const wid = await createWorkspace(first.page, "Titles");
  const windows = [first];
  for (let w = 2; w <= 4; w++) {
    const other = await newPage(browserOf(), { name: `typist-${w}` });
    await signIn(other.page, { email });
    await eventually(() => other.page.evaluate(() => !!localStorage.getItem("mdreader.tokens")), { what: "signed in" });
    windows.push(other);
  }
  await Promise.all(
    windows.map(async ({ page, context }, w) => {
      const net = await slowNetwork(context, { max: 300 });
      await page.goto(`/w/${wid}`);
      await typeTitles(page, net, w * 5, 5);
    }),
  );
  // The stored column (the tree of every other window, search, export) follows once the live
  // edits are compacted, a few seconds after typing stops.
  const all = JSON.stringify(Array.from({ length: 20 }, (_, i) => title40(i)).sort());
  await eventually(
    async () => JSON.stringify((await api(first.page, "GET", `/api/workspaces/${wid}/documents`)).map((d) => d.title).sort()) === all,
    { what: "the 20 titles in the stored list", timeout: 20000 },
  );
  await shot(first.page, "title-01-twenty-titles");
  for (const { page, context } of windows) {
    assert.deepEqual(page.errors.filter(notShim), []);
    await context.close();
  }
});

test("two people rename one document at once and both keep their words, live", async () => {
  const { owner: a, member: b, wid } = await ownerAndMember(browserOf(), { owner: "Ann", member: "Ben", workspace: "Together" });
  const doc = await api(a.page, "POST", `/api/workspaces/${wid}/documents`, { title: "Handbook", content: "" });
  await slowNetwork(a.context, { max: 150 });
  await slowNetwork(b.context, { max: 150 });
  for (const p of [a.page, b.page]) {
    await p.goto(`/w/${wid}/d/${doc.id}`);
    await waitSaved(p);
  }
  const inputA = a.page.getByRole("textbox", { name: "Title", exact: true });
  const inputB = b.page.getByRole("textbox", { name: "Title", exact: true });
  await inputA.click();
  await a.page.keyboard.press("Home");
  await inputB.click();
  await b.page.keyboard.press("End");
  await Promise.all([typeSlowly(a.page, "Project "), typeSlowly(b.page, " 2025")]);
  const expected = "Project Handbook 2025";
  for (const p of [a.page, b.page]) {
    await eventually(async () => (await p.getByRole("textbox", { name: "Title", exact: true }).inputValue()) === expected, {
      what: "both renames in each title",
    });
    await waitSaved(p);
    await p.locator(".tree-link", { hasText: expected }).waitFor();
  }
  assert.equal((await api(a.page, "GET", `/api/documents/${doc.id}`)).title, expected);
  await shot(b.page, "title-02-renamed-together");
  assert.deepEqual(a.page.errors.filter(notShim), []);
  assert.deepEqual(b.page.errors.filter(notShim), []);
  await a.context.close();
  await b.context.close();
});
