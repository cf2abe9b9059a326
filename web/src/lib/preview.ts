// The page's side of the preview worker (preview.worker.ts): one worker for the page, many
// views (the preview, reader mode, a version in the history dialog). A view sends its text
// when it changes, at most one render in flight (the newest text waits for the answer), and
// puts the blocks of each answer in place: blocks whose key it has are kept as they are (only
// their line is updated), new ones are parsed from the worker's sanitized HTML, and the rest
// are removed. A long text (many blocks) is shown virtually: only the blocks near the
// scroller's viewport are in the page, the others are the host's padding, at the height they
// had when last shown (or an estimate from their HTML); the page's work per keystroke and per
// frame stays that of a short text.
import type { WordStats } from "../features/editing/words";
import { joinBlocks } from "./blocks";
import type { BlockRef } from "./blocks";
import type { TocEntry } from "./markdown";
import { reservedNames } from "./reserved";

export type PreviewRequest =
  | { type: "render"; view: number; seq: number; source: string }
  | { type: "close"; view: number }
  | { type: "count"; id: number; source: string }
  | { type: "names"; names: string[] };

export interface PreviewReply {
  view: number;
  seq: number;
  /** the blocks between the first `head` and the last `tail` of the previous reply's (those
   * after them `shift` lines further down) */
  blocks?: { key: string; line: number; html?: string }[];
  head?: number;
  tail?: number;
  shift?: number;
  /** the table of contents, when it changed */
  toc?: TocEntry[];
  math?: boolean;
  /** the first screens of a long text: the rest follows in the next reply */
  partial?: boolean;
  error?: string;
}

/** The words of a text, counted in the worker. */
export interface CountReply extends WordStats {
  count: number;
}

let worker: Worker | null = null;
const listeners = new Map<number, (reply: PreviewReply) => void>();
let views = 0;
const counts = new Map<number, (stats: WordStats) => void>();
let counted = 0;

function theWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL("./preview.worker.ts", import.meta.url), { type: "module", name: "preview" });
  worker.onmessage = (e: MessageEvent<PreviewReply | CountReply>) => {
    const data = e.data;
    if ("count" in data) {
      counts.get(data.count)?.({ words: data.words, minutes: data.minutes });
      counts.delete(data.count);
    } else listeners.get(data.view)?.(data);
  };
  const names: PreviewRequest = { type: "names", names: reservedNames(document) };
  worker.postMessage(names);
  return worker;
}

// Started as soon as the editor's code is here, while the document is still being fetched.
theWorker();

/** Count the words of a text in the worker. */
export function countWords(source: string): Promise<WordStats> {
  const id = ++counted;
  return new Promise((resolve) => {
    counts.set(id, resolve);
    theWorker().postMessage({ type: "count", id, source } satisfies PreviewRequest);
  });
}

let katexCss: Promise<unknown> | null = null;

/** A block of the preview: its element and the key of what it shows. */
type BlockElement = HTMLElement & { _key?: string };

/** HTML of many blocks parsed at once, at most this much per task (the page stays responsive). */
const BATCH_BYTES = 96 * 1024;

/** A text of at least this many blocks is shown virtually. */
export const VIRTUAL_BLOCKS = 400;
/** The blocks shown beyond the viewport, above and below it, in viewport heights. */
const OVERSCAN = 1;

export interface Rendered {
  toc: TocEntry[];
  /** the blocks just put in place */
  added: HTMLElement[];
}

export class PreviewView {
  private id = ++views;
  private seq = 0;
  private busy = false;
  private next: string | null = null;
  private html = new Map<string, string>();
  /** how many of the text's blocks have each key (blocks may repeat) */
  private uses = new Map<string, number>();
  /** the blocks of the last reply */
  private list: BlockRef[] = [];
  private closed = false;
  /** the blocks the host shows, in order, once a render is fully in place */
  private shown: { key: string; line: number }[] | null = null;
  /** replies are put in place one after the other */
  private applying: Promise<void> = Promise.resolve();
  /** a long text, shown virtually */
  private virtual: Virtual | null = null;
  private toc: TocEntry[] = [];

  constructor(
    private host: HTMLElement,
    private onRendered: (r: Rendered) => void,
  ) {
    listeners.set(this.id, (reply) => {
      this.applying = this.applying.then(() => this.apply(reply));
    });
  }

  render(source: string): void {
    if (this.closed) return;
    if (this.busy) {
      this.next = source;
      return;
    }
    this.busy = true;
    const msg: PreviewRequest = { type: "render", view: this.id, seq: ++this.seq, source };
    theWorker().postMessage(msg);
  }

  /** Parse the blocks named by `key` again from their HTML (a theme change for diagrams). */
  refresh(which: (el: HTMLElement) => boolean): HTMLElement[] {
    const out: HTMLElement[] = [];
    for (const el of [...this.host.children] as BlockElement[]) {
      if (!el._key || !which(el)) continue;
      const fresh = this.parse([el._key])[0];
      fresh.dataset.line = el.dataset.line;
      el.replaceWith(fresh);
      out.push(fresh);
    }
    return out;
  }

  /** Put the block showing source line `line` at the top of the scroller; false when the text
   * is not shown virtually (its blocks are all in the page). */
  scrollToLine(line: number): boolean {
    if (!this.virtual) return false;
    this.virtual.scrollToLine(line);
    return true;
  }

  close(): void {
    this.closed = true;
    this.virtual?.close();
    this.virtual = null;
    listeners.delete(this.id);
    if (worker) worker.postMessage({ type: "close", view: this.id } satisfies PreviewRequest);
  }

  private parse(keys: string[]): BlockElement[] {
    const template = document.createElement("template");
    template.innerHTML = keys.map((k) => `<div class="md-block">${this.html.get(k) ?? ""}</div>`).join("");
    const els = [...template.content.children] as BlockElement[];
    els.forEach((el, i) => (el._key = keys[i]));
    return els;
  }

  private async apply(reply: PreviewReply): Promise<void> {
    if (this.closed) return;
    if (!reply.error) this.take(reply);
    const blocks = this.list;
    if (reply.math) katexCss ??= import("katex/dist/katex.min.css");
    if (this.next === null && !reply.error) {
      const toc = this.toc;
      if (!reply.partial && (blocks.length >= VIRTUAL_BLOCKS || (this.virtual && blocks.length >= VIRTUAL_BLOCKS / 2))) {
        this.showVirtually(blocks);
      } else {
        if (this.virtual) this.leaveVirtual();
        await this.patch(blocks, toc);
      }
    }
    if (reply.partial) return;
    this.busy = false;
    if (this.next !== null) {
      const source = this.next;
      this.next = null;
      this.render(source);
    }
  }

  /** The blocks of a reply: the previous ones' start and end around its middle; the HTML of
   * every key still used is kept. */
  private take(reply: PreviewReply): void {
    const prev = this.list;
    const head = reply.head ?? 0;
    const tail = reply.tail ?? 0;
    const shift = reply.shift ?? 0;
    const middle = reply.blocks ?? [];
    for (let i = head; i < prev.length - tail; i++) {
      const key = prev[i].key;
      const n = (this.uses.get(key) ?? 0) - 1;
      if (n > 0) this.uses.set(key, n);
      else this.uses.delete(key);
    }
    for (const b of middle) {
      if (b.html !== undefined) this.html.set(b.key, b.html);
      this.uses.set(b.key, (this.uses.get(b.key) ?? 0) + 1);
    }
    for (let i = head; i < prev.length - tail; i++) if (!this.uses.has(prev[i].key)) this.html.delete(prev[i].key);
    this.list = joinBlocks(prev, { head, tail, shift }, middle);
    if (reply.toc) this.toc = reply.toc;
  }

  /** Put the blocks in place: keep what is there, add what is new, remove the rest. */
  private async patch(blocks: { key: string; line: number }[], toc: TocEntry[]): Promise<void> {
    const host = this.host;
    if (this.shown && host.children.length === this.shown.length && this.patchMiddle(blocks, toc)) return;
    const have = new Map<string, BlockElement[]>();
    for (const el of [...host.children] as BlockElement[]) {
      const list = have.get(el._key ?? "");
      if (list) list.push(el);
      else have.set(el._key ?? "", [el]);
    }
    const chosen: (BlockElement | null)[] = blocks.map((b) => have.get(b.key)?.shift() ?? null);
    for (const list of have.values()) for (const el of list) el.remove();
    // New blocks, parsed in batches.
    const missing = blocks.map((_, i) => i).filter((i) => !chosen[i]);
    const added: HTMLElement[] = [];
    let batch: number[] = [];
    let bytes = 0;
    let first = true;
    const flush = async () => {
      if (!batch.length) return;
      // The first batch at once (what shows first); the rest when the page is idle, after
      // what opening the document still has to do.
      if (!first) await new Promise((r) => requestIdleCallback(r, { timeout: 1000 }));
      first = false;
      if (this.closed) return;
      const els = this.parse(batch.map((i) => blocks[i].key));
      batch.forEach((i, j) => (chosen[i] = els[j]));
      added.push(...els);
      this.place(blocks, chosen);
      batch = [];
      bytes = 0;
    };
    for (const i of missing) {
      batch.push(i);
      bytes += this.html.get(blocks[i].key)?.length ?? 0;
      if (bytes > BATCH_BYTES) await flush();
    }
    await flush();
    if (this.closed) return;
    this.place(blocks, chosen);
    this.shown = host.children.length === blocks.length ? blocks : null;
    this.onRendered({ toc, added });
  }

  private showVirtually(blocks: { key: string; line: number }[]): void {
    if (!this.virtual) {
      // The first look (or a short text) was shown in full: from now on only what is near the
      // viewport is.
      this.host.replaceChildren();
      this.shown = null;
      this.virtual = new Virtual(this.host, (keys) => this.parse(keys), (added) => this.onRendered({ toc: this.toc, added }), (key) => this.html.get(key)?.length ?? 0);
    }
    this.virtual.set(blocks);
  }

  private leaveVirtual(): void {
    this.virtual?.close();
    this.virtual = null;
    this.host.replaceChildren();
    this.shown = null;
  }

  /** Typing: the blocks before and after the change are the ones shown, in the same order;
   * only the middle is replaced, and lines are set where they moved (no walk over the DOM). */
  private patchMiddle(blocks: { key: string; line: number }[], toc: TocEntry[]): boolean {
    const host = this.host;
    const shown = this.shown!;
    const n = shown.length;
    const m = blocks.length;
    let start = 0;
    while (start < n && start < m && shown[start].key === blocks[start].key) start++;
    let end = 0;
    while (end < n - start && end < m - start && shown[n - 1 - end].key === blocks[m - 1 - end].key) end++;
    let bytes = 0;
    for (let i = start; i < m - end; i++) bytes += this.html.get(blocks[i].key)?.length ?? 0;
    if (bytes > BATCH_BYTES) return false; // more than typing makes: in batches
    const children = host.children;
    for (let i = n - end - 1; i >= start; i--) children[i].remove();
    const fresh = m - end > start ? this.parse(blocks.slice(start, m - end).map((b) => b.key)) : [];
    const before = children[start] ?? null;
    for (const el of fresh) host.insertBefore(el, before);
    for (let i = 0; i < m; i++) {
      const was = i < start ? shown[i].line : i >= m - end ? shown[i - m + n].line : -1;
      if (was !== blocks[i].line) (children[i] as HTMLElement).dataset.line = String(blocks[i].line);
    }
    this.shown = blocks;
    this.onRendered({ toc, added: fresh });
    return true;
  }

  /** Order the host's children as `blocks` (those parsed so far), each with its line. */
  private place(blocks: { key: string; line: number }[], chosen: (BlockElement | null)[]): void {
    const host = this.host;
    let cursor = host.firstElementChild;
    blocks.forEach((b, i) => {
      const el = chosen[i];
      if (!el) return;
      const line = String(b.line);
      if (el.dataset.line !== line) el.dataset.line = line;
      if (el === cursor) cursor = cursor.nextElementSibling;
      else host.insertBefore(el, cursor);
    });
  }
}

/** A long text shown virtually in `host`: its blocks near the scroller's viewport are in the page
 * and the rest is padding at the height they take. */
class Virtual {
  private blocks: { key: string; line: number }[] = [];
  /** each block's height: measured when it was last in the page, estimated otherwise */
  private heights: number[] = [];
  private measured: boolean[] = [];
  /** the blocks in the page: [from, to) */
  private from = 0;
  private to = 0;
  private els: BlockElement[] = [];
  private scroller: HTMLElement;
  private frame = 0;
  /** pixels of height per byte of HTML, learned from the blocks measured */
  private sumHeight = 0;
  private sumBytes = 0;
  private readonly onScroll = () => this.schedule();

  constructor(
    private host: HTMLElement,
    private parse: (keys: string[]) => BlockElement[],
    private onAdded: (added: HTMLElement[]) => void,
    private bytes: (key: string) => number,
  ) {
    this.scroller = host.closest<HTMLElement>(".scroll-pane") ?? host.parentElement ?? host;
    this.scroller.addEventListener("scroll", this.onScroll, { passive: true });
    window.addEventListener("resize", this.onScroll);
    // The view keeps the viewport's block in place itself as heights become known.
    host.style.overflowAnchor = "none";
  }

  close(): void {
    this.scroller.removeEventListener("scroll", this.onScroll);
    window.removeEventListener("resize", this.onScroll);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.host.style.paddingTop = "";
    this.host.style.paddingBottom = "";
    this.host.style.overflowAnchor = "";
  }

  /** A new list of blocks: heights are kept for the blocks before and after the change, and a
   * changed block in their middle keeps the height of the one it replaces. */
  set(blocks: { key: string; line: number }[]): void {
    const old = this.blocks;
    const n = old.length;
    const m = blocks.length;
    let start = 0;
    while (start < n && start < m && old[start].key === blocks[start].key) start++;
    let end = 0;
    while (end < n - start && end < m - start && old[n - 1 - end].key === blocks[m - 1 - end].key) end++;
    // A middle of as many blocks as before (typing in one): each keeps its predecessor's height.
    const same = m - end - start === n - end - start;
    const heights = this.heights.slice(0, start);
    const measured = this.measured.slice(0, start);
    for (let i = start; i < m - end; i++) {
      heights.push(same ? this.heights[i] : this.estimate(blocks[i].key));
      measured.push(false);
    }
    this.blocks = blocks;
    this.heights = heights.concat(this.heights.slice(n - end));
    this.measured = measured.concat(this.measured.slice(n - end));
    this.update(true);
  }

  offsetOfLine(line: number): { index: number; top: number } {
    // The last block starting at or before the line (blocks are in line order).
    let lo = 0;
    let hi = this.blocks.length - 1;
    let index = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid].line <= line) {
        index = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return { index, top: this.offset(index) };
  }

  scrollToLine(line: number): void {
    const { top } = this.offsetOfLine(line);
    this.scroller.scrollTop = this.hostTop() + top;
    this.update(false);
  }

  private estimate(key: string): number {
    const bytes = this.bytes(key);
    const perByte = this.sumBytes > 0 ? this.sumHeight / this.sumBytes : 0.3;
    return Math.max(24, bytes * perByte);
  }

  private offset(index: number): number {
    let top = 0;
    for (let i = 0; i < index; i++) top += this.heights[i];
    return top;
  }

  /** Where the host starts in the scroller's content. */
  private hostTop(): number {
    if (this.scroller === this.host) return 0;
    return this.host.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top + this.scroller.scrollTop;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.update(false);
    });
  }

  /** Put the blocks near the viewport in the page (again, when `changed`), measure them, and
   * keep the block at the top of the viewport where it is. */
  private update(changed: boolean): void {
    const m = this.blocks.length;
    const view = this.scroller.clientHeight || window.innerHeight;
    const top = this.scroller.scrollTop - this.hostTop();
    const low = top - view * OVERSCAN;
    const high = top + view * (1 + OVERSCAN);
    let from = 0;
    let at = 0;
    while (from < m && at + this.heights[from] < low) at += this.heights[from++];
    // The block at the viewport's top and how far into it the viewport starts.
    let anchor = from;
    let anchorAt = at;
    while (anchor < m - 1 && anchorAt + this.heights[anchor] <= top) anchorAt += this.heights[anchor++];
    const into = top - anchorAt;
    let to = from;
    let end = at;
    while (to < m && end < high) end += this.heights[to++];
    if (!changed && from === this.from && to === this.to) return;
    const added = this.place(from, to);
    this.measure();
    // Measured heights above the viewport moved it: put the block it showed back at its top.
    if (top > 0) {
      const want = this.hostTop() + this.offset(anchor) + into;
      if (Math.abs(this.scroller.scrollTop - want) >= 1) this.scroller.scrollTop = want;
    }
    if (added.length) this.onAdded(added);
  }

  /** The host shows blocks [from, to): those already there are kept, the rest parsed (and
   * returned). */
  private place(from: number, to: number): BlockElement[] {
    const have = new Map<string, BlockElement[]>();
    for (const el of this.els) {
      const list = have.get(el._key ?? "");
      if (list) list.push(el);
      else have.set(el._key ?? "", [el]);
    }
    const chosen: (BlockElement | null)[] = [];
    const missing: string[] = [];
    for (let i = from; i < to; i++) {
      const el = have.get(this.blocks[i].key)?.shift() ?? null;
      chosen.push(el);
      if (!el) missing.push(this.blocks[i].key);
    }
    for (const list of have.values()) for (const el of list) el.remove();
    const fresh = missing.length ? this.parse(missing) : [];
    let k = 0;
    const els = chosen.map((el) => el ?? fresh[k++]);
    let cursor = this.host.firstElementChild;
    els.forEach((el, i) => {
      const line = String(this.blocks[from + i].line);
      if (el.dataset.line !== line) el.dataset.line = line;
      if (el === cursor) cursor = cursor.nextElementSibling;
      else this.host.insertBefore(el, cursor);
    });
    this.els = els;
    this.from = from;
    this.to = to;
    this.pad();
    return fresh;
  }

  private pad(): void {
    let before = 0;
    for (let i = 0; i < this.from; i++) before += this.heights[i];
    let after = 0;
    for (let i = this.to; i < this.blocks.length; i++) after += this.heights[i];
    this.host.style.paddingTop = `${before}px`;
    this.host.style.paddingBottom = `${after}px`;
  }

  /** Heights of the blocks in the page (from one block's top to the next's: collapsed margins
   * included). */
  private measure(): void {
    const els = this.els;
    let moved = false;
    for (let i = 0; i < els.length; i++) {
      const h = i + 1 < els.length ? els[i + 1].offsetTop - els[i].offsetTop : els[i].offsetHeight + 16;
      const index = this.from + i;
      if (!this.measured[index]) {
        this.measured[index] = true;
        this.sumHeight += h;
        this.sumBytes += this.bytes(this.blocks[index].key);
      }
      if (Math.abs(this.heights[index] - h) >= 0.5) {
        this.heights[index] = h;
        moved = true;
      }
    }
    if (moved) this.pad();
  }
}
