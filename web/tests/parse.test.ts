import { beforeAll, describe, expect, it } from "vitest";
import { changedLines, loadMath, parseText } from "../src/lib/markdown";

// The preview worker parses a text's next version only around what changed: whatever the edit,
// the blocks must be those of the whole text parsed again.
const PIECES = [
  "# Heading\n", "Heading\n===\n", "---\n", "para line\n", "lazy continuation\n", "\n", "\n\n",
  "- item\n", "  - nested\n", "\n  indented after a blank\n", "1. first\n", "> quote\n", "> > deeper\n",
  "```js\n", "```\n", "~~~\n", "    indented code\n", "| a | b |\n", "|---|---|\n", "| 1 | 2 |\n",
  "<div>\n", "</div>\n", "<!-- note\n", "-->\n", "$$\n", "x^2\n", "- [ ] task\n", "***\n", "text with `code`\n",
];

function randomText(random: (n: number) => number, pieces: number): string {
  let out = "";
  for (let i = 0; i < pieces; i++) out += PIECES[random(PIECES.length)];
  return out;
}

const shape = (t: ReturnType<typeof parseText>) => t.blocks.map((b) => [b.line, b.start, b.text]);

function check(seed: number, rounds: number, reach?: number) {
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let text = randomText(random, 60);
  let parsed = parseText(text);
  for (let round = 0; round < rounds; round++) {
    const at = random(text.length + 1);
    const cut = random(4) === 0 ? random(40) : random(3);
    const insert = random(3) === 0 ? randomText(random, 1 + random(3)) : ["x", "\n", " ", "`", "#", "-", "|", ">", "\n\n", "```"][random(10)];
    text = text.slice(0, at) + insert + text.slice(at + cut);
    parsed = parseText(text, parsed, reach);
    expect(shape(parsed), `round ${round}`).toEqual(shape(parseText(text)));
  }
}

describe("parseText", () => {
  it("parses only around an edit, to the blocks of the whole text", () => {
    for (let seed = 1; seed <= 12; seed++) check(seed, 150);
  });

  it("parses again a little way past an edit first, then further", () => {
    for (let seed = 40; seed <= 52; seed++) check(seed, 150, 1 + (seed % 4) * 20);
  });

  it("keeps the blocks far from an edit of a long text", () => {
    const text = "## Section\n\nSome prose.\n\n```python\ncode\n```\n\n".repeat(2000);
    const before = parseText(text);
    const after = parseText(`${text.slice(0, 500)}typed${text.slice(500)}`, before);
    expect(after.blocks.length).toBe(before.blocks.length);
    // The blocks after the change are the same objects' texts, moved by nothing.
    expect(after.blocks.at(-1)).toEqual({ ...before.blocks.at(-1)!, start: before.blocks.at(-1)!.start + 5 });
    expect(shape(after)).toEqual(shape(parseText(`${text.slice(0, 500)}typed${text.slice(500)}`)));
  });

  it("parses a text with link reference definitions whole", () => {
    const text = "[a][r]\n\n[r]: https://example.com\n\npara\n";
    const next = parseText(`${text}more\n`, parseText(text));
    expect(Object.keys(next.references)).toEqual(["R"]);
    expect(shape(next)).toEqual(shape(parseText(`${text}more\n`)));
  });

  it("names the lines an edit changed", () => {
    expect(changedLines("a\nb\nc\n", "a\nbx\nc\n")).toBe("bx");
    expect(changedLines(null, "whole")).toBe("whole");
    expect(changedLines("a\n", "a\n```python\n")).toBe("```python\n");
  });
});

describe("parseText with math", () => {
  beforeAll(() => loadMath());
  it("parses math blocks around an edit as a whole parse does", () => {
    for (let seed = 20; seed <= 26; seed++) check(seed, 120);
  });
});
