// The workspace around the documents: the tree (create, rename, drag to move, trash and
// restore), the workspace switcher, search with Ctrl+K, and a phone-sized screen.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, createWorkspace, eventually, launch, newDocument, newPage, shot, signUp, uniqueEmail } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const parentOf = async (page, wid, title) => {
  const docs = await api(page, "GET", `/api/workspaces/${wid}/documents`);
  const doc = docs.find((d) => d.title === title);
  return doc ? docs.find((d) => d.id === doc.parent_id)?.title ?? null : undefined;
};

test("the document tree: create, rename, drag to move, trash, restore", async () => {
  const { page, context } = await newPage(browser);
  await signUp(page, { name: "Tina Tree", email: uniqueEmail("tree") });
  const wid = await createWorkspace(page, "Garden");
  const tree = page.locator("nav.sidebar-tree");

  // Two documents from the sidebar button, a third inside the first with its row's "+".
  await newDocument(page, "Roots");
  await newDocument(page, "Leaves");
  await tree.locator(".tree-row", { hasText: "Roots" }).hover();
  await newDocument(page, "Tap root", page.getByRole("button", { name: "New document inside Roots" }));
  await eventually(async () => (await parentOf(page, wid, "Tap root")) === "Roots", { what: "Tap root under Roots" });
  await page.locator(".breadcrumbs").getByRole("link", { name: "Roots" }).waitFor();

  // Rename by double-clicking a row.
  await tree.locator(".tree-link", { hasText: "Leaves" }).dblclick();
  const input = tree.getByRole("textbox", { name: "New title" });
  await input.fill("Foliage");
  await input.press("Enter");
  await tree.locator(".tree-link", { hasText: "Foliage" }).waitFor();
  await eventually(async () => (await parentOf(page, wid, "Foliage")) === null, { what: "the rename saved" });

  // Drag "Foliage" onto the middle of "Roots": it moves inside.
  const source = tree.locator(".tree-row", { hasText: "Foliage" });
  const target = tree.locator(".tree-row", { hasText: "Roots" }).first();
  await source.dragTo(target);
  await eventually(async () => (await parentOf(page, wid, "Foliage")) === "Roots", { what: "Foliage moved under Roots" });
  // The tree follows once it has reloaded: Foliage indented under Roots, after Tap root.
  const rows = () => tree.locator(".tree-row").evaluateAll((els) => els.map((e) => [e.textContent.trim(), parseInt(e.style.paddingLeft)]));
  await eventually(async () => {
    const r = await rows();
    return r.map((x) => x[0]).join() === "Roots,Tap root,Foliage" && r[2][1] > r[0][1];
  }, { what: "Foliage shown under Roots" });
  await shot(page, "workspace-01-tree");

  // "Move to…" puts it back at the top level (for touch screens, where dragging is awkward).
  await tree.locator(".tree-row", { hasText: "Foliage" }).hover();
  await page.getByRole("button", { name: "Actions for Foliage" }).click();
  await page.getByRole("menuitem", { name: "Move to…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Top level" }).click();
  await eventually(async () => (await parentOf(page, wid, "Foliage")) === null, { what: "Foliage back at the top" });

  // Trash "Roots" (with its child), then restore it from the trash.
  await tree.locator(".tree-row", { hasText: "Roots" }).first().hover();
  await page.getByRole("button", { name: "Actions for Roots" }).click();
  await page.getByRole("menuitem", { name: "Move to trash" }).click();
  // It asks first.
  const ask = page.getByRole("dialog", { name: "Move to the trash?" });
  await ask.getByText("“Roots” and the documents under it go to the trash.").waitFor();
  await ask.getByRole("button", { name: "Move to trash" }).click();
  await eventually(async () => (await tree.locator(".tree-link", { hasText: "Roots" }).count()) === 0, { what: "Roots gone" });
  assert.equal(await tree.locator(".tree-link", { hasText: "Tap root" }).count(), 0);
  await page.getByRole("link", { name: "Trash" }).click();
  await page.locator(".list-row", { hasText: "Roots" }).waitFor();
  await shot(page, "workspace-02-trash");
  await page.getByRole("button", { name: "Restore" }).click();
  await page.getByText("The trash is empty.").waitFor();
  await tree.locator(".tree-link", { hasText: "Tap root" }).waitFor();
  // Back at its old place: first, as before, with Tap root under it.
  await eventually(async () => (await rows()).map((x) => x[0]).join() === "Roots,Tap root,Foliage", {
    what: "Roots restored to its old place",
  });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("workspace switcher, search with Ctrl+K, members and roles", async () => {
  const { page, context } = await newPage(browser);
  await signUp(page, { name: "Sam Search", email: uniqueEmail("search") });
  const first = await createWorkspace(page, "Alpha");
  await api(page, "POST", `/api/workspaces/${first}/documents`, { title: "Quarterly report", content: "Revenue grew by a *lot*." });
  await api(page, "POST", `/api/workspaces/${first}/documents`, { title: "Holiday plans", content: "Mountains." });

  // A second workspace through the switcher.
  await page.locator(".switcher-btn").click();
  await page.getByRole("menuitem", { name: "+ New workspace" }).click();
  await page.getByRole("dialog").getByLabel("Workspace name").fill("Beta");
  await page.getByRole("dialog").getByRole("button", { name: "Create workspace" }).click();
  await page.locator(".ws-name", { hasText: "Beta" }).waitFor();
  await page.locator(".switcher-btn").click();
  await page.getByRole("menuitem", { name: /Alpha/ }).click();
  await page.locator(".ws-name", { hasText: "Alpha" }).waitFor();
  await page.locator(".tree-link", { hasText: "Quarterly report" }).waitFor();

  // Ctrl+K: find by title (and by text where the server has full-text search).
  await page.keyboard.press("Control+k");
  const dialog = page.getByRole("dialog", { name: "Search" });
  await dialog.getByLabel("Search documents").fill("quarter");
  await dialog.locator(".search-row", { hasText: "Quarterly report" }).waitFor();
  await shot(page, "workspace-03-search");
  await dialog.getByLabel("Search documents").press("Enter");
  await page.waitForURL(/\/d\//);
  await page.locator(".breadcrumbs", { hasText: "Quarterly report" }).waitFor();

  // Members: the owner is listed; inviting an address with no account sends an invitation.
  await page.getByRole("link", { name: "Members" }).click();
  await page.locator(".member-row", { hasText: "Sam Search" }).waitFor();
  await page.getByLabel("E-mail to invite").fill(uniqueEmail("newcomer"));
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByRole("button", { name: "Invite" }).click();
  await page.getByText("an invitation was e-mailed").waitFor();
  await page.getByRole("heading", { name: "Pending invitations" }).waitFor();
  await shot(page, "workspace-04-members");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a phone-sized screen: drawer, editor and reader", async () => {
  const { page, context } = await newPage(browser, { viewport: { width: 390, height: 844 } });
  await signUp(page, { name: "Pia Phone", email: uniqueEmail("phone") });
  const wid = await createWorkspace(page, "Pocket");
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Shopping",
    content: "# Shopping\n\n| item | qty |\n|---|---|\n| milk | 1 |\n\n- [ ] bread\n",
  });
  await page.goto(`/w/${wid}`);
  // The sidebar is a drawer behind the menu button.
  const sidebar = page.locator("aside.sidebar");
  assert.ok(!(await sidebar.evaluate((el) => el.getBoundingClientRect().right > 0)), "the drawer starts closed");
  await page.getByRole("button", { name: "Open the menu" }).click();
  await eventually(() => sidebar.evaluate((el) => el.getBoundingClientRect().left >= 0), { what: "the drawer open" });
  await shot(page, "mobile-01-drawer");
  await page.locator(".tree-link", { hasText: "Shopping" }).click();
  await page.waitForURL(new RegExp(`/d/${doc.id}`));
  await eventually(() => sidebar.evaluate((el) => el.getBoundingClientRect().right <= 0), { what: "the drawer closed" });

  // One pane at a time: the editor, then the reader.
  await page.getByRole("button", { name: "Write", exact: true }).click();
  await page.locator(".cm-content").waitFor();
  await eventually(async () => (await page.locator(".cm-content").textContent()).includes("milk"), { what: "the text" });
  await shot(page, "mobile-02-editor");
  await page.getByRole("button", { name: "Read", exact: true }).click();
  await page.getByTestId("reader").locator("table").waitFor();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling (page is ${width}px wide)`);
  await shot(page, "mobile-03-reader");
  assert.deepEqual(page.errors, []);
  await context.close();
});
