// Editing help, as someone who does not know Markdown uses it: the toolbar and the shortcuts
// put Markdown around the selection, "/" at the start of a line opens the insert menu, "?"
// shows the shortcuts, pasting HTML gives Markdown, and the word count follows. The server
// keeps exactly the Markdown that was made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, createWorkspace, eventually, newPage, shot, signUp, typeSlowly, uniqueEmail, waitSaved } from "./lib.mjs";

const browserOf = browserForFile();

test("toolbar, shortcuts, slash menu, ? sheet, HTML paste and word count", async () => {
  const { page } = await newPage(browserOf(), { name: "writer" });
  await signUp(page, { name: "Wren Writer", email: uniqueEmail("edit") });
  const wid = await createWorkspace(page, "Writing");
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Help", content: "" });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await page.getByTestId("toolbar").waitFor();
  const content = page.locator(".cm-content");
  await content.click();

  // Slash menu at the start of a line.
  await typeSlowly(page, "/head");
  await page.locator(".cm-tooltip-autocomplete li", { hasText: "Heading 2" }).click();
  await typeSlowly(page, "Plan");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter");
  // The toolbar's Bold with nothing selected inserts a placeholder, selected: type over it.
  await page.getByRole("button", { name: "Bold" }).click();
  await typeSlowly(page, "strong");
  await page.keyboard.press("End");
  await typeSlowly(page, " and ");
  // Ctrl+I with nothing selected: the same for italic.
  await page.keyboard.press("Control+i");
  await typeSlowly(page, "soft");
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");
  await typeSlowly(page, "a task");
  await page.keyboard.press("Control+Shift+9");
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");

  // Pasting HTML (as from a web page) gives Markdown.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.setData("text/html", '<p>Pasted <b>rich</b> <a href="https://example.com/">text</a></p>');
    data.setData("text/plain", "Pasted rich text");
    document.querySelector(".cm-content").dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await waitSaved(page);
  // Enter after a task continues the list, so the pasted line is a task too.
  const expected = "## Plan\n\n**strong** and *soft*\n- [ ] a task\n- [ ] Pasted **rich** [text](https://example.com/)";
  let kept = "";
  await eventually(async () => (kept = (await api(page, "GET", `/api/documents/${doc.id}`)).content) === expected, {
    what: "the Markdown on the server",
  }).catch(() => assert.equal(kept, expected));
  assert.match(await page.getByTestId("word-count").textContent(), /^9 words · 1 min read$/);

  // "?" outside the text shows the shortcuts.
  await page.getByRole("textbox", { name: "Title", exact: true }).focus();
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("?");
  await page.getByTestId("shortcuts").waitFor();
  assert.match(await page.getByTestId("shortcuts").textContent(), /Ctrl\/Cmd \+ B\s*Bold/);
  await shot(page, "editing-help");
});
