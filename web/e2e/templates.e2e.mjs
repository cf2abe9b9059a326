// A template: a document is made a template from its menu; "New from template" in the sidebar
// lists the workspace's templates and makes a copy with {{date}} and {{author}} filled in,
// which the server keeps; the template itself is unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, createWorkspace, eventually, newPage, shot, signUp, uniqueEmail } from "./lib.mjs";

const browserOf = browserForFile();

test("make a template, then a document from it", async () => {
  const { page } = await newPage(browserOf(), { name: "templater" });
  await signUp(page, { name: "Tia Templater", email: uniqueEmail("tpl") });
  const wid = await createWorkspace(page, "Templates");
  const tpl = await api(page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Standup {{date}}", content: "# Standup {{date}}\n\nHost: {{author}}\n",
  });
  await page.goto(`/w/${wid}/d/${tpl.id}`);
  await page.getByRole("button", { name: "More actions" }).click();
  await page.getByRole("menuitem", { name: "Make template" }).click();
  await eventually(async () => (await api(page, "GET", `/api/documents/${tpl.id}/template`)).template, { what: "marked" });

  await page.getByRole("button", { name: "New from template" }).click();
  const before = page.url();
  await page.getByTestId("templates").getByRole("button", { name: "Standup {{date}}" }).click();
  await page.waitForURL((url) => url.href !== before && /\/d\//.test(url.pathname) && !url.pathname.endsWith(tpl.id));
  const id = new URL(page.url()).pathname.split("/d/")[1];
  const today = new Date().toISOString().slice(0, 10);
  const made = await api(page, "GET", `/api/documents/${id}`);
  assert.equal(made.title, `Standup ${today}`);
  assert.equal(made.content, `# Standup ${today}\n\nHost: Tia Templater\n`);
  await eventually(async () => (await page.getByRole("textbox", { name: "Title", exact: true }).inputValue()) === `Standup ${today}`, { what: "the copy opened" });
  await page.locator(".tree-link", { hasText: `Standup ${today}` }).waitFor();
  assert.equal((await api(page, "GET", `/api/documents/${tpl.id}`)).content, "# Standup {{date}}\n\nHost: {{author}}\n");
  await shot(page, "template-copy");
});
