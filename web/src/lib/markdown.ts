// Markdown → safe HTML for the live preview and reader mode, free of the DOM: it runs in the
// preview worker (preview.worker.ts), and in tests.
//
// markdown-it (CommonMark + GFM tables and strikethrough, task lists, linkify), highlight.js
// for fenced code, KaTeX for $math$ and $$math$$ (each loaded when a text first needs it),
// mermaid fences left as placeholders that `renderDiagrams` fills in later in the page.
// Whatever comes out is sanitized (sanitize.ts): a document's author must never run script in
// a reader's browser.
//
// A text is rendered block by block: its top-level blocks (a paragraph, a heading, a list, a
// fence, a table…) are found by markdown-it's block parser, each is rendered and sanitized on
// its own with the text's link references, and kept by its content; typing re-renders only
// the block it changes, and the page replaces only that block.
import MarkdownItFactory from "markdown-it";
import type { MarkdownIt, StateCore, Token } from "markdown-it";
import { escapeHtml, fenceLanguages, highlight, loadLanguages } from "./highlight";
import { sanitizeHtml } from "./sanitize";
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
  /** the block's first line in the whole text */
  offset: number;
  /** heading ids decided for the whole text, in order (the block's own slugs otherwise) */
  ids?: string[];
  /** the block has a task checkbox (its source line is in the HTML) */
  tasks?: boolean;
  /** the headings' ids before they are made unique */
  bases?: string[];
  references?: unknown;
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
      const box = new state.Token("task_checkbox", "", 0);
      const checked = m[1] !== " ";
      // The item's source line, for an editor's click to toggle `[ ]`/`[x]` in the text.
      const at = tokens[i - 2].map?.[0];
      const env = state.env as Partial<Env>;
      env.tasks = true;
      const line = at != null ? ` data-task-line="${at + (env.offset ?? 0)}"` : "";
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
      const id = env.ids?.[toc.length] ?? (n ? `${base}-${n}` : base);
      t.attrSet("id", id);
      toc.push({ level: Number(t.tag.slice(1)), text, id, line: (t.map?.[0] ?? 0) + (env.offset ?? 0) });
      (env.bases ??= []).push(base);
    }
  });
};

/** `data-line` on block elements so the preview can follow the editor's scroll position. */
const sourceLines: PluginSimple = (md) => {
  md.core.ruler.push("source_lines", (state: StateCore) => {
    for (const t of state.tokens) {
      if (t.map && t.nesting >= 0 && t.level === 0 && t.type !== "inline") {
        t.attrSet("data-line", String(t.map[0] + ((state.env as Partial<Env>).offset ?? 0)));
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

  // The checkbox of a task list item: markup this module writes (not the author's HTML).
  md.renderer.rules.task_checkbox = (tokens: Token[], idx) => tokens[idx].content;
  // Links to other sites open in a new tab, without an opener.
  md.renderer.rules.link_open = (tokens: Token[], idx, options, _env, self) => {
    const t = tokens[idx];
    if (/^https?:\/\//i.test(String(t.attrGet("href") ?? ""))) {
      t.attrSet("target", "_blank");
      t.attrSet("rel", "noopener noreferrer nofollow");
    }
    return self.renderToken(tokens, idx, options);
  };

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

// KaTeX is large: it is loaded the first time a text has something that looks like math.
let plain: MarkdownIt | null = null;
let withMath: MarkdownIt | null = null;
let mathLoading: Promise<void> | null = null;

const MATH_HINT = /\$|```\s*math|~~~\s*math/;

/** Load KaTeX (once); resolves when math renders. */
export function loadMath(): Promise<void> {
  mathLoading ??= import("./math").then((m) => {
    withMath = createMarkdown(m.mathPlugin);
  });
  return mathLoading;
}

/** Load what `source` needs to render in full: its code languages, and KaTeX for math. */
export async function prepare(source: string): Promise<void> {
  await Promise.all([loadLanguages(fenceLanguages(source)), MATH_HINT.test(source) ? loadMath() : null]);
}

function parser(): MarkdownIt {
  return withMath ?? (plain ??= createMarkdown(null));
}

/** One top-level block of a text: where it starts and its own source. */
interface Block {
  line: number;
  text: string;
}

/** The top-level blocks of a text and its link reference definitions, from the block parser
 * alone (no inline parsing, no rendering). */
function blocksOf(md: MarkdownIt, source: string): { blocks: Block[]; references: unknown } {
  const src = source.replace(/\r\n?/g, "\n").replace(/\0/g, "\uFFFD");
  const env: Record<string, unknown> = {};
  const tokens: Token[] = [];
  const block = md.block as unknown as {
    State: new (src: string, md: MarkdownIt, env: unknown, tokens: Token[]) => { bMarks: number[]; eMarks: number[]; line: number; lineMax: number };
    tokenize: (state: unknown, start: number, end: number) => void;
  };
  const state = new block.State(src, md, env, tokens);
  block.tokenize(state, state.line, state.lineMax);
  const blocks: Block[] = [];
  for (const t of tokens) {
    if (t.level !== 0 || t.nesting < 0 || !t.map) continue;
    const [from, to] = t.map;
    const end = Math.min(to, state.lineMax) - 1;
    blocks.push({ line: from, text: src.slice(state.bMarks[from], end >= from ? state.eMarks[end] : state.bMarks[from]) });
  }
  return { blocks, references: env.references ?? {} };
}

/** A block rendered and sanitized. */
interface RenderedBlock {
  html: string;
  toc: TocEntry[];
  /** the headings' ids before they are made unique in the whole text */
  bases: string[];
  /** its HTML names its lines in the whole text (task checkboxes) */
  placed: boolean;
}

/** Tokens markdown-it passes through as the author wrote them (raw HTML), or that another
 * library writes (KaTeX): a block with any of them is sanitized. Everything else markdown-it
 * writes itself, escaping text and checking link addresses (markdown-it's validateLink). */
const UNTRUSTED = new Set(["html_block", "html_inline", "math_inline", "math_block", "math_inline_double", "math_block_eqno"]);

function untrusted(tokens: Token[]): boolean {
  for (const t of tokens) {
    if (UNTRUSTED.has(t.type) || t.type.startsWith("math")) return true;
    if (t.children && untrusted(t.children)) return true;
  }
  return false;
}

function renderBlock(md: MarkdownIt, text: string, offset: number, references: unknown, ids?: string[]): RenderedBlock {
  const env: Env = { toc: [], slugs: new Map(), offset, ids, references };
  const menv = env as unknown as Parameters<MarkdownIt["parse"]>[1];
  const tokens = md.parse(text, menv);
  const raw = md.renderer.render(tokens, md.options, menv);
  const html = untrusted(tokens) ? sanitizeHtml(raw) : raw;
  return { html, toc: env.toc, bases: env.bases ?? [], placed: !!env.tasks };
}

/** A rendered text: one entry a top-level block, with a key that changes when its HTML does. */
export interface RenderedBlocks {
  blocks: { key: string; line: number; html: string }[];
  toc: TocEntry[];
  math: boolean;
}

/** 53 bits of hash of a string (cyrb53), to key blocks by their content. */
function hash(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36) + s.length.toString(36);
}

/** Rendered blocks kept between renders of one text, by their source (and what else their HTML
 * depends on). */
export class BlockCache {
  private kept = new Map<string, RenderedBlock>();
  private used = new Map<string, RenderedBlock>();
  private md: MarkdownIt | null = null;

  get(key: string, make: () => RenderedBlock): RenderedBlock {
    let hit = this.used.get(key) ?? this.kept.get(key);
    if (!hit) hit = make();
    this.used.set(key, hit);
    return hit;
  }

  /** Start a render: a change of parser (KaTeX came in) drops everything. */
  begin(md: MarkdownIt): void {
    if (this.md !== md) this.kept.clear();
    this.md = md;
  }

  /** End a render: keep only what it used. */
  end(): void {
    this.kept = this.used;
    this.used = new Map();
  }
}

/**
 * Render a text block by block (after `prepare`), reusing what `cache` kept of earlier renders.
 * `placed`: blocks carry their lines in the whole text (the preview keeps lines relative to
 * each block, and marks each block with its first line itself).
 */
export function renderBlocks(source: string, cache = new BlockCache(), placed = false): RenderedBlocks {
  const md = parser();
  cache.begin(md);
  const { blocks, references } = blocksOf(md, source);
  const refs = JSON.stringify(references);
  const refKey = hash(refs);
  const slugs = new Map<string, number>();
  const out: RenderedBlocks = { blocks: [], toc: [], math: md === withMath };
  for (const b of blocks) {
    const base = `${hash(b.text)}${refs.length > 2 ? `.${refKey}` : ""}`;
    let at = placed ? b.line : 0;
    let r = cache.get(`${base}.${at}`, () => renderBlock(md, b.text, at, references));
    if (r.placed && at !== b.line) {
      // Task lines are in the HTML: the block's place is part of it.
      at = b.line;
      r = cache.get(`${base}.${at}`, () => renderBlock(md, b.text, at, references));
    }
    let key = `${base}.${at}`;
    // Heading ids unique in the whole text: "h-intro", then "h-intro-1".
    const ids = r.bases.map((slug) => {
      const n = slugs.get(slug) ?? 0;
      slugs.set(slug, n + 1);
      return n ? `${slug}-${n}` : slug;
    });
    if (ids.some((id, i) => id !== r.toc[i].id)) {
      key = `${key}.${ids.join(" ")}`;
      const offset = at;
      r = cache.get(key, () => renderBlock(md, b.text, offset, references, ids));
    }
    // A block that renders to nothing (a link reference definition) takes no place.
    if (r.html) out.blocks.push({ key, line: b.line, html: r.html });
    for (const t of r.toc) out.toc.push({ ...t, line: t.line - at + b.line });
  }
  cache.end();
  return out;
}

/** The start of a long text, cut at a blank line after about `bytes` characters (outside a
 * fence), for a first look; the whole text when it is short. */
export function head(source: string, bytes: number): string {
  if (source.length <= bytes * 2) return source;
  let fence = false;
  let at = 0;
  for (const line of source.slice(0, bytes * 2).split("\n")) {
    if (/^[ \t]{0,3}(```|~~~)/.test(line)) fence = !fence;
    at += line.length + 1;
    if (at >= bytes && !fence && line.trim() === "") return source.slice(0, at);
  }
  return source.slice(0, bytes * 2);
}

/** Render a whole text to sanitized HTML plus its table of contents (after `prepare`). */
export function renderMarkdown(source: string): Rendered {
  const r = renderBlocks(source, new BlockCache(), true);
  return { html: r.blocks.map((b) => b.html).join(""), toc: r.toc };
}

/** The first heading, or the first line, for a title suggestion. */
export function firstHeading(source: string): string | null {
  const m = /^#{1,6}\s+(.+?)\s*#*\s*$/m.exec(source);
  return m ? m[1] : null;
}
