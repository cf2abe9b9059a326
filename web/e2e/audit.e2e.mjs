// The audit log as a person reads it: a mistyped password, then the right one; account
// settings list both with the address they came from; an admin finds the workspace's export
// in the workspace's log, and its PDF export.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { PASSWORD, createWorkspace, launch, newPage, shot, signIn, signUp, uniqueEmail } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("failed and good sign-ins in account activity, an export in the workspace's log", async () => {
  const { page, context } = await newPage(browser, { name: "audit" });
  const email = uniqueEmail("audra");
  await signUp(page, { name: "Audra Audit", email });
  const wid = await createWorkspace(page, "Audited");
  // On another device: a mistyped password, then the right one.
  const other = await newPage(browser, { name: "audit-laptop" });
  await signIn(other.page, { email, password: "Wrong-Password-1" });
  await other.page.getByRole("alert").waitFor();
  await signIn(other.page, { email, password: PASSWORD });
  await other.page.waitForURL((url) => !url.pathname.startsWith("/signin"));
  await other.context.close();

  await page.goto("/settings");
  const activity = page.getByRole("region", { name: "Account activity" });
  await activity.locator('tr[data-action="auth.sign_in_failed"]').waitFor();
  const failed = await activity.locator('tr[data-action="auth.sign_in_failed"]').textContent();
  assert.match(failed, /invalid_credentials/);
  assert.match(failed, /127\.0\.0\.1/);
  assert.ok((await activity.locator('tr[data-action="auth.sign_in"]').count()) >= 2);
  await activity.scrollIntoViewIfNeeded();
  await shot(page, "audit-01-account");

  await page.goto(`/w/${wid}/settings`);
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export as zip" }).click();
  await download;
  // The whole workspace as a PDF, printed on the server.
  const pdfDownload = page.waitForEvent("download", { timeout: 120000 });
  await page.getByRole("button", { name: "Export as PDF" }).click();
  const pdf = await pdfDownload;
  assert.match(pdf.suggestedFilename(), /\.pdf$/);
  const bytes = await readFile(await pdf.path());
  assert.equal(bytes.subarray(0, 5).toString(), "%PDF-");
  await page.reload();
  const log = page.getByRole("region", { name: "Audit log" });
  await log.locator('tr[data-action="workspace.exported"]').first().waitFor();
  assert.equal(await log.locator('tr[data-action="workspace.exported"]').count(), 2);
  await log.scrollIntoViewIfNeeded();
  await shot(page, "audit-02-workspace");
  await context.close();
});
