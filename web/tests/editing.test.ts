// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { htmlToMarkdown, wordCount } from "../src/features/editing/editing";
import { resolveWikilinks } from "../src/features/links/links";
import { mentionMarkdown } from "../src/features/notifications/mentions";

describe("editing help", () => {
  it("turns HTML from a web page or an office document into Markdown", async () => {
    const html =
      '<h2 style="color:red">Plan</h2><p class="MsoNormal">Some <b>bold</b> and <i>italic</i> ' +
      '<a href="https://example.com">link</a></p><ul><li>one</li><li>two</li></ul><script>x()</script>';
    expect(await htmlToMarkdown(html)).toBe(
      "## Plan\n\nSome **bold** and *italic* [link](https://example.com)\n\n-   one\n-   two",
    );
  });
  it("counts words and reading time of the text, not the markup", () => {
    expect(wordCount("# Title\n\nTwo **words** [link](https://x.y/z) `c`\n")).toEqual({ words: 5, minutes: 1 });
    expect(wordCount("")).toEqual({ words: 0, minutes: 0 });
    expect(wordCount("word ".repeat(690)).minutes).toBe(3);
  });
  it("shows [[Title]] as a link by title, and writes mentions as Markdown", () => {
    const docs = [{ id: "d1", title: "Roadmap", parent_id: null, position: 0, updated_at: "" }];
    expect(resolveWikilinks("See [[roadmap]] and [[Nope]]", docs as never)).toBe("See [roadmap](/d/d1) and [[Nope]]");
    expect(mentionMarkdown({ user_id: "u1", name: "Mo [M]" })).toBe("@[Mo M](user:u1)");
  });
});
