// Live co-editing in two browser contexts (two people): edits and the remote cursor with the
// other's name show up live; the indicator says saved; a reload shows what was written.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  api, createWorkspace, eventually, launch, newDocument, newPage, ownerAndMember, shot, signUp, typeInEditor, uniqueEmail,
} from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function collabAvailable(page) {
  // The server answers the collaboration protocol at /ws (the `collab` branch).
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const ws = new WebSocket(`${location.origin.replace("http", "ws")}/ws`);
        ws.onopen = () => {
          ws.close();
          resolve(true);
        };
        ws.onerror = () => resolve(false);
      }),
  );
}

test("two people edit one document live and see each other's cursor", async () => {
  const a = await newPage(browser, { name: "alice" });
  const b = await newPage(browser, { name: "bob" });
  const alice = a.page;
  const bob = b.page;
  const bobEmail = uniqueEmail("bob");
  await signUp(bob, { name: "Bob Builder", email: bobEmail });
  await signUp(alice, { name: "Alice Liddell", email: uniqueEmail("alice") });
  assert.ok(await collabAvailable(alice), "the server has no collaboration endpoint at /ws");

  const wid = await createWorkspace(alice, "Wonderland");
  // Alice adds Bob (he has an account, so he is a member at once).
  await alice.goto(`/w/${wid}/members`);
  await alice.getByLabel("E-mail to invite").fill(bobEmail);
  await alice.getByRole("button", { name: "Invite" }).click();
  await alice.getByText("Bob Builder is now a member.").waitFor();
  await shot(alice, "collab-01-members");

  // Alice creates a document from the sidebar and names it.
  const did = await newDocument(alice, "Tea party");
  await alice.keyboard.press("Enter");
  await eventually(async () => (await api(alice, "GET", `/api/documents/${did}`)).title === "Tea party", {
    what: "the title saved",
  });

  // Bob opens it from his own sidebar.
  await bob.goto(`/w/${wid}`);
  await bob.locator(".tree-link", { hasText: "Tea party" }).click();
  await bob.locator(".cm-content").waitFor();
  await bob.getByTestId("sync-state").and(bob.locator("[data-state=saved]")).waitFor();

  // Alice types; Bob's editor and preview follow live.
  await typeInEditor(alice, "# Guest list\n\nThe Hatter");
  await eventually(async () => (await bob.locator(".cm-content").textContent()).includes("The Hatter"), {
    what: "Alice's text in Bob's editor",
  });
  await bob.getByTestId("preview").locator("h1", { hasText: "Guest list" }).waitFor();

  // Bob types at the end; Alice sees it, and sees Bob's cursor labelled with his name.
  await typeInEditor(bob, " and the March Hare");
  await eventually(async () => (await alice.locator(".cm-content").textContent()).includes("the March Hare"), {
    what: "Bob's text in Alice's editor",
  });
  const caret = alice.locator(".cm-ySelectionCaret");
  await caret.first().waitFor();
  await eventually(async () => (await alice.locator(".cm-ySelectionInfo").allTextContents()).includes("Bob Builder"), {
    what: "Bob's name on his cursor",
  });
  // Both avatars: Alice sees Bob among those present.
  await alice.locator(".presence").getByTitle("Bob Builder").waitFor();
  await alice.locator(".cm-ySelectionInfo").first().hover().catch(() => {});
  await shot(alice, "collab-02-alice-sees-bob");
  await shot(bob, "collab-03-bob");

  // Both say saved; the server has the text (REST reads the same live state).
  await alice.getByTestId("sync-state").and(alice.locator("[data-state=saved]")).waitFor();
  await bob.getByTestId("sync-state").and(bob.locator("[data-state=saved]")).waitFor();
  await eventually(async () => {
    const doc = await api(alice, "GET", `/api/documents/${did}`);
    return doc.content === "# Guest list\n\nThe Hatter and the March Hare";
  }, { what: "the server's copy" });

  // A REST write shows up in the open editors at once.
  await api(alice, "PATCH", `/api/documents/${did}`, { content: "# Guest list\n\nThe Hatter and the March Hare\n\nAlice, too." });
  await eventually(async () => (await bob.locator(".cm-content").textContent()).includes("Alice, too."), {
    what: "a REST write in Bob's editor",
  });

  // Bob reloads and finds the same text.
  await bob.reload();
  await bob.locator(".cm-content").waitFor();
  await eventually(async () => (await bob.locator(".cm-content").textContent()).includes("Alice, too."), {
    what: "the text after a reload",
  });

  // Going offline shows in the indicator; edits made offline arrive after reconnecting.
  await a.context.setOffline(true);
  await alice.evaluate(() => window.dispatchEvent(new Event("offline")));
  await alice.getByTestId("sync-state").and(alice.locator("[data-state=offline]")).waitFor();
  await shot(alice, "collab-04-offline");
  await a.context.setOffline(false);
  await alice.evaluate(() => window.dispatchEvent(new Event("online")));

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await a.context.close();
  await b.context.close();
});

test("a viewer reads live but cannot type", async () => {
  const { owner: a, member: v, wid } = await ownerAndMember(browser, { member: "Vera Viewer", role: "viewer", workspace: "Readonly" });
  const doc = await api(a.page, "POST", `/api/workspaces/${wid}/documents`, { title: "Notice", content: "Read me." });

  await v.page.goto(`/w/${wid}/d/${doc.id}`);
  // Viewers open in reader mode, with no Write button.
  await v.page.getByTestId("reader").getByText("Read me.").waitFor();
  assert.equal(await v.page.getByRole("button", { name: "Write" }).count(), 0);

  await a.page.goto(`/w/${wid}/d/${doc.id}`);
  await a.page.locator(".cm-content").waitFor();
  await typeInEditor(a.page, " Updated.");
  await v.page.getByTestId("reader").getByText("Read me. Updated.").waitFor();
  await shot(v.page, "collab-05-viewer");
  await a.context.close();
  await v.context.close();
});
