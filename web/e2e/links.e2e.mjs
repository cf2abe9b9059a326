// A wikilink and its backlink: in one document "[[" offers the workspace's titles; picking one
// writes a link by id. The linked document's "Linked from" lists the first; renaming the
// target breaks nothing (the link still opens it); a typed [[Title]] shows as a link too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, createWorkspace, eventually, newPage, pickCompletion, shot, signUp, typeSlowly, uniqueEmail, waitSaved } from "./lib.mjs";

const browserOf = browserForFile();

test("a wikilink from the editor, its backlink, and a rename that breaks nothing", async () => {
  const { page } = await newPage(browserOf(), { name: "linker" });
  await signUp(page, { name: "Lin Linker", email: uniqueEmail("links") });
  const wid = await createWorkspace(page, "Links");
  const target = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Release checklist", content: "1. Tag\n" });
  const source = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Weekly notes", content: "Notes\n" });

  await page.goto(`/w/${wid}/d/${source.id}`);
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+End");
  await typeSlowly(page, "See [[Release");
  await pickCompletion(page, "Release checklist");
  await typeSlowly(page, " and [[Weekly notes]].");
  await waitSaved(page);
  const stored = await eventually(async () => {
    const d = await api(page, "GET", `/api/documents/${source.id}`);
    return d.content.includes(`See [Release checklist](/d/${target.id}) and [[Weekly notes]].`);
  }, { what: "the link by id in the stored text" });
  assert.ok(stored);
  // The preview shows both as links.
  const preview = page.getByTestId("preview");
  await preview.locator(`a[href="/d/${target.id}"]`).waitFor();
  await preview.locator(`a[href="/d/${source.id}"]`, { hasText: "Weekly notes" }).waitFor();

  // The target lists it under "Linked from", once the edit is stored (seconds).
  await eventually(async () => (await api(page, "GET", `/api/documents/${target.id}/backlinks`)).length === 1, {
    timeout: 30000, what: "the backlink stored",
  });
  await page.goto(`/w/${wid}/d/${target.id}`);
  await page.getByTestId("linked-from").getByRole("link", { name: "Weekly notes" }).waitFor();

  // Renaming the target breaks no link: the source's link still opens it.
  await api(page, "PATCH", `/api/documents/${target.id}`, { title: "Release checklist v2" });
  await page.goto(`/w/${wid}/d/${source.id}`);
  await preview.locator(`a[href="/d/${target.id}"]`).click();
  await page.waitForURL((url) => url.pathname === `/w/${wid}/d/${target.id}`);
  await eventually(async () => (await page.getByRole("textbox", { name: "Title", exact: true }).inputValue()) === "Release checklist v2", { what: "the renamed target opened" });
  await shot(page, "links-backlink");
});
