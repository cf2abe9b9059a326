// A workspace admin adds a webhook in the workspace settings, makes a document, and the
// receiver (a plain HTTP server in this script, on this machine) gets it signed; the delivery
// log in the settings shows it delivered with its status code.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { createWorkspace, eventually, launch, newDocument, newPage, shot, signUp, typeSlowly, uniqueEmail } from "./lib.mjs";

let browser;
let receiver;
const received = [];
before(async () => {
  browser = await launch();
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
});
after(async () => {
  await browser?.close();
  receiver?.close();
});

test("add a webhook, make a document, see it delivered and signed", async () => {
  const { page, context } = await newPage(browser, { name: "hooks" });
  await signUp(page, { name: "Hank Hooks", email: uniqueEmail("hank") });
  const wid = await createWorkspace(page, "Hooked");
  await page.goto(`/w/${wid}/settings`);
  const section = page.getByRole("region", { name: "Webhooks" });
  await section.getByLabel("Payload URL").click();
  await typeSlowly(page, `http://127.0.0.1:${receiver.address().port}/mdreader`);
  await section.getByLabel("document.updated").uncheck();
  await section.getByRole("button", { name: "Add webhook" }).click();
  const secret = (await section.getByTestId("webhook-secret").textContent()).trim();
  assert.match(secret, /^whsec_/);
  await section.scrollIntoViewIfNeeded();
  await shot(page, "webhooks-01-added");

  await page.goto(`/w/${wid}`);
  const id = await newDocument(page, "Announced");
  const got = await eventually(() => received.find((r) => JSON.parse(r.body).data.document.id === id), {
    what: "the document.created delivery",
    timeout: 20000,
  });
  const { "x-mdreader-timestamp": ts, "x-mdreader-signature": signature } = got.headers;
  const expected = "sha256=" + createHmac("sha256", secret).update(`${ts}.${got.body}`).digest("hex");
  assert.equal(signature, expected);
  assert.equal(JSON.parse(got.body).event, "document.created");
  assert.ok(Math.abs(Date.now() / 1000 - Number(ts)) < 300);

  await page.goto(`/w/${wid}/settings`);
  await section.getByRole("button", { name: "Deliveries" }).click();
  const row = section.locator(".delivery-log tbody tr").first();
  await eventually(async () => /document\.created\s*delivered\s*204/.test(await row.textContent()), {
    what: "the delivery log entry",
  });
  await section.scrollIntoViewIfNeeded();
  await shot(page, "webhooks-02-log");
  await context.close();
});
