// Accounts in the browser: sign up, verify the e-mail from the mailed link, stay signed in
// over a reload, sign out and in, reset a forgotten password, and two-factor sign-in.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  PASSWORD, eventually, launch, localPath, mailedLinks, newPage, shot, signIn, signUp, totp, uniqueEmail,
} from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("sign up, verify the e-mail, reload, sign out and back in", async () => {
  const { page, context } = await newPage(browser);
  const email = uniqueEmail("grace");
  await signUp(page, { name: "Grace Hopper", email });
  await shot(page, "auth-01-welcome");

  // The verification link from the e-mail opens the verify page, which confirms it.
  const link = await eventually(() => mailedLinks(email).find((l) => l.includes("/verify-email?token=")), {
    what: "the verification e-mail",
  });
  await page.goto(localPath(link));
  await page.getByText("Your e-mail address is verified").waitFor();
  await shot(page, "auth-02-verified");

  // A reload keeps the session (tokens survive in storage, refreshed per the API).
  await page.goto("/");
  await page.getByText("Welcome, Grace Hopper").waitFor();
  await page.reload();
  await page.getByText("Welcome, Grace Hopper").waitFor();

  // An access token that expired is refreshed, not a reason to sign in again.
  await page.evaluate(() => {
    const t = JSON.parse(localStorage.getItem("mdreader.tokens"));
    localStorage.setItem("mdreader.tokens", JSON.stringify({ ...t, expiresAt: 0 }));
  });
  const before = await page.evaluate(() => JSON.parse(localStorage.getItem("mdreader.tokens")).refresh);
  await page.reload();
  await page.getByText("Welcome, Grace Hopper").waitFor();
  const afterRefresh = await page.evaluate(() => JSON.parse(localStorage.getItem("mdreader.tokens")).refresh);
  assert.notEqual(afterRefresh, before, "the refresh token was rotated");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  await signIn(page, { email });
  await page.getByText("Welcome, Grace Hopper").waitFor();

  // Wrong passwords get the API's sentence.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  await signIn(page, { email, password: "wrong-Password-1" });
  await page.getByRole("alert").filter({ hasText: "wrong" }).waitFor();
  assert.deepEqual(page.errors.filter((e) => !e.includes("401")), []);
  await context.close();
});

test("forgot password: the mailed link sets a new one", async () => {
  const { page, context } = await newPage(browser);
  const email = uniqueEmail("reset");
  await signUp(page, { name: "Reset Me", email });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);

  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await page.getByText("a link to reset its password is on its way").waitFor();

  const link = await eventually(() => mailedLinks(email).find((l) => l.includes("/reset-password?token=")), {
    what: "the reset e-mail",
  });
  await page.goto(localPath(link));
  const fresh = "Brand-New-Pass-9";
  await page.getByLabel("New password").fill(fresh);
  await page.getByLabel("Repeat it").fill(fresh);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Your password is changed").waitFor();
  await shot(page, "auth-03-reset");

  // The link is single-use.
  await page.goto(localPath(link));
  await page.getByLabel("New password").fill("Another-Pass-8");
  await page.getByLabel("Repeat it").fill("Another-Pass-8");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("alert").filter({ hasText: "invalid, already used or expired" }).waitFor();

  await signIn(page, { email, password: fresh });
  await page.getByText("Welcome, Reset Me").waitFor();
  await context.close();
});

test("two-factor sign-in: set up with the QR code's secret, then the code step", async () => {
  const { page, context } = await newPage(browser);
  const email = uniqueEmail("mfa");
  await signUp(page, { name: "Two Factor", email });
  await page.goto("/settings");
  await page.getByRole("heading", { name: "Two-factor sign-in" }).waitFor();
  await page.getByRole("button", { name: "Set up" }).click();
  await page.getByTestId("mfa-qr").locator("svg").waitFor();
  const secret = (await page.locator("code.secret").textContent()).trim();
  await shot(page, "auth-04-mfa-qr");
  await page.getByLabel("Code", { exact: true }).fill(await totp(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.getByText("On: signing in asks for a code").waitFor();

  // Sessions list shows this browser.
  await page.getByText("this device").waitFor();

  // Sign out, then in: the API asks for the code and the page shows that step.
  await page.evaluate(() => localStorage.removeItem("mdreader.tokens"));
  await page.goto("/signin");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Authenticator code").waitFor();
  await shot(page, "auth-05-mfa-step");
  // A code from the next time step (the one just used cannot be replayed).
  await page.getByLabel("Authenticator code").fill(await totp(secret, Date.now() + 30_000));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByText("Welcome, Two Factor").waitFor();
  await context.close();
});
