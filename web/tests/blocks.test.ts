import { beforeAll, describe, expect, it } from "vitest";
import { diffBlocks, joinBlocks } from "../src/lib/blocks";
import { BlockCache, head, renderBlocks } from "../src/lib/markdown";
import { reservedNames } from "../src/lib/reserved";
import { setReservedNames } from "../src/lib/sanitize";

beforeAll(() => setReservedNames(reservedNames(document)));

const TEXT = "# Intro\n\nfirst paragraph\n\n- [ ] a task\n\n## Intro\n\nlast [link][ref]\n\n[ref]: https://example.com\n";

describe("renderBlocks", () => {
  it("keys each top-level block by its content, with its first line", () => {
    const r = renderBlocks(TEXT);
    expect(r.blocks.map((b) => b.line)).toEqual([0, 2, 4, 6, 8]);
    expect(new Set(r.blocks.map((b) => b.key)).size).toBe(5);
    // References defined anywhere reach every block.
    expect(r.blocks[4].html).toContain('href="https://example.com"');
  });

  it("renders only the changed block again, and moves the others without a change", () => {
    const cache = new BlockCache();
    const before = renderBlocks(TEXT, cache);
    const after = renderBlocks(`new line\n\n${TEXT.replace("first paragraph", "first paragraph, edited")}`, cache);
    const kept = new Set(before.blocks.map((b) => b.key));
    const fresh = after.blocks.filter((b) => !kept.has(b.key));
    // The new paragraph and the edited one; the task's block names its lines, so it moves too.
    expect(fresh.map((b) => b.html.replace(/<[^>]+>/g, "").trim())).toEqual(["new line", "first paragraph, edited", "a task"]);
    expect(after.blocks.map((b) => b.line)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it("keeps heading ids unique over the whole text and the table of contents in order", () => {
    const r = renderBlocks(TEXT);
    expect(r.toc.map((t) => [t.id, t.line])).toEqual([["h-intro", 0], ["h-intro-1", 6]]);
    expect(r.blocks[3].html).toContain('id="h-intro-1"');
  });

  it("sanitizes a block that holds the author's HTML, and only that one", () => {
    const r = renderBlocks("plain *text*\n\n<div onclick=\"alert(1)\" style=\"position:fixed\">x</div>\n");
    expect(r.blocks[0].html).toMatch(/^<p[^>]*>plain <em>text<\/em><\/p>\n$/);
    expect(r.blocks[1].html).not.toMatch(/onclick|position/);
  });
});

describe("head", () => {
  it("cuts a long text at a blank line outside a fence", () => {
    const text = `${"para\n\n".repeat(10)}\`\`\`\n${"code\n\n".repeat(10)}\`\`\`\n\n${"tail\n\n".repeat(50)}`;
    const start = head(text, 70);
    expect(text.startsWith(start)).toBe(true);
    expect((start.match(/```/g) ?? []).length % 2).toBe(0);
    expect(head("short", 70)).toBe("short");
  });
});

describe("the preview worker's replies name only what changed", () => {
  const list = (keys: string[], lines = keys.map((_, i) => i * 2)) => keys.map((key, i) => ({ key, line: lines[i] }));

  it("keeps the start, sends the middle, moves the end", () => {
    const prev = list(["a", "b", "c", "d", "e"]);
    // "c" typed into (a new key) and one line more: d and e move down by one.
    const next = list(["a", "b", "c2", "d", "e"], [0, 2, 4, 7, 9]);
    const diff = diffBlocks(prev, next);
    expect(diff).toEqual({ head: 2, tail: 2, shift: 1 });
    expect(joinBlocks(prev, diff, next.slice(diff.head, next.length - diff.tail))).toEqual(next);
  });

  it("rebuilds any edit, repeated blocks included", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let prev = list(Array.from({ length: 40 }, (_, i) => `k${i % 7}`));
    for (let round = 0; round < 300; round++) {
      const keys = prev.map((b) => b.key);
      const at = random(keys.length + 1);
      keys.splice(at, random(3), ...Array.from({ length: random(3) }, () => `k${random(9)}`));
      const next = list(keys, keys.map((_, i) => i * 2 + (i > at ? random(2) : 0)));
      const diff = diffBlocks(prev, next);
      expect(joinBlocks(prev, diff, next.slice(diff.head, next.length - diff.tail))).toEqual(next);
      prev = next;
    }
  });
});
