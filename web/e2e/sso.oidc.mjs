// Single sign-on as a person does it: the sign-in page's button, the provider's own sign-in
// and consent pages (a real OpenID Connect provider: oidc-provider, started by
// tests/web/test_sso_e2e.py), back in MDReader signed in; a reload keeps the session; signing
// out also signs out at the provider. An account whose address the provider has not verified
// is not taken over. Run by tests/web/test_sso_e2e.py (its server has the provider configured).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, launch, newPage, shot, signUp } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function human(page, locator, text) {
  await locator.click();
  for (const ch of text) await page.keyboard.type(ch, { delay: 40 + Math.random() * 110 });
}

/** At the provider's pages: type the login and a password, sign in, allow MDReader. */
async function atProvider(page, login) {
  await page.locator('input[name="login"]').waitFor();
  await human(page, page.locator('input[name="login"]'), login);
  await human(page, page.locator('input[name="password"]'), "any password");
  await page.locator('button[type="submit"]').click();
  const consent = page.getByRole("button", { name: "Continue" });
  await consent.waitFor();
  await consent.click();
}

test("sign in with the company's provider, reload, sign out there too", async () => {
  const { page, context } = await newPage(browser, { name: "ada" });
  await page.goto("/signin?next=/");
  const button = page.getByRole("link", { name: "Sign in with Company login" });
  await button.waitFor();
  await shot(page, "sso-01-signin");
  await button.click();
  await page.waitForURL((url) => !url.href.startsWith(process.env.BASE_URL));
  await atProvider(page, "ada@example.com");
  await page.getByText("Welcome, Ada Lovelace").waitFor();
  assert.ok(!page.url().includes("code="), "the one-time code left the address bar");
  await shot(page, "sso-02-signed-in");
  const me = await api(page, "GET", "/api/auth/me");
  assert.equal(me.email, "ada@example.com");
  assert.equal(me.email_verified, true);

  await page.reload();
  await page.getByText("Welcome, Ada Lovelace").waitFor();

  await page.getByRole("button", { name: "Sign out" }).click();
  const yes = page.getByRole("button", { name: "Yes, sign me out" });
  await yes.waitFor();
  await yes.click();
  await page.waitForURL(/\/signin/);
  await page.getByRole("link", { name: "Sign in with Company login" }).waitFor();
  // Signed out at the provider too: the next sign-in asks for the login again.
  await page.getByRole("link", { name: "Sign in with Company login" }).click();
  await page.locator('input[name="login"]').waitFor();
  await shot(page, "sso-03-provider-asks-again");
  await context.close();
});

test("an address the provider has not verified does not take over an account", async () => {
  const owner = await newPage(browser, { name: "owner" });
  await signUp(owner.page, { name: "Real Owner", email: "taken@example.com" });
  await owner.context.close();

  const { page, context } = await newPage(browser, { name: "mallory" });
  await page.goto("/signin");
  await page.getByRole("link", { name: "Sign in with Company login" }).click();
  await atProvider(page, "taken@example.com");
  await page.waitForURL(/\/signin\?sso_error=/);
  await page.getByRole("alert").filter({ hasText: "has not verified that address" }).waitFor();
  await shot(page, "sso-04-refused");
  assert.equal(await page.evaluate(() => localStorage.getItem("mdreader.tokens")), null);
  await context.close();
});
