// Nothing typed is lost with the tab: edits the server has not acknowledged yet stay in this
// browser (IndexedDB) and reach the server when the document is opened again; leaving the
// page while they wait asks first; "Saved" shows only once the server acknowledged.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  api, browserForFile, createWorkspace, eventually, newPage, shot, signUp, slowNetwork, uniqueEmail, waitSaved,
} from "./lib.mjs";

const browserOf = browserForFile();

/** How many Yjs updates this browser keeps for the document (y-indexeddb's store). */
function storedUpdates(page) {
  return page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith("mdreader:"));
    let count = 0;
    for (const name of names) {
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      count += await new Promise((resolve) => {
        const request = db.transaction("updates").objectStore("updates").count();
        request.onsuccess = () => resolve(request.result);
      });
      db.close();
    }
    return count;
  });
}

test("a tab closed before the server acknowledged: the edits arrive on the next open", async () => {
  const { page, context } = await newPage(browserOf(), { name: "writer" });
  await signUp(page, { name: "Wren Writer", email: uniqueEmail("offline") });
  const wid = await createWorkspace(page, "Drafts");
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Letter", content: "Dear all," });
  const net = await slowNetwork(context, { max: 50 });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await page.getByRole("button", { name: "Write", exact: true }).click();
  await waitSaved(page);

  // The server gets nothing from now on: what is typed is not acknowledged.
  net.hold = true;
  const before = await storedUpdates(page);
  const content = page.locator(".cm-content");
  await content.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(" see you soon.", { delay: 20 });
  const title = page.getByRole("textbox", { name: "Title", exact: true });
  await title.click();
  await page.keyboard.press("End");
  await page.keyboard.type(" to the team", { delay: 20 });
  // Not "Saved" while the server has not acknowledged.
  await page.getByTestId("sync-state").and(page.locator("[data-state=syncing]")).waitFor();
  const server = await api(page, "GET", `/api/documents/${doc.id}`);
  assert.equal(server.content, "Dear all,");
  assert.equal(server.title, "Letter");
  await eventually(async () => (await storedUpdates(page)) >= before + 26, { what: "the edits kept in IndexedDB" });

  // Leaving asks first.
  const asked = new Promise((resolve) => page.once("dialog", (d) => resolve(d.type())));
  await page.close({ runBeforeUnload: true });
  assert.equal(await asked, "beforeunload");
  await shot(page, "offline-01-unsaved").catch(() => {});
  // The person leaves anyway (the tab is gone without another word).
  await page.close();

  // Later, with the network back, the document is opened again in this browser.
  net.discard(); // what the closed tab had sent never arrives
  const again = await context.newPage();
  await again.goto(`/w/${wid}/d/${doc.id}`);
  await waitSaved(again);
  await eventually(async () => {
    const d = await api(again, "GET", `/api/documents/${doc.id}`);
    return d.content === "Dear all, see you soon." && d.title === "Letter to the team";
  }, { what: "the edits of the closed tab on the server" });
  await eventually(async () => (await again.locator(".cm-content").textContent()).includes("see you soon."), {
    what: "the text in the editor",
  });
  await shot(again, "offline-02-recovered");
  await context.close();
});
