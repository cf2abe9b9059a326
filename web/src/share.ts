// The public share page (/s/{token}): the server sends the document as sanitized HTML, and
// this script (same origin, no inline code) gives it the reader's look: the app's stylesheet,
// highlighted code, KaTeX math and mermaid diagrams (sanitized again, as in the app).
import "./styles.css";
import "katex/dist/katex.min.css";
import katex from "katex";
import { renderDiagrams } from "./lib/diagrams";
import { hljs, loadLanguages } from "./lib/highlight";

const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
document.documentElement.dataset.theme = dark ? "dark" : "light";

function renderMath(el: HTMLElement, display: boolean): void {
  katex.render(el.textContent ?? "", el, { throwOnError: false, displayMode: display });
  el.dataset.rendered = "math";
}

const root = document.querySelector<HTMLElement>("article.markdown-body");
const langOf = (code: HTMLElement) => /\blanguage-([\w+#.-]+)/.exec(code.className)?.[1]?.toLowerCase() ?? "";

if (root) {
  const blocks = [...root.querySelectorAll<HTMLElement>("pre > code[class*='language-']")];
  await loadLanguages(blocks.map(langOf));
  for (const code of blocks) {
    const lang = langOf(code);
    const pre = code.parentElement as HTMLElement;
    if (lang === "mermaid") {
      const block = document.createElement("div");
      block.className = "mermaid-block";
      const source = document.createElement("pre");
      source.className = "mermaid-source";
      source.textContent = code.textContent;
      block.append(source);
      pre.replaceWith(block);
    } else if (lang === "math") {
      const div = document.createElement("div");
      div.textContent = code.textContent;
      pre.replaceWith(div);
      renderMath(div, true);
    } else if (hljs.getLanguage(lang)) {
      hljs.highlightElement(code);
    }
  }
  for (const el of root.querySelectorAll<HTMLElement>(".math.inline, .math.block")) {
    renderMath(el, el.classList.contains("block"));
  }
  void renderDiagrams(root, dark);
}
