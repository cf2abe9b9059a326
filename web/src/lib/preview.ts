// The page's side of the preview worker (preview.worker.ts): one worker for the page, many
// views (the preview, reader mode, a version in the history dialog). A view sends its text
// when it changes, at most one render in flight (the newest text waits for the answer), and
// puts the blocks of each answer in place: blocks whose key it has are kept as they are (only
// their line is updated), new ones are parsed from the worker's sanitized HTML, and the rest
// are removed.
import type { TocEntry } from "./markdown";
import { reservedNames } from "./reserved";

export type PreviewRequest =
  | { type: "render"; view: number; seq: number; source: string }
  | { type: "close"; view: number }
  | { type: "names"; names: string[] };

export interface PreviewReply {
  view: number;
  seq: number;
  blocks?: { key: string; line: number; html?: string }[];
  toc?: TocEntry[];
  math?: boolean;
  /** the first screens of a long text: the rest follows in the next reply */
  partial?: boolean;
  error?: string;
}

let worker: Worker | null = null;
const listeners = new Map<number, (reply: PreviewReply) => void>();
let views = 0;

function theWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(new URL("./preview.worker.ts", import.meta.url), { type: "module", name: "preview" });
  worker.onmessage = (e: MessageEvent<PreviewReply>) => listeners.get(e.data.view)?.(e.data);
  const names: PreviewRequest = { type: "names", names: reservedNames(document) };
  worker.postMessage(names);
  return worker;
}

// Started as soon as the editor's code is here, while the document is still being fetched.
theWorker();

let katexCss: Promise<unknown> | null = null;

/** A block of the preview: its element and the key of what it shows. */
type BlockElement = HTMLElement & { _key?: string };

/** HTML of many blocks parsed at once, at most this much per task (the page stays responsive). */
const BATCH_BYTES = 96 * 1024;

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
  private closed = false;
  /** the blocks the host shows, in order, once a render is fully in place */
  private shown: { key: string; line: number }[] | null = null;
  /** replies are put in place one after the other */
  private applying: Promise<void> = Promise.resolve();

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

  close(): void {
    this.closed = true;
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
    const blocks = reply.blocks ?? [];
    for (const b of blocks) if (b.html !== undefined) this.html.set(b.key, b.html);
    const wanted = new Set(blocks.map((b) => b.key));
    for (const k of this.html.keys()) if (!wanted.has(k)) this.html.delete(k);
    if (reply.math) katexCss ??= import("katex/dist/katex.min.css");
    if (this.next === null && !reply.error) await this.patch(blocks, reply.toc ?? []);
    if (reply.partial) return;
    this.busy = false;
    if (this.next !== null) {
      const source = this.next;
      this.next = null;
      this.render(source);
    }
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
