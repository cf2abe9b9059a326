// The preview's worker: Markdown is rendered and sanitized here, off the page's main thread,
// block by block (markdown.ts). For each view it answers with every block's key and line, and
// the HTML only of the blocks that view does not have yet; of a text it showed before, only the
// blocks between the unchanged start and end.
import { diffBlocks } from "./blocks";
import type { BlockRef } from "./blocks";
import { BlockCache, changedLines, head as firstLook, normalized, parseText, prepare, renderBlocks } from "./markdown";
import { setReservedNames } from "./sanitize";
import { statsOf, wordCount } from "../features/editing/words";
import type { ParsedText, RenderedBlocks } from "./markdown";
import type { CountReply, PreviewReply, PreviewRequest } from "./preview";

interface View {
  cache: BlockCache;
  /** keys whose HTML the view has */
  sent: Set<string>;
  /** the blocks of the last reply */
  last: BlockRef[];
  /** the table of contents of the last reply (JSON) */
  toc: string;
  /** the blocks of the text it last rendered, to parse the next only where it changed */
  parsed: ParsedText | null;
}

const views = new Map<number, View>();
let queue: Promise<void> = Promise.resolve();

async function handle(msg: PreviewRequest): Promise<void> {
  if (msg.type === "names") {
    setReservedNames(msg.names);
    return;
  }
  if (msg.type === "count") {
    self.postMessage({ count: msg.id, ...count(msg.source) } satisfies CountReply);
    return;
  }
  if (msg.type === "close") {
    views.delete(msg.view);
    return;
  }
  let view = views.get(msg.view);
  if (!view) views.set(msg.view, (view = { cache: new BlockCache(), sent: new Set(), last: [], toc: "", parsed: null }));
  // A long text the view has nothing of yet: its first screens go first, on their own (with
  // what they need to render: their code languages, KaTeX).
  if (!view.sent.size) {
    const start = firstLook(msg.source, FIRST_LOOK);
    if (start.length < msg.source.length) {
      await prepare(start);
      reply(msg, view, renderBlocks(start, view.cache), true);
    }
  }
  // What the text needs to render: what the last one did, and what its changed lines name.
  await prepare(changedLines(view.parsed?.source, normalized(msg.source)));
  view.parsed = parseText(msg.source, view.parsed);
  reply(msg, view, renderBlocks(view.parsed, view.cache), false);
}

/** The last text counted, and the words of each of its blocks (by their hash). */
const counted: { parsed: ParsedText | null; words: Map<string, number> } = { parsed: null, words: new Map() };

/** The words of a long text, counted block by block: typing counts only the blocks it changes.
 * The blocks of a text a view just rendered are that view's. */
function count(source: string) {
  const text = normalized(source);
  let parsed: ParsedText | undefined;
  for (const view of views.values()) if (view.parsed?.source === text) parsed = view.parsed;
  parsed ??= parseText(text, counted.parsed);
  const words = new Map<string, number>();
  let total = 0;
  for (const b of parsed.blocks) {
    const n = words.get(b.hash) ?? counted.words.get(b.hash) ?? wordCount(b.text).words;
    words.set(b.hash, n);
    total += n;
  }
  counted.parsed = parsed;
  counted.words = words;
  return statsOf(total);
}

/** About this much text is rendered first when a view opens a long text. */
const FIRST_LOOK = 16 * 1024;

function reply(msg: { view: number; seq: number }, view: View, rendered: RenderedBlocks, partial: boolean): void {
  const all = rendered.blocks;
  // The blocks before and after the change are the view's already: only the middle is sent.
  const { head, tail, shift } = diffBlocks(view.last, all);
  const sent = new Set<string>();
  for (const b of all) sent.add(b.key);
  const blocks = all.slice(head, all.length - tail).map((b) =>
    view.sent.has(b.key) ? { key: b.key, line: b.line } : { key: b.key, line: b.line, html: b.html },
  );
  // The view keeps exactly the blocks of its last reply (a first look's are all in the next).
  view.sent = sent;
  view.last = all.map((b) => ({ key: b.key, line: b.line }));
  // The table of contents only when it changed.
  const toc = JSON.stringify(rendered.toc);
  const changed = toc !== view.toc;
  view.toc = toc;
  const out: PreviewReply = {
    view: msg.view,
    seq: msg.seq,
    blocks,
    head,
    tail,
    shift,
    toc: changed ? rendered.toc : undefined,
    math: rendered.math,
    partial,
  };
  self.postMessage(out);
}

self.onmessage = (e: MessageEvent<PreviewRequest>) => {
  queue = queue.then(() => handle(e.data)).catch((err: unknown) => {
    const m = e.data;
    if (m.type === "render") self.postMessage({ view: m.view, seq: m.seq, error: String(err) } satisfies PreviewReply);
  });
};
