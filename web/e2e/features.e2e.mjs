// Version history (keep, preview, restore through the live document), share links (a public
// read-only page, revocable) and full-text search.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { BASE_URL, api, createWorkspace, eventually, launch, newPage, shot, signUp, tokenOf, typeInEditor, uniqueEmail } from "./lib.mjs";

let browser;
let owner;
let wid;
before(async () => {
  browser = await launch();
  owner = await newPage(browser);
  await signUp(owner.page, { name: "Hana Archivist", email: uniqueEmail("history") });
  wid = await createWorkspace(owner.page, "Archive");
});
after(async () => {
  await browser?.close();
});

const editorHas = (page, text) => async () => (await page.locator(".cm-content").textContent()).includes(text);

test("version history: keep a version, preview it, restore it into the open editor", async () => {
  const { page } = owner;
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Charter", content: "# Charter\n\nFirst draft." });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await page.getByRole("button", { name: "Split", exact: true }).click();
  await eventually(editorHas(page, "First draft."), { what: "the text" });

  await page.getByRole("button", { name: "History", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Version history" });
  await dialog.getByLabel("Version label").fill("first");
  await dialog.getByRole("button", { name: "Save version" }).click();
  await dialog.locator(".version-row", { hasText: "first" }).waitFor();
  await dialog.getByRole("button", { name: "Close" }).click();

  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+a");
  await page.keyboard.type("# Charter\n\nRewritten entirely.");
  await page.getByTestId("sync-state").and(page.locator("[data-state=saved]")).waitFor();
  await eventually(async () => (await api(page, "GET", `/api/documents/${doc.id}`)).content.includes("Rewritten"), {
    what: "the rewrite on the server",
  });

  await page.getByRole("button", { name: "History", exact: true }).click();
  await dialog.locator(".version-row", { hasText: "first" }).click();
  await dialog.getByText("First draft.").waitFor();
  await shot(page, "features-01-history");
  // The changes restoring it would make, as a diff of the current text.
  await dialog.getByRole("button", { name: "Changes", exact: true }).click();
  const diff = dialog.getByTestId("version-diff");
  await diff.locator(".diff-add", { hasText: "+First draft." }).waitFor();
  await diff.locator(".diff-del", { hasText: "-Rewritten entirely." }).waitFor();
  await shot(page, "features-01b-history-changes");
  // Restoring asks first.
  await dialog.getByRole("button", { name: "Restore this version" }).click();
  await dialog.getByRole("alertdialog", { name: "Restore this version?" }).getByRole("button", { name: "Restore", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
  // The restore goes through the live document: the open editor shows it without a reload.
  await eventually(editorHas(page, "First draft."), { what: "the restored text in the editor" });
  assert.ok(!(await editorHas(page, "Rewritten")()));
  // The text it replaced was kept, named after the version that came back (not an id).
  await page.getByRole("button", { name: "History", exact: true }).click();
  await page.getByRole("dialog", { name: "Version history" }).locator(".version-row", { hasText: "Before restoring “first”" }).waitFor();
  await page.keyboard.press("Escape");
  assert.deepEqual(page.errors, []);
});

// A 1×1 PNG: an image of the shared document.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

test("share link: a public read-only page for anyone, like the reader, until revoked", async () => {
  const { page } = owner;
  const token = await tokenOf(page);
  const upload = await page.request.post(`${BASE_URL}/api/workspaces/${wid}/files`, {
    headers: { Authorization: `Bearer ${token}` },
    multipart: { file: { name: "dot.png", mimeType: "image/png", buffer: PNG } },
  });
  assert.equal(upload.status(), 201);
  const image = await upload.json();
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Public note",
    content:
      "# Public note\n\n| shared | table |\n|---|---|\n| yes | 1 |\n\n" +
      "```python\ndef greet():\n    return 'hi'\n```\n\nEuler: $e^{i\\pi}+1=0$\n\n" +
      "```mermaid\ngraph TD; Draft-->Shared\n```\n\n" +
      `![a dot](${image.url})\n`,
  });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Share" });
  await dialog.getByRole("button", { name: "Create a share link" }).click();
  const url = await dialog.getByTestId("share-url").first().inputValue();
  assert.match(url, /\/s\/[^/]+$/);
  await shot(page, "features-02-share");

  // Someone signed out opens it on this server: the reader's look, code highlighted, math
  // and the diagram rendered, the image loaded, the title once, nothing refused by the CSP.
  const visitor = await newPage(browser);
  const path = new URL(url).pathname;
  const response = await visitor.page.goto(`${BASE_URL}${path}`);
  assert.equal(response.status(), 200);
  const v = visitor.page;
  await v.locator("table").getByText("shared").waitFor();
  await v.locator("code.hljs .hljs-keyword", { hasText: "def" }).waitFor();
  await v.locator(".math .katex").first().waitFor();
  await v.locator(".mermaid-block svg").waitFor();
  await eventually(() => v.locator("img[alt='a dot']").evaluate((img) => img.complete && img.naturalWidth === 1), {
    what: "the document's image for an anonymous reader",
  });
  assert.equal(await v.locator("h1", { hasText: "Public note" }).count(), 1);
  assert.equal(await v.locator("article.markdown-body").evaluate((el) => getComputedStyle(el).lineHeight), `${16 * 1.7}px`);
  assert.equal(await v.locator('meta[property="og:title"]').getAttribute("content"), "Public note");
  await shot(v, "features-03-shared-page");
  await v.setViewportSize({ width: 390, height: 800 });
  await shot(v, "features-03b-shared-page-phone");
  assert.deepEqual(v.errors, []);

  await dialog.getByRole("button", { name: "Revoke" }).click();
  await dialog.getByRole("button", { name: "Create a share link" }).waitFor();
  const gone = await v.goto(`${BASE_URL}${path}`);
  assert.equal(gone.status(), 404);
  const file = await v.request.get(`${BASE_URL}${path}/files/${image.id}`);
  assert.equal(file.status(), 404);
  await visitor.context.close();
});

test("search finds words inside documents, with the match highlighted", async () => {
  const { page } = owner;
  await api(page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Minutes",
    content: "We discussed the zeppelin budget at length.",
  });
  await page.goto(`/w/${wid}`);
  await page.locator(".tree-link", { hasText: "Minutes" }).waitFor();
  await page.keyboard.press("Control+k");
  const dialog = page.getByRole("dialog", { name: "Search" });
  await dialog.getByLabel("Search documents").fill("zeppelin");
  const row = dialog.locator(".search-row", { hasText: "Minutes" });
  await row.waitFor();
  assert.equal(await row.locator("mark").first().textContent(), "zeppelin");
  await shot(page, "features-04-search");
  await row.click();
  await page.locator(".breadcrumbs", { hasText: "Minutes" }).waitFor();
});
