// A mention that reaches the other person's inbox and mailbox: the owner types "@" in the
// editor, picks the member from the completion, and the Markdown gets the mention; once the
// edit is stored the member's unread count goes up without a reload, the inbox shows it, and
// the SMTP test server has the e-mail with a link to the document and an unsubscribe link
// that works signed out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { api, browserForFile, eventually, mailedTo, ownerAndMember, pickCompletion, shot, typeSlowly, waitSaved } from "./lib.mjs";

const browserOf = browserForFile();

test("a mention from the editor reaches the member's inbox and mailbox", async () => {
  const { owner, member, wid, memberId } = await ownerAndMember(browserOf(), { member: "Mo Member", role: "editor" });
  const doc = await api(owner.page, "POST", `/api/workspaces/${wid}/documents`, { title: "Launch", content: "Plan:\n" });
  const memberEmail = (await api(member.page, "GET", "/api/auth/me")).email;
  await member.page.goto(`/w/${wid}`);
  await member.page.getByTestId("inbox-button").waitFor();
  assert.equal(await member.page.getByTestId("unread-count").count(), 0);

  await owner.page.goto(`/w/${wid}/d/${doc.id}`);
  await owner.page.locator(".cm-content").click();
  await owner.page.keyboard.press("Control+End");
  await typeSlowly(owner.page, "Ask @Mo");
  await pickCompletion(owner.page, "@Mo Member");
  await typeSlowly(owner.page, " about the date.");
  await waitSaved(owner.page);
  let kept = "";
  const stored = await eventually(async () => {
    const d = await api(owner.page, "GET", `/api/documents/${doc.id}`);
    kept = d.content;
    return d.content.includes(`@[Mo Member](user:${memberId}) about the date.`) && d;
  }, { what: "the mention in the stored text" }).catch(async (e) => {
    await shot(owner.page, "mention-not-stored");
    throw new Error(`${e.message}; the server kept ${JSON.stringify(kept)}`);
  });
  assert.ok(stored);

  // The member's count rises on its own (long polling), once the edit is compacted.
  await member.page.getByTestId("unread-count").waitFor({ timeout: 30000 });
  assert.equal((await member.page.getByTestId("unread-count").textContent()).trim(), "1");
  await member.page.getByTestId("inbox-button").click();
  const item = member.page.getByTestId("notification").first();
  assert.match(await item.textContent(), /Olga Owner mentioned you in Launch/);
  assert.match(await item.textContent(), /Ask @Mo Member about the date\./);
  await shot(member.page, "inbox-mention");
  await item.click();
  await member.page.waitForURL((url) => url.pathname.endsWith(`/d/${doc.id}`));
  await eventually(async () => (await member.page.getByTestId("unread-count").count()) === 0, { what: "read" });

  // The mailbox: one e-mail, with the document's link and a working unsubscribe link.
  const mail = await eventually(() => mailedTo(memberEmail).find((m) => m.subject.includes("mentioned you")), { what: "the e-mail" });
  assert.match(mail.subject, /Olga Owner mentioned you in Launch/);
  assert.ok(mail.text.includes(`/w/${wid}/d/${doc.id}`));
  const unsubscribe = mail.text.match(/https?:\/\/\S+\/api\/notifications\/unsubscribe\?token=\S+/)[0];
  const fresh = await browserOf().newContext();
  const page = await fresh.newPage();
  const u = new URL(unsubscribe);
  await page.goto(new URL(u.pathname + u.search, owner.page.url()).href);
  await page.getByRole("heading", { name: "Unsubscribed" }).waitFor();
  await fresh.close();
  const prefs = await api(member.page, "GET", "/api/notifications/settings");
  assert.equal(prefs.email_mentions, false);
});
