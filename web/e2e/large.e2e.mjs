// A long document (about 600 KB) with the preview open, as someone edits it: typing at its end,
// at its start and in its middle shows in the preview (which parses the text again only around
// each change; a fence opened in the middle turns the rest into code, and taking it back brings
// the rest back), the word count follows what was typed, Ctrl+F searches (the search code loads
// on that key), and after a reload the server and the editor have exactly the text typed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, createWorkspace, editorText, eventually, newPage, shot, signUp, typeSlowly, uniqueEmail, waitSaved } from "./lib.mjs";

const browserOf = browserForFile();

/** Realistic Markdown of about `size` characters: headings, prose, lists, tables, code. */
function longMarkdown(size) {
  let out = "";
  for (let i = 1; out.length < size; i++) {
    out +=
      `## Section ${i}\n\nParagraph ${i} with **bold**, *emphasis* and [a link](https://example.com/${i}). ` +
      "Lorem ipsum dolor sit amet. ".repeat(6) +
      `\n\n- item one of ${i}\n- item two\n  - nested item\n\n| key | value |\n|-----|-------|\n| a${i} | ${i * 7} |\n\n` +
      `\`\`\`python\ndef section_${i}(x):\n    return x * ${i}\n\`\`\`\n\n`;
  }
  return `${out}Last line of the text.\n`;
}

const words = async (page) => Number((await page.getByTestId("word-count").textContent()).match(/^([\d,]+) words/)[1].replace(/,/g, ""));

test("typing in a long document with the preview open, then reloading, keeps the exact text", async () => {
  const { page } = await newPage(browserOf(), { name: "long" });
  await signUp(page, { name: "Lena Long", email: uniqueEmail("long") });
  const wid = await createWorkspace(page, "Long texts");
  const text = longMarkdown(600_000);
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Long", content: text });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await waitSaved(page, 60000);
  const preview = page.getByTestId("preview");
  await preview.locator("h2", { hasText: "Section 1" }).first().waitFor({ timeout: 60000 });
  await eventually(async () => (await words(page)) > 50_000, { timeout: 60000, what: "the long text's word count" });
  const counted = await words(page);

  // At the end: a paragraph, then a fence opened and closed (it changes the blocks after it).
  const content = page.locator(".cm-content");
  await content.click();
  await page.keyboard.press("Control+End");
  await typeSlowly(page, "\nTyped at the end with **care** today.", { low: 20, high: 60 });
  await eventually(async () => (await preview.locator("strong", { hasText: "care" }).count()) === 1, {
    timeout: 30000,
    what: "the end's edit in the preview",
  });
  await eventually(async () => (await words(page)) === counted + 7, { timeout: 30000, what: "the word count after typing at the end" });

  // At the start: a heading above everything.
  await page.keyboard.press("Control+Home");
  await typeSlowly(page, "# Front matter\n\n", { low: 20, high: 60 });
  await eventually(async () => (await preview.locator("h1").first().textContent()) === "Front matter", {
    timeout: 30000,
    what: "the start's edit in the preview",
  });

  // In the middle, found with the search panel (its code loads on Ctrl+F): a line opening a
  // fence turns what follows into code until the next fence, and closing it brings it back.
  await page.keyboard.press("Control+f");
  const field = page.locator(".cm-search input[name=search]");
  await field.waitFor();
  await page.keyboard.type("Paragraph 300 with", { delay: 10 });
  await page.keyboard.press("Enter");
  await page.keyboard.press("Escape");
  await page.locator(".cm-search").waitFor({ state: "detached" });
  await page.keyboard.press("Home");
  await typeSlowly(page, "Inserted in the middle, *gently*.\n\n", { low: 20, high: 60 });
  await eventually(async () => (await preview.locator("em", { hasText: "gently" }).count()) === 1, {
    timeout: 30000,
    what: "the middle's edit in the preview",
  });
  const paragraph300 = () => preview.locator("p", { hasText: "Paragraph 300 with" });
  await eventually(async () => (await paragraph300().count()) === 1, { what: "the paragraph after it" }).catch(async (e) => {
    console.error((await preview.innerText()).slice(0, 3000));
    await shot(page, "large-debug");
    throw e;
  });
  await page.keyboard.type("```");
  await page.keyboard.press("Enter");
  await eventually(async () => (await paragraph300().count()) === 0 && (await preview.locator("code", { hasText: "Paragraph 300 with" }).count()) === 1, {
    timeout: 30000,
    what: "the text after an opened fence shown as code",
  });
  for (let i = 0; i < 4; i++) await page.keyboard.press("Backspace");
  await eventually(async () => (await paragraph300().count()) === 1, { timeout: 30000, what: "the fence taken back" });
  await waitSaved(page, 60000);

  const expected = `# Front matter\n\n${text.replace("Paragraph 300 with", "Inserted in the middle, *gently*.\n\nParagraph 300 with")}\nTyped at the end with **care** today.`;
  let kept = "";
  await eventually(async () => (kept = (await api(page, "GET", `/api/documents/${doc.id}`)).content) === expected, {
    timeout: 30000,
    what: "the typed text on the server",
  }).catch(() => assert.equal(kept.length, expected.length));
  await shot(page, "large-typed");

  await page.reload();
  await waitSaved(page, 60000);
  await preview.locator("h1", { hasText: "Front matter" }).waitFor({ timeout: 60000 });
  // The editor shows the text's start and end as typed.
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+Home");
  await eventually(async () => (await editorText(page)).startsWith("# Front matter\n\n## Section 1"), { what: "the editor's first lines" });
  await page.keyboard.press("Control+End");
  await eventually(async () => (await editorText(page)).endsWith("Last line of the text.\n\nTyped at the end with **care** today."), {
    what: "the editor's last lines",
  });
  assert.equal((await api(page, "GET", `/api/documents/${doc.id}`)).content, expected);
  assert.deepEqual(page.errors, []);
});
