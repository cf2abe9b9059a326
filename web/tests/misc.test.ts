import { describe, expect, it } from "vitest";
import { syncState } from "../src/lib/collab";
import { hashString, initials, userColor } from "../src/lib/colors";
import { slugify } from "../src/lib/slug";
import { fileMarkdown } from "../src/lib/files";
import { describeDevice } from "../src/pages/AccountPage";

describe("syncState", () => {
  const base = { connected: true, everConnected: true, synced: true, unsynced: 0, denied: false, online: true };
  it("is saved only when connected, synced and nothing is waiting", () => {
    expect(syncState(base)).toBe("saved");
    expect(syncState({ ...base, unsynced: 2 })).toBe("syncing");
    expect(syncState({ ...base, synced: false })).toBe("syncing");
  });
  it("tells connecting from offline", () => {
    expect(syncState({ ...base, connected: false, everConnected: false })).toBe("connecting");
    expect(syncState({ ...base, connected: false })).toBe("offline");
    expect(syncState({ ...base, online: false })).toBe("offline");
    expect(syncState({ ...base, denied: true })).toBe("denied");
  });
});

describe("small helpers", () => {
  it("slugifies headings", () => {
    expect(slugify("Hello, World!")).toBe("hello-world");
    expect(slugify("Crème brûlée")).toBe("creme-brulee");
    expect(slugify("日本語 テキスト")).toBe("日本語-テキスト");
    expect(slugify("---")).toBe("");
  });
  it("gives a stable colour and initials per user", () => {
    expect(userColor("abc")).toEqual(userColor("abc"));
    expect(hashString("a")).not.toBe(hashString("b"));
    expect(initials("Ada King Lovelace")).toBe("AL");
    expect(initials("  ")).toBe("?");
  });
  it("writes Markdown for uploaded files", () => {
    const file = { id: "1", workspace_id: "w", sha256: "", created_at: "", size: 1 };
    expect(fileMarkdown({ ...file, name: "a [b].png", content_type: "image/png", url: "/api/files/1" })).toBe("![a b.png](/api/files/1)");
    expect(fileMarkdown({ ...file, name: "r.pdf", content_type: "application/pdf", url: "/api/files/2" })).toBe("[r.pdf](/api/files/2)");
  });
  it("names devices from user agents", () => {
    expect(describeDevice("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")).toBe("Chrome on Linux");
    expect(describeDevice("")).toBe("Unknown device");
  });
});
