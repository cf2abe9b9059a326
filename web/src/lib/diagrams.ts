// Mermaid diagrams in the preview: the library (large) is loaded only when a document has a
// ```mermaid fence, runs with securityLevel "strict", and its SVG is sanitized again.
import { sanitize } from "./sanitize";

type Mermaid = (typeof import("mermaid"))["default"];

let loading: Promise<Mermaid> | null = null;
let configuredTheme: string | null = null;
const cache = new Map<string, string>();
let counter = 0;

function load(): Promise<Mermaid> {
  loading ??= import("mermaid").then((m) => m.default);
  return loading;
}

function remember(key: string, svg: string) {
  if (cache.size > 64) cache.delete(cache.keys().next().value!);
  cache.set(key, svg);
}

/** Replace each not yet rendered `.mermaid-block` under root with its diagram. */
export async function renderDiagrams(root: HTMLElement, dark: boolean): Promise<void> {
  const blocks = [...root.querySelectorAll<HTMLElement>(".mermaid-block:not([data-rendered])")];
  if (!blocks.length) return;
  const theme = dark ? "dark" : "default";
  const pending: HTMLElement[] = [];
  for (const block of blocks) {
    const key = `${theme}\n${block.textContent ?? ""}`;
    const svg = cache.get(key);
    if (svg !== undefined) {
      block.innerHTML = svg;
      block.dataset.rendered = "cached";
    } else pending.push(block);
  }
  if (!pending.length) return;
  const mermaid = await load();
  if (configuredTheme !== theme) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme,
      htmlLabels: false,
      flowchart: { htmlLabels: false },
    });
    configuredTheme = theme;
  }
  for (const block of pending) {
    if (!block.isConnected || block.dataset.rendered) continue;
    const source = block.querySelector(".mermaid-source")?.textContent ?? "";
    const key = `${theme}\n${block.textContent ?? ""}`;
    try {
      const { svg } = await mermaid.render(`mermaid-${++counter}`, source);
      const clean = sanitize(svg, true);
      remember(key, clean);
      block.innerHTML = clean;
      block.dataset.rendered = "ok";
    } catch (e) {
      block.dataset.rendered = "error";
      const note = document.createElement("div");
      note.className = "mermaid-error";
      note.textContent = `Diagram error: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
      block.appendChild(note);
    } finally {
      // mermaid leaves its scratch element behind on errors
      document.getElementById(`dmermaid-${counter}`)?.remove();
    }
  }
}
