// The web app behaves the way people expect: dialogs take the keyboard, menus close, a new
// document's title is ready for typing, banners and controls follow what changed elsewhere,
// trashing asks, task boxes tick in the text, and an invitation fills in the e-mail. Partly
// on a phone-sized screen.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api, browserForFile, ownerAndMember, createWorkspace, eventually, localPath, mailedLinks, newDocument, newPage, shot, signUp, uniqueEmail, waitSaved,
} from "./lib.mjs";

const browserOf = browserForFile();

const focusedLabel = (page) => page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.tagName);

test("dialogs, menus and a new document take the keyboard where a person expects", async () => {
  const { page, context } = await newPage(browserOf(), { name: "keys" });
  await signUp(page, { name: "Kim Keys", email: uniqueEmail("keys") });
  const wid = await createWorkspace(page, "Keyboard");
  await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Harvest notes", content: "apples and pears" });
  const first = await newDocument(page, "First page");

  // Ctrl+K, then typing: the words go into the search field.
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+k");
  await page.keyboard.type("harvest");
  const dialog = page.getByRole("dialog", { name: "Search" });
  assert.equal(await dialog.getByLabel("Search documents").inputValue(), "harvest");
  await dialog.locator(".search-row", { hasText: "Harvest notes" }).waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });

  // The tree's "…" menu closes on Escape, on a press elsewhere, and on navigation.
  const tree = page.locator("nav.sidebar-tree");
  const openMenu = async () => {
    await tree.locator(".tree-row", { hasText: "Harvest notes" }).hover();
    await page.getByRole("button", { name: "Actions for Harvest notes" }).click();
    await page.getByRole("menuitem", { name: "Rename" }).waitFor();
  };
  const menuGone = () => page.getByRole("menuitem", { name: "Rename" }).waitFor({ state: "detached" });
  await openMenu();
  await page.keyboard.press("Escape");
  await menuGone();
  await openMenu();
  await page.locator(".doc-body").click({ position: { x: 5, y: 5 } });
  await menuGone();
  await openMenu();
  await page.goBack(); // navigation (here the browser's Back button)
  await menuGone();

  // A document made from the sidebar while another is open: its own title has the focus.
  await tree.locator(".tree-link", { hasText: "First page" }).click();
  await page.waitForURL(new RegExp(`/d/${first}`));
  await waitSaved(page);
  await page.getByRole("button", { name: "New document" }).first().click();
  await page.waitForURL((url) => !url.pathname.endsWith(first) && /\/d\//.test(url.pathname));
  const title = page.getByRole("textbox", { name: "Title", exact: true });
  await eventually(async () => (await focusedLabel(page)) === "Title", { what: "the new title focused" });
  await page.keyboard.type("Second page");
  await waitSaved(page);
  const second = new URL(page.url()).pathname.split("/d/")[1];
  assert.equal((await api(page, "GET", `/api/documents/${second}`)).title, "Second page");
  assert.equal((await api(page, "GET", `/api/documents/${first}`)).title, "First page");
  assert.equal(await title.inputValue(), "Second page");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the verify banner goes once verified, in every tab", async () => {
  const email = uniqueEmail("banner");
  const a = await newPage(browserOf(), { name: "tab-a" });
  await signUp(a.page, { name: "Val Verify", email });
  const wid = await createWorkspace(a.page, "Banners");
  const banner = a.page.getByText("Please verify your e-mail address");
  await banner.waitFor();
  // A second tab of the same browser opens the link from the e-mail.
  const tab = await a.context.newPage();
  const link = await eventually(() => mailedLinks(email).find((l) => l.includes("/verify-email?token=")), { what: "the mail" });
  await tab.goto(localPath(link));
  await tab.getByText("Your e-mail address is verified.").waitFor();
  await banner.waitFor({ state: "detached" });
  await tab.goto(`/w/${wid}`);
  await tab.locator(".ws-name", { hasText: "Banners" }).waitFor();
  assert.equal(await tab.getByText("Please verify your e-mail address").count(), 0);
  assert.deepEqual(a.page.errors, []);
  await a.context.close();
});

test("a member demoted to viewer loses the controls at once; trash asks; admins delete for good", async () => {
  const { owner, member, wid, memberId } = await ownerAndMember(browserOf(), {
    workspace: "Roles",
    memberViewport: { width: 390, height: 800 },
  });
  const doc = await api(owner.page, "POST", `/api/workspaces/${wid}/documents`, {
    title: "Chores",
    content: "- [ ] sweep\n- [x] dust\n",
  });

  // On a phone, the editor ticks a task in the reader: the text changes.
  const m = member.page;
  await m.goto(`/w/${wid}/d/${doc.id}`);
  await waitSaved(m);
  await m.getByRole("button", { name: "Read", exact: true }).click();
  const sweep = m.getByTestId("reader").locator("li", { hasText: "sweep" }).locator("input[type=checkbox]");
  await eventually(async () => !(await sweep.isDisabled()), { what: "the task box clickable for an editor" });
  await sweep.click();
  await eventually(async () => (await api(owner.page, "GET", `/api/documents/${doc.id}`)).content === "- [x] sweep\n- [x] dust\n", {
    what: "the ticked task in the text",
  });
  await shot(m, "ux-01-task-ticked-phone");

  // Demoted to viewer while the page is open: the editing controls go without a reload.
  await m.getByRole("button", { name: "Write", exact: true }).waitFor();
  await api(owner.page, "PATCH", `/api/workspaces/${wid}/members/${memberId}`, { role: "viewer" });
  await m.getByRole("button", { name: "Write", exact: true }).waitFor({ state: "detached", timeout: 15000 });
  await eventually(async () => await sweep.isDisabled(), { what: "the task box read-only for a viewer" });
  await m.getByRole("button", { name: "Open the menu" }).click();
  assert.equal(await m.getByRole("button", { name: "New document" }).count(), 0);
  await shot(m, "ux-02-demoted-phone");

  // Trashing asks; the admin (owner) deletes it for good from the trash.
  const o = owner.page;
  await o.goto(`/w/${wid}/d/${doc.id}`);
  await o.getByRole("button", { name: "More actions" }).click();
  await o.getByRole("menuitem", { name: "Move to trash" }).click();
  const ask = o.getByRole("dialog", { name: "Move to the trash?" });
  await ask.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await api(o, "GET", `/api/workspaces/${wid}/documents`)).length, 1);
  await o.getByRole("button", { name: "More actions" }).click();
  await o.getByRole("menuitem", { name: "Move to trash" }).click();
  await ask.getByRole("button", { name: "Move to trash" }).click();
  await o.waitForURL(new RegExp(`/w/${wid}$`));
  await o.getByRole("link", { name: "Trash" }).click();
  await o.locator(".list-row", { hasText: "Chores" }).getByRole("button", { name: "Delete for good" }).click();
  await o.getByRole("dialog", { name: "Delete for good?" }).getByRole("button", { name: "Delete for good" }).click();
  await o.getByText("The trash is empty.").waitFor();
  assert.deepEqual(await api(o, "GET", `/api/workspaces/${wid}/trash`), []);
  assert.deepEqual(o.errors, []);
  assert.deepEqual(m.errors, []);
  await owner.context.close();
  await member.context.close();
});

test("an invitation fills in the e-mail; offline clears when the network is back", async () => {
  const owner = await newPage(browserOf(), { name: "inviter" });
  await signUp(owner.page, { name: "Ivy Inviter", email: uniqueEmail("inviter") });
  const wid = await createWorkspace(owner.page, "Invites");
  const invitee = uniqueEmail("invitee");
  await api(owner.page, "POST", `/api/workspaces/${wid}/members`, { email: invitee, role: "editor" });
  const link = await eventually(() => mailedLinks(invitee).find((l) => l.includes("/invite?token=")), { what: "the invitation" });
  const guest = await newPage(browserOf(), { name: "guest", viewport: { width: 390, height: 800 } });
  await guest.page.goto(localPath(link));
  await guest.page.getByRole("link", { name: "Create an account" }).click();
  assert.equal(await guest.page.getByLabel("E-mail").inputValue(), invitee);
  await guest.page.getByLabel("Name").fill("Gus Guest");
  await guest.page.getByLabel("Password").fill("Correct-Horse-7");
  await guest.page.getByRole("button", { name: "Create account" }).click();
  await guest.page.locator(".mobile-title", { hasText: "Invites" }).waitFor();

  // Offline, then back: the indicator says saved again without waiting out a back-off.
  const doc = await api(owner.page, "POST", `/api/workspaces/${wid}/documents`, { title: "Net", content: "x" });
  const p = owner.page;
  await p.goto(`/w/${wid}/d/${doc.id}`);
  await waitSaved(p);
  await owner.context.setOffline(true);
  await p.evaluate(() => window.dispatchEvent(new Event("offline")));
  await p.getByTestId("sync-state").and(p.locator("[data-state=offline]")).waitFor();
  await owner.context.setOffline(false);
  await p.evaluate(() => window.dispatchEvent(new Event("online")));
  await waitSaved(p, 10000);
  await owner.context.close();
  await guest.context.close();
});
