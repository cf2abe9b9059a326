import { beforeAll, describe, expect, it } from "vitest";
import { firstHeading, loadMath, renderMarkdown } from "../src/lib/markdown";
import { loadLanguages } from "../src/lib/highlight";
import { sanitize } from "../src/lib/purify";
import { reservedNames } from "../src/lib/reserved";
import { setReservedNames } from "../src/lib/sanitize";

// What the preview worker is given before it renders: the page's reserved names, and the
// languages its text names.
beforeAll(async () => {
  setReservedNames(reservedNames(document));
  await loadLanguages(["python", "js"]);
});

function dom(html: string): HTMLElement {
  const el = document.createElement("div");
  el.innerHTML = html;
  return el;
}

/** Every attribute of every element, to look for anything that could run script. */
function scriptVectors(html: string): string[] {
  const found: string[] = [];
  const root = dom(html);
  for (const el of root.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (["script", "iframe", "object", "embed", "style", "form", "base", "meta", "link"].includes(tag)) found.push(`<${tag}>`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\s\u0000-\u001f]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(`${tag}[${name}]`);
      if (["href", "src", "xlink:href", "action", "formaction", "data", "srcdoc"].includes(name) && /^(javascript|vbscript|data:text\/html)/.test(value)) {
        found.push(`${tag}[${name}=${attr.value}]`);
      }
      if (name === "style" && /position|url\(|expression/.test(value)) found.push(`${tag}[style=${attr.value}]`);
    }
  }
  return found;
}

describe("renderMarkdown", () => {
  it("renders CommonMark and GFM tables and strikethrough", () => {
    const { html } = renderMarkdown("# Title\n\nSome *em* and ~~gone~~.\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n");
    const el = dom(html);
    expect(el.querySelector("h1")?.textContent).toBe("Title");
    expect(el.querySelector("em")?.textContent).toBe("em");
    expect(el.querySelector("s")?.textContent).toBe("gone");
    expect([...el.querySelectorAll("th")].map((t) => t.textContent)).toEqual(["a", "b"]);
    expect([...el.querySelectorAll("td")].map((t) => t.textContent)).toEqual(["1", "2"]);
  });

  it("turns task list items into disabled checkboxes", () => {
    const el = dom(renderMarkdown("- [ ] open\n- [x] done\n- plain [ ] not a task\n").html);
    const boxes = [...el.querySelectorAll("input")];
    expect(boxes).toHaveLength(2);
    expect(boxes.every((b) => b.type === "checkbox" && b.disabled)).toBe(true);
    expect(boxes.map((b) => b.checked)).toEqual([false, true]);
    expect(el.querySelector("ul")?.classList.contains("contains-task-list")).toBe(true);
    expect(el.querySelectorAll("li")[2].textContent).toBe("plain [ ] not a task");
  });

  it("highlights fenced code by language and escapes unknown ones", () => {
    const el = dom(renderMarkdown("```python\ndef f(): return 1\n```\n\n```nope\n<b>x</b>\n```\n").html);
    const [py, other] = el.querySelectorAll("pre code");
    expect(py.classList.contains("language-python")).toBe(true);
    expect(py.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(other.querySelector("b")).toBeNull();
    expect(other.textContent).toBe("<b>x</b>\n");
  });

  it("gives headings unique ids and collects the table of contents", () => {
    const { html, toc } = renderMarkdown("# Intro\n\n## Set-up `code`\n\ntext\n\n## Intro\n");
    expect(toc.map((t) => [t.level, t.text, t.id])).toEqual([
      [1, "Intro", "h-intro"],
      [2, "Set-up code", "h-set-up-code"],
      [2, "Intro", "h-intro-1"],
    ]);
    const el = dom(html);
    expect([...el.querySelectorAll("h1, h2")].map((h) => h.id)).toEqual(["h-intro", "h-set-up-code", "h-intro-1"]);
  });

  it("marks top-level blocks with their source line", () => {
    const el = dom(renderMarkdown("para one\n\n# head\n\n```js\nx\n```\n").html);
    expect(el.querySelector("p")?.dataset.line).toBe("0");
    expect(el.querySelector("h1")?.dataset.line).toBe("2");
    expect(el.querySelector("code")?.dataset.line).toBe("4");
  });

  it("leaves mermaid fences as escaped placeholders for the lazy renderer", () => {
    const el = dom(renderMarkdown("```mermaid\ngraph TD; A-->B<img src=x onerror=alert(1)>\n```\n").html);
    const block = el.querySelector(".mermaid-block");
    expect(block).not.toBeNull();
    expect(block?.querySelector("img")).toBeNull();
    expect(block?.textContent).toContain("A-->B<img");
  });

  it("links bare URLs and opens outside links in a new tab without an opener", () => {
    const el = dom(renderMarkdown("see https://example.com and [home](/w/1)").html);
    const [outside, inside] = el.querySelectorAll("a");
    expect(outside.getAttribute("href")).toBe("https://example.com");
    expect(outside.target).toBe("_blank");
    expect(outside.rel).toContain("noopener");
    expect(inside.hasAttribute("target")).toBe(false);
  });

  it("finds the first heading", () => {
    expect(firstHeading("text\n## Second ##\n# First")).toBe("Second");
    expect(firstHeading("no heading")).toBeNull();
  });
});

describe("math", () => {
  beforeAll(async () => {
    await loadMath();
  });

  it("renders inline and display math with KaTeX once loaded", () => {
    const el = dom(renderMarkdown("Energy $E=mc^2$.\n\n$$\n\\int_0^1 x\\,dx\n$$\n").html);
    expect(el.querySelector(".katex")).not.toBeNull();
    expect(el.querySelector(".katex-display")).not.toBeNull();
    expect(el.querySelector("math, .katex-mathml")).not.toBeNull();
  });

  it("shows bad math as an error instead of throwing", () => {
    expect(() => renderMarkdown("$\\frac{1$")).not.toThrow();
  });

  it("keeps KaTeX's layout styles but no page-covering ones", () => {
    const html = renderMarkdown("$x^2$ <span style=\"position:fixed;top:0\">cover</span>").html;
    const el = dom(html);
    expect(el.querySelector(".katex [style]")).not.toBeNull();
    expect([...el.querySelectorAll("[style]")].some((n) => /position/.test(n.getAttribute("style")!))).toBe(false);
    expect(el.querySelector("span:not(.katex *)[style]")).toBeNull();
  });
});

describe("hostile Markdown", () => {
  const attacks: [string, string][] = [
    ["script tag", "<script>window.pwned = 1</script>"],
    ["img onerror", '<img src="x" onerror="window.pwned = 1">'],
    ["svg onload", '<svg onload="window.pwned=1"><circle r="1"/></svg>'],
    ["javascript link", "[click](javascript:window.pwned=1)"],
    ["javascript link, encoded", "[click](jav&#x09;ascript:alert(1))"],
    ["html javascript link", '<a href="javascript:alert(1)">x</a>'],
    ["html javascript link, mixed case and spaces", '<a href=" JaVaScRiPt:alert(1)">x</a>'],
    ["data html link", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"],
    ["vbscript", '<a href="vbscript:msgbox(1)">x</a>'],
    ["iframe", '<iframe src="https://evil.example"></iframe>'],
    ["iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
    ["object", '<object data="javascript:alert(1)"></object>'],
    ["embed", '<embed src="javascript:alert(1)">'],
    ["form", '<form action="https://evil.example"><input name="password"><button>go</button></form>'],
    ["style tag", "<style>body { display: none }</style>"],
    ["meta refresh", '<meta http-equiv="refresh" content="0;url=https://evil.example">'],
    ["base", '<base href="https://evil.example/">'],
    ["math href", '<math><mtext><a href="javascript:alert(1)">x</a></mtext></math>'],
    ["mutation XSS", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'],
    ["svg use", '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCcgeG1sbnM9J2h0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnJz48aW1hZ2UgaHJlZj0nMScgb25lcnJvcj0nYWxlcnQoMSknLz48L3N2Zz4=#x"/></svg>'],
    ["details ontoggle", "<details open ontoggle=alert(1)>"],
    ["image title breakout", '![x" onerror="alert(1)](https://example.com/a.png)'],
    ["fence info breakout", '```js" onmouseover="alert(1)\ncode\n```'],
    ["autolink", "<javascript:alert(1)>"],
    ["fixed overlay", '<div style="position:fixed;inset:0;background:red">phish</div>'],
    ["input text", '<input type="text" value="password?">'],
  ];

  it.each(attacks)("%s runs nothing", (_name, source) => {
    const { html } = renderMarkdown(source);
    expect(scriptVectors(html)).toEqual([]);
    expect(html).not.toMatch(/<script/i);
  });

  it("keeps the harmless parts around an attack", () => {
    const el = dom(renderMarkdown('Hello <img src="https://example.com/a.png" onerror="alert(1)"> **world**').html);
    expect(el.querySelector("img")?.getAttribute("src")).toBe("https://example.com/a.png");
    expect(el.querySelector("img")?.hasAttribute("onerror")).toBe(false);
    expect(el.querySelector("strong")?.textContent).toBe("world");
  });

  it("does not let heading ids clobber document properties", () => {
    const el = dom(renderMarkdown("# cookie\n\n<a id=\"cookie\">x</a><form name=\"body\"></form>").html);
    expect(el.querySelector("h1")?.id).toBe("h-cookie");
    expect(el.querySelector("[name=body]")).toBeNull();
  });

  it("sanitizes SVG from diagrams", () => {
    const svg = '<svg><g><text>ok</text><script>alert(1)</script><foreignObject><div onclick="alert(1)">label</div></foreignObject><a href="javascript:alert(1)"><rect/></a></g></svg>';
    const clean = sanitize(svg, true);
    expect(scriptVectors(clean)).toEqual([]);
    expect(clean).toContain("ok");
    expect(clean).toContain("label");
  });
});
