// The preview's worker: Markdown is rendered and sanitized here, off the page's main thread,
// block by block (markdown.ts). For each view it answers with every block's key and line, and
// the HTML only of the blocks that view does not have yet.
import { BlockCache, head, prepare, renderBlocks } from "./markdown";
import { setReservedNames } from "./sanitize";
import type { RenderedBlocks } from "./markdown";
import type { PreviewReply, PreviewRequest } from "./preview";

interface View {
  cache: BlockCache;
  /** keys whose HTML the view has */
  sent: Set<string>;
}

const views = new Map<number, View>();
let queue: Promise<void> = Promise.resolve();

async function handle(msg: PreviewRequest): Promise<void> {
  if (msg.type === "names") {
    setReservedNames(msg.names);
    return;
  }
  if (msg.type === "close") {
    views.delete(msg.view);
    return;
  }
  let view = views.get(msg.view);
  if (!view) views.set(msg.view, (view = { cache: new BlockCache(), sent: new Set() }));
  await prepare(msg.source);
  // A long text the view has nothing of yet: its first screens go first, on their own.
  if (!view.sent.size) {
    const start = head(msg.source, FIRST_LOOK);
    if (start.length < msg.source.length) reply(msg, view, renderBlocks(start, view.cache), true);
  }
  reply(msg, view, renderBlocks(msg.source, view.cache), false);
}

/** About this much text is rendered first when a view opens a long text. */
const FIRST_LOOK = 16 * 1024;

function reply(msg: { view: number; seq: number }, view: View, rendered: RenderedBlocks, partial: boolean): void {
  const sent = new Set<string>();
  const blocks = rendered.blocks.map((b) => {
    const fresh = !view.sent.has(b.key) && !sent.has(b.key);
    sent.add(b.key);
    return fresh ? { key: b.key, line: b.line, html: b.html } : { key: b.key, line: b.line };
  });
  // The view keeps exactly the blocks of its last reply (a first look's are all in the next).
  view.sent = sent;
  const out: PreviewReply = { view: msg.view, seq: msg.seq, blocks, toc: rendered.toc, math: rendered.math, partial };
  self.postMessage(out);
}

self.onmessage = (e: MessageEvent<PreviewRequest>) => {
  queue = queue.then(() => handle(e.data)).catch((err: unknown) => {
    const m = e.data;
    if (m.type === "render") self.postMessage({ view: m.view, seq: m.seq, error: String(err) } satisfies PreviewReply);
  });
};
