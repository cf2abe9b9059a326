// Pasting or dropping an image into the editor uploads it (POST /api/workspaces/{wid}/files)
// and inserts its Markdown; the preview shows it, fetched with the signed-in session.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, createWorkspace, eventually, launch, newPage, shot, signUp, uniqueEmail } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// A 2×2 red PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==";

test("paste and drop an image: uploaded, inserted, shown in the preview", async () => {
  const { page } = await newPage(browser);
  await signUp(page, { name: "Ivy Image", email: uniqueEmail("image") });
  const wid = await createWorkspace(page, "Gallery");
  const doc = await api(page, "POST", `/api/workspaces/${wid}/documents`, { title: "Pictures", content: "# Pictures\n\n" });
  await page.goto(`/w/${wid}/d/${doc.id}`);
  await page.getByRole("button", { name: "Split", exact: true }).click();
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+End");

  const paste = (name, type) =>
    page.evaluate(
      ({ data, name, type }) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type }));
        const event = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
        document.querySelector(".cm-content").dispatchEvent(event);
      },
      { data: PNG, name, type },
    );
  await paste("red-dot.png", "image/png");
  const text = async () => (await page.locator(".cm-content").textContent()) ?? "";
  await eventually(async () => /!\[red-dot\.png\]\(\/api\/files\/[^)]+\)/.test(await text()), {
    what: "the image's Markdown in the editor",
    timeout: 15000,
  });
  assert.ok(!(await text()).includes("Uploading"), "the placeholder was replaced");

  // The preview loads it with the session (an <img> alone could not send the token).
  const img = page.getByTestId("preview").locator("img[alt='red-dot.png']");
  await eventually(async () => (await img.getAttribute("src"))?.startsWith("blob:"), { what: "the image loaded" });
  assert.equal(await img.evaluate((el) => el.complete && el.naturalWidth), 2);

  // Dropping works the same way.
  await page.evaluate(({ data }) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
    const target = document.querySelector(".cm-content");
    const box = target.getBoundingClientRect();
    target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true, clientX: box.left + 5, clientY: box.top + 5 }));
  }, { data: PNG });
  await eventually(async () => /!\[dropped\.png\]\(\/api\/files\//.test(await text()), { what: "the dropped image", timeout: 15000 });
  await page.getByTestId("sync-state").and(page.locator("[data-state=saved]")).waitFor();
  await shot(page, "upload-01-pasted");
  assert.deepEqual(page.errors, []);
});
