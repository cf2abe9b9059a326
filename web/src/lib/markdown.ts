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

/** One top-level block of a text: its first line, where that line starts, its own source, and
 * a hash of that source. */
interface Block {
  line: number;
  start: number;
  text: string;
  hash: string;
}

/** A text's top-level blocks as the block parser found them (no inline parsing, no rendering),
 * and its link reference definitions: kept, so that the text's next version is parsed again only
 * around what changed. */
export interface ParsedText {
  source: string;
  md: MarkdownIt;
  blocks: Block[];
  references: Record<string, unknown>;
}

interface BlockState {
  bMarks: number[];
  eMarks: number[];
  sCount: number[];
  blkIndent: number;
  line: number;
  lineMax: number;
  level: number;
  tight: boolean;
  skipEmptyLines(line: number): number;
  isEmpty(line: number): boolean;
}

type BlockRule = (state: BlockState, line: number, end: number, silent: boolean) => boolean;

/**
 * The top-level blocks of `src` (from offset `from`, a line's start, which is line `firstLine` of
 * the whole text), found by markdown-it's block rules in the order its own block tokenizer runs
 * them. `stop(offset, line, lines)` is asked at each block's start (blank lines skipped): true
 * ends the scan there, and that offset is returned. A scan from a block's start reads only the
 * lines after it, so the blocks it finds are the whole text's.
 */
function scanBlocks(
  md: MarkdownIt,
  src: string,
  from: number,
  firstLine: number,
  out: Block[],
  env: Record<string, unknown>,
  stop?: (offset: number, line: number, lines: number) => boolean,
): number | null {
  const tokens: Token[] = [];
  const block = md.block as unknown as {
    State: new (src: string, md: MarkdownIt, env: unknown, tokens: Token[]) => BlockState;
    ruler: { getRules: (chain: string) => BlockRule[] };
  };
  const text = from ? src.slice(from) : src;
  const state = new block.State(text, md, env, tokens);
  const rules = block.ruler.getRules("");
  const end = state.lineMax;
  const maxNesting = md.options.maxNesting ?? 100;
  let taken = 0;
  const take = () => {
    for (; taken < tokens.length; taken++) {
      const t = tokens[taken];
      if (t.level !== 0 || t.nesting < 0 || !t.map) continue;
      const [first, to] = t.map;
      const last = Math.min(to, end) - 1;
      const source = text.slice(state.bMarks[first], last >= first ? state.eMarks[last] : state.bMarks[first]);
      out.push({ line: first + firstLine, start: from + state.bMarks[first], text: source, hash: hash(source) });
    }
  };
  // markdown-it's ParserBlock.tokenize, asking `stop` before each block.
  let line = state.line;
  let hasEmptyLines = false;
  while (line < end) {
    state.line = line = state.skipEmptyLines(line);
    if (line >= end) break;
    if (stop?.(from + state.bMarks[line], line, end)) {
      take();
      return from + state.bMarks[line];
    }
    if (state.sCount[line] < state.blkIndent) break;
    if (state.level >= maxNesting) {
      state.line = end;
      break;
    }
    const before = state.line;
    let ok = false;
    for (const rule of rules) {
      ok = rule(state, line, end, false);
      if (ok) {
        if (before >= state.line) throw new Error("block rule didn't increment state.line");
        break;
      }
    }
    if (!ok) throw new Error("none of the block rules matched");
    state.tight = !hasEmptyLines;
    if (state.isEmpty(state.line - 1)) hasEmptyLines = true;
    line = state.line;
    if (line < end && state.isEmpty(line)) {
      hasEmptyLines = true;
      line++;
      state.line = line;
    }
  }
  take();
  return null;
}

/** The length of the common start of two strings, and of their common end after it. */
function commonEnds(a: string, b: string): [number, number] {
  const limit = Math.min(a.length, b.length);
  const STEP = 4096;
  let start = 0;
  while (start + STEP <= limit && a.slice(start, start + STEP) === b.slice(start, start + STEP)) start += STEP;
  while (start < limit && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let end = 0;
  const room = limit - start;
  while (end + STEP <= room && a.slice(a.length - end - STEP, a.length - end) === b.slice(b.length - end - STEP, b.length - end)) end += STEP;
  while (end < room && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++;
  return [start, end];
}

/** A text as markdown-it reads it: line ends as "\n", no NUL characters. */
export function normalized(source: string): string {
  return /[\r\0]/.test(source) ? source.replace(/\r\n?/g, "\n").replace(/\0/g, "\uFFFD") : source;
}

/** The lines of `after` that are not in `before` (all of it without a `before`). */
export function changedLines(before: string | null | undefined, after: string): string {
  if (before == null) return after;
  const [same, tail] = commonEnds(before, after);
  const from = after.lastIndexOf("\n", same - 1) + 1;
  const end = after.indexOf("\n", after.length - tail);
  return after.slice(from, end < 0 ? after.length : end);
}

function newlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let at = s.indexOf("\n", from); at >= 0 && at < to; at = s.indexOf("\n", at + 1)) n++;
  return n;
}

/** A text is scanned again at most this far past a change at first (then 4 times as far, …). */
const RESCAN = 8 * 1024;

/**
 * The blocks of `source`: of a text that `previous` parsed, only the part around the change is
 * scanned again, from two blocks before it (a block's end depends on the line after it) to the
 * first block start past it that was a block start before; the blocks before and after are
 * `previous`'s, moved. A text with link reference definitions is scanned whole (a definition
 * anywhere changes every block that uses it).
 */
export function parseText(source: string, previous?: ParsedText | null, reach = RESCAN): ParsedText {
  const md = parser();
  const src = normalized(source);
  if (previous && previous.md === md && Object.keys(previous.references).length === 0) {
    if (previous.source === src) return previous;
    const partial = reparse(md, src, previous, reach);
    if (partial) return partial;
  }
  const blocks: Block[] = [];
  const env: Record<string, unknown> = {};
  scanBlocks(md, src, 0, 0, blocks, env);
  return { source: src, md, blocks, references: (env.references as Record<string, unknown>) ?? {} };
}

function reparse(md: MarkdownIt, src: string, previous: ParsedText, reach: number): ParsedText | null {
  const old = previous.source;
  const [same, tail] = commonEnds(old, src);
  const delta = src.length - old.length;
  const changedTo = src.length - tail; // the change's end in the new text
  const movedLines = newlines(src, same, changedTo) - newlines(old, same, old.length - tail);
  const blocks = previous.blocks;
  // The last block starting at or before the change, and two before it.
  let lo = 0;
  let hi = blocks.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (blocks[mid].start <= same) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const first = Math.max(0, at - 2);
  const from = at < 0 ? 0 : blocks[first].start;
  const firstLine = at < 0 ? 0 : blocks[first].line;
  const starts = new Map<number, number>();
  for (let i = first; i < blocks.length; i++) if (blocks[i].start >= old.length - tail) starts.set(blocks[i].start, i);
  for (; ; reach *= 4) {
    // A window ending at a line's start, `reach` past the change (the whole rest at most).
    const cut = changedTo + reach >= src.length ? src.length : src.indexOf("\n", changedTo + reach) + 1 || src.length;
    const window = src.slice(0, cut);
    const whole = cut === src.length;
    const found: Block[] = [];
    const env: Record<string, unknown> = {};
    let resume = -1;
    // A block start past the change that was one before: from there on the text is as it was.
    const synced = scanBlocks(md, window, from, firstLine, found, env, (offset, line, lines) => {
      if (offset < changedTo || (!whole && line + 2 >= lines)) return false;
      const i = starts.get(offset - delta);
      if (i === undefined) return false;
      resume = i;
      return true;
    });
    if (env.references) return null;
    if (synced === null && !whole) continue;
    const out = blocks.slice(0, first).concat(found);
    if (synced !== null) {
      for (let i = resume; i < blocks.length; i++) {
        const b = blocks[i];
        out.push({ line: b.line + movedLines, start: b.start + delta, text: b.text, hash: b.hash });
      }
    }
    return { source: src, md, blocks: out, references: {} };
  }
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
export function renderBlocks(source: string | ParsedText, cache = new BlockCache(), placed = false): RenderedBlocks {
  const parsed = typeof source === "string" ? parseText(source) : source;
  const md = parsed.md;
  cache.begin(md);
  const { blocks, references } = parsed;
  const refs = JSON.stringify(references);
  const refKey = hash(refs);
  const slugs = new Map<string, number>();
  const out: RenderedBlocks = { blocks: [], toc: [], math: md === withMath };
  for (const b of blocks) {
    const base = `${b.hash}${refs.length > 2 ? `.${refKey}` : ""}`;
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
