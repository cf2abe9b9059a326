// A comment thread from a selection to resolve, as two people use it: the owner selects words
// in the editor and comments on them; the member, with the same document open, sees the
// thread appear without reloading, replies; the owner sees the reply, resolves it. Text typed
// before the range moves it (the quote still selects the right words), deleting the words
// keeps the thread, marked. Over a slow, uneven network; the server's list is compared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, eventually, ownerAndMember, shot, slowNetwork, typeSlowly, waitSaved } from "./lib.mjs";

const browserOf = browserForFile();

/** Select `words` in the editor as a mouse drag would (the DOM selection, which CodeMirror follows). */
async function selectWords(page, words) {
  await page.evaluate((w) => {
    const walker = document.createTreeWalker(document.querySelector(".cm-content"), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.textContent.indexOf(w);
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + w.length);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      return;
    }
    throw new Error(`no ${w} in the editor`);
  }, words);
  // CodeMirror reads the DOM selection on selectionchange, then draws it.
  await eventually(() => page.locator(".cm-selectionBackground").count(), { what: "the editor's selection" });
}

test("a thread from selection to resolve, live for both", async () => {
  const { owner, member, wid } = await ownerAndMember(browserOf(), { role: "editor" });
  const doc = await api(owner.page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Budget", content: "Intro.\n\nThe budget is tight this year.\n",
  });
  await slowNetwork(owner.context, { max: 200 });
  await slowNetwork(member.context, { max: 200 });
  for (const { page } of [owner, member]) {
    await page.goto(`/w/${wid}/d/${doc.id}`);
    await page.locator(".cm-content").waitFor();
    await eventually(async () => (await page.locator(".cm-content").textContent()).includes("budget"), { what: "the text" });
    await page.getByTestId("comments-toggle").click();
    await page.getByTestId("comments").waitFor();
  }

  // Select "budget" in the owner's editor (double-click selects the word) and comment.
  await owner.page.locator(".cm-content").click();
  await selectWords(owner.page, "budget");
  const selected = await owner.page.evaluate(() => window.getSelection()?.toString());
  assert.equal(selected, "budget");
  await owner.page.getByRole("textbox", { name: "New comment" }).click();
  await typeSlowly(owner.page, "Which budget is this?");
  await owner.page.getByTestId("comment-submit").click();
  const thread = owner.page.getByTestId("thread");
  await thread.waitFor();
  const quote = (await thread.locator(".thread-quote").textContent()) ?? "";
  assert.ok(quote.includes(selected.trim()), `the thread quotes the selection (${quote} / ${selected})`);

  // The member sees it appear, live, and replies.
  const memberThread = member.page.getByTestId("thread");
  await memberThread.waitFor({ timeout: 15000 });
  assert.match(await memberThread.textContent(), /Which budget is this\?/);
  await memberThread.getByRole("textbox", { name: "Reply" }).click();
  await typeSlowly(member.page, "The **Q3** one");
  await member.page.keyboard.press("Enter");
  await eventually(async () => (await thread.locator("[data-testid=comment]").count()) === 2, { what: "the reply at the owner's", timeout: 15000 });
  assert.match(await thread.locator("strong", { hasText: "Q3" }).textContent(), /Q3/);

  // Text typed before the range: the thread still selects the words it was about.
  await owner.page.locator(".cm-content").click();
  await owner.page.keyboard.press("Control+Home");
  await typeSlowly(owner.page, "Ünïcode 😀 first. ");
  await waitSaved(owner.page);
  await thread.locator(".thread-quote").click();
  const reselected = await owner.page.evaluate(() => window.getSelection()?.toString());
  assert.equal(reselected, selected, "the anchor followed the edit");

  // Resolve: it leaves the open list for both, and the server says so.
  await thread.getByRole("button", { name: "Resolve" }).click();
  await eventually(async () => (await member.page.getByTestId("thread").count()) === 0, { what: "resolved at the member's", timeout: 15000 });
  const [kept] = await api(owner.page, "GET", `/api/documents/${doc.id}/comments`);
  assert.ok(kept.resolved_at, "resolved on the server");
  assert.deepEqual(kept.replies.map((r) => r.body), ["The **Q3** one"]);
  assert.equal(kept.body, "Which budget is this?");

  // Reopened, and its words deleted: it stays, marked.
  await member.page.getByLabel("Resolved").check();
  await member.page.getByTestId("thread").getByRole("button", { name: "Reopen" }).click();
  await eventually(async () => (await owner.page.getByTestId("thread").count()) === 1, { what: "reopened at the owner's", timeout: 15000 });
  const text = await owner.page.evaluate(() => document.querySelector(".cm-content").innerText);
  assert.ok(text.includes(selected));
  await thread.locator(".thread-quote").click(); // selects the words
  await owner.page.keyboard.press("Delete");
  await waitSaved(owner.page);
  // The next announcement (a reply) brings the list again with the thread marked.
  await api(member.page, "POST", `/api/documents/${doc.id}/comments/${kept.id}/replies`, { body: "gone?" });
  await owner.page.getByTestId("orphaned").waitFor({ timeout: 15000 });
  await shot(owner.page, "comments-orphaned");
});
