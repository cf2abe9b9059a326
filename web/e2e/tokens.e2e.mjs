// Personal access tokens as a person makes and uses them: account settings, a name typed at
// human speed, read and write for one workspace, the secret shown once and used by a script
// (plain HTTP from Node, not the page), revoked with a click, refused after.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, createWorkspace, launch, newPage, shot, signUp, typeSlowly, uniqueEmail } from "./lib.mjs";

const BASE_URL = process.env.BASE_URL;
let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function script(method, path, token, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

test("make a workspace token in settings, use it from a script, revoke it", async () => {
  const { page, context } = await newPage(browser, { name: "tokens" });
  await signUp(page, { name: "Tess Token", email: uniqueEmail("tess") });
  const wid = await createWorkspace(page, "Automation");
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Report", content: "v1" });
  const elsewhere = await api(page, "POST", "/api/workspaces", { name: "Private" });

  await page.goto("/settings");
  const section = page.getByRole("region", { name: "Personal access tokens" });
  await section.getByLabel("Token name").click();
  await typeSlowly(page, "nightly report");
  await section.getByLabel("Access").selectOption("write");
  await section.getByLabel("Workspace").selectOption(wid);
  await section.getByRole("button", { name: "Create token" }).click();
  const shown = section.getByTestId("new-token");
  await shown.waitFor();
  const token = (await shown.textContent()).trim();
  assert.match(token, /^mdr_pat_/);
  await section.scrollIntoViewIfNeeded();
  await shot(page, "tokens-01-created");

  // The script: reads and writes its workspace, sees nothing of the other one.
  assert.equal((await script("GET", `/api/documents/${doc.id}`, token)).body.content, "v1");
  const patched = await script("PATCH", `/api/documents/${doc.id}`, token, { content: "v2 from the script" });
  assert.equal(patched.status, 200);
  assert.equal((await script("GET", `/api/workspaces/${elsewhere.id}`, token)).status, 404);
  assert.equal((await script("POST", "/api/auth/tokens", token, { name: "more" })).status, 403);

  // Shown once: after a reload only its name and last characters are listed, with its use.
  await page.reload();
  const row = section.locator('[data-token="nightly report"]');
  await row.waitFor();
  assert.equal(await section.getByTestId("new-token").count(), 0);
  assert.match(await row.textContent(), new RegExp(`…${token.slice(-4)}.*Automation.*last used`));
  await row.scrollIntoViewIfNeeded();
  await shot(page, "tokens-02-listed");
  await row.getByRole("button", { name: "Revoke" }).click();
  await row.waitFor({ state: "detached" });
  assert.equal((await script("GET", `/api/documents/${doc.id}`, token)).status, 401);
  assert.equal((await api(page, "GET", `/api/documents/${doc.id}`)).content, "v2 from the script");
  await context.close();
});
