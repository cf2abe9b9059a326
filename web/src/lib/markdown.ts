// Markdown → safe HTML for the live preview and reader mode.
//
// markdown-it (CommonMark + GFM tables and strikethrough, task lists, linkify), highlight.js
// for fenced code, KaTeX for $math$ and $$math$$, mermaid fences left as placeholders that
// `renderDiagrams` fills in later (lazily loaded). Whatever comes out is sanitized with
// DOMPurify: a document's author must never run script in a reader's browser.
import MarkdownItFactory from "markdown-it";
import type { MarkdownIt, StateCore, Token } from "markdown-it";
import { escapeHtml, highlight } from "./highlight";
import { sanitize, sanitizeToFragment } from "./sanitize";
import { slugify } from "./slug";

type PluginSimple = (md: MarkdownIt) => void;

export interface TocEntry {
  level: number;
  text: string;
  id: string;
  line: number;
}

export interface Rendered {
  html: string;
  toc: TocEntry[];
}

interface Env {
  [key: string]: unknown;
  toc: TocEntry[];
  slugs: Map<string, number>;
}

/** GFM task lists: `- [ ] todo` and `- [x] done` become (read-only) checkboxes. */
const taskLists: PluginSimple = (md) => {
  md.core.ruler.after("inline", "task_lists", (state: StateCore) => {
    const tokens = state.tokens;
    for (let i = 2; i < tokens.length; i++) {
      const inline = tokens[i];
      if (
        inline.type !== "inline" ||
        tokens[i - 1].type !== "paragraph_open" ||
        tokens[i - 2].type !== "list_item_open"
      ) {
        continue;
      }
      const first = inline.children?.[0];
      const m = first?.type === "text" ? /^\[([ xX])\][ \t]/.exec(first.content) : null;
      if (!first || !m) continue;
      first.content = first.content.slice(m[0].length);
      const box = new state.Token("html_inline", "", 0);
      const checked = m[1] !== " ";
      // The item's source line, for an editor's click to toggle `[ ]`/`[x]` in the text.
      const at = tokens[i - 2].map?.[0];
      const line = at != null ? ` data-task-line="${at}"` : "";
      box.content = `<input type="checkbox" class="task-checkbox" disabled${checked ? " checked" : ""}${line}> `;
      inline.children!.unshift(box);
      tokens[i - 2].attrJoin("class", "task-list-item");
      // Mark the enclosing list.
      for (let j = i - 3; j >= 0; j--) {
        const t = tokens[j];
        if ((t.type === "bullet_list_open" || t.type === "ordered_list_open") && t.level === tokens[i - 2].level - 1) {
          t.attrJoin("class", "contains-task-list");
          break;
        }
      }
    }
  });
};

/** Heading ids (prefixed, unique) and the table of contents, collected into env. */
const headingIds: PluginSimple = (md) => {
  md.core.ruler.push("heading_ids", (state: StateCore) => {
    const env = state.env as Partial<Env>;
    const toc = (env.toc ??= []);
    const slugs = (env.slugs ??= new Map());
    const tokens = state.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.type !== "heading_open") continue;
      const inline = tokens[i + 1];
      const text = (inline.children ?? [])
        .filter((c: Token) => c.type === "text" || c.type === "code_inline" || c.type === "math_inline")
        .map((c: Token) => c.content)
        .join("")
        .trim();
      const base = `h-${slugify(text) || "section"}`;
      const n = slugs.get(base) ?? 0;
      slugs.set(base, n + 1);
      const id = n ? `${base}-${n}` : base;
      t.attrSet("id", id);
      toc.push({ level: Number(t.tag.slice(1)), text, id, line: t.map?.[0] ?? 0 });
    }
  });
};

/** `data-line` on block elements so the preview can follow the editor's scroll position. */
const sourceLines: PluginSimple = (md) => {
  md.core.ruler.push("source_lines", (state: StateCore) => {
    for (const t of state.tokens) {
      if (t.map && t.nesting >= 0 && t.level === 0 && t.type !== "inline") {
        t.attrSet("data-line", String(t.map[0]));
      }
    }
  });
};

type MathPlugin = (md: MarkdownIt) => void;

function createMarkdown(math: MathPlugin | null): MarkdownIt {
  const md = new MarkdownItFactory({
    html: true,
    linkify: true,
    typographer: false,
    // markdown-it wraps the result in <pre><code class="language-x" data-line=…>.
    highlight: (code, lang) => highlight(code, lang),
  });
  if (math) md.use(math);
  md.use(taskLists).use(headingIds).use(sourceLines);

  const fence = md.renderer.rules.fence!;
  md.renderer.rules.fence = (tokens: Token[], idx, options, env, self) => {
    const token = tokens[idx];
    const info = token.info.trim().split(/\s+/)[0].toLowerCase();
    if (info === "mermaid") {
      const line = token.attrGet("data-line");
      const at = line != null ? ` data-line="${escapeHtml(String(line))}"` : "";
      return `<div class="mermaid-block"${at}><pre class="mermaid-source">${escapeHtml(token.content)}</pre></div>\n`;
    }
    return fence(tokens, idx, options, env, self);
  };
  return md;
}

// KaTeX is large: it is loaded the first time a document has something that looks like math,
// and until then math shows as written. `onMathReady` listeners render again once it is in.
let plain: MarkdownIt | null = null;
let withMath: MarkdownIt | null = null;
let mathLoading: Promise<void> | null = null;
const mathListeners = new Set<() => void>();

const MATH_HINT = /\$|```\s*math|~~~\s*math/;

/** Load KaTeX (once); resolves when math renders. */
export function loadMath(): Promise<void> {
  mathLoading ??= import("./math").then((m) => {
    withMath = createMarkdown(m.mathPlugin);
    mathListeners.forEach((l) => l());
  });
  return mathLoading;
}

export function onMathReady(listener: () => void): () => void {
  mathListeners.add(listener);
  return () => mathListeners.delete(listener);
}

function toHtml(source: string): { raw: string; toc: TocEntry[] } {
  let md = withMath;
  if (!md) {
    if (MATH_HINT.test(source)) void loadMath();
    md = plain ??= createMarkdown(null);
  }
  const env: Env = { toc: [], slugs: new Map() };
  const raw = md.render(source, env as unknown as Parameters<MarkdownIt["render"]>[1]);
  return { raw, toc: env.toc };
}

/** Render Markdown to sanitized HTML plus its table of contents. */
export function renderMarkdown(source: string): Rendered {
  const { raw, toc } = toHtml(source);
  return { html: sanitize(raw), toc };
}

export interface RenderedFragment {
  fragment: DocumentFragment;
  toc: TocEntry[];
}

/** The same as a sanitized fragment of this document, ready to insert. */
export function renderMarkdownFragment(source: string): RenderedFragment {
  const { raw, toc } = toHtml(source);
  return { fragment: sanitizeToFragment(raw), toc };
}

/** The first heading, or the first line, for a title suggestion. */
export function firstHeading(source: string): string | null {
  const m = /^#{1,6}\s+(.+?)\s*#*\s*$/m.exec(source);
  return m ? m[1] : null;
}
