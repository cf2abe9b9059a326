// Mermaid diagrams in the preview: the library (large) is loaded only when a document has a
// ```mermaid fence, runs with securityLevel "strict", and its SVG is sanitized again.
type Mermaid = (typeof import("mermaid"))["default"];
type Sanitize = (typeof import("./purify"))["sanitize"];

let loading: Promise<[Mermaid, Sanitize]> | null = null;
let configuredTheme: string | null = null;
const cache = new Map<string, string>();
let counter = 0;

function load(): Promise<[Mermaid, Sanitize]> {
  loading ??= Promise.all([import("mermaid").then((m) => m.default), import("./purify").then((m) => m.sanitize)]);
  return loading;
}

function remember(key: string, svg: string) {
  if (cache.size > 64) cache.delete(cache.keys().next().value!);
  cache.set(key, svg);
}

// mermaid keeps global state while it renders: one diagram at a time, across all callers.
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** Replace each not yet rendered `.mermaid-block` under root with its diagram. */
export async function renderDiagrams(root: HTMLElement, dark: boolean): Promise<void> {
  const blocks = [...root.querySelectorAll<HTMLElement>(".mermaid-block:not([data-rendered])")];
  if (!blocks.length) return;
  const theme = dark ? "dark" : "default";
  const pending: HTMLElement[] = [];
  for (const block of blocks) {
    const svg = cache.get(`${theme}\n${block.textContent ?? ""}`);
    if (svg !== undefined) {
      block.innerHTML = svg;
      block.dataset.rendered = "cached";
    } else pending.push(block);
  }
  if (!pending.length) return;
  const [mermaid, sanitize] = await load();
  for (const block of pending) {
    await serially(async () => {
      if (!block.isConnected || block.dataset.rendered) return;
      if (configuredTheme !== theme) {
        mermaid.initialize({
          startOnLoad: false,
          securityLevel: "strict",
          theme,
          htmlLabels: false,
          flowchart: { htmlLabels: false },
          // Diagrams may not change these through %%{init}%% directives.
          secure: ["secure", "securityLevel", "startOnLoad", "maxTextSize", "maxEdges", "themeCSS", "themeVariables", "fontFamily", "altFontFamily", "htmlLabels", "flowchart"],
        });
        configuredTheme = theme;
      }
      const source = block.querySelector(".mermaid-source")?.textContent ?? "";
      const key = `${theme}\n${block.textContent ?? ""}`;
      const done = cache.get(key);
      if (done !== undefined) {
        block.innerHTML = done;
        block.dataset.rendered = "cached";
        return;
      }
      const id = `mermaid-${++counter}`;
      try {
        const { svg } = await mermaid.render(id, source);
        const clean = sanitize(svg, true);
        remember(key, clean);
        if (!block.isConnected) return;
        block.innerHTML = clean;
        block.dataset.rendered = "ok";
      } catch (e) {
        block.dataset.rendered = "error";
        const note = document.createElement("div");
        note.className = "mermaid-error";
        note.textContent = `Diagram error: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
        block.appendChild(note);
        // mermaid can leave its scratch element behind when a diagram fails
        document.getElementById(`d${id}`)?.remove();
      }
    });
  }
}
