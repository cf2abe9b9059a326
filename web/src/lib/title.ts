// The document's title as a shared Y.Text ("title") bound to a plain <input>: each local edit
// becomes the minimal Yjs change (so people renaming at once merge, never overwrite), and a
// remote change moves the caret along instead of throwing it to the end.
import { useEffect, useState } from "react";
import type * as Y from "yjs";

/** The smallest single replacement turning `old` into `now`: [start, deleted, inserted]. */
export function diffRange(old: string, now: string): [number, number, string] {
  let start = 0;
  const limit = Math.min(old.length, now.length);
  while (start < limit && old.charCodeAt(start) === now.charCodeAt(start)) start++;
  let end = 0;
  while (
    end < limit - start &&
    old.charCodeAt(old.length - 1 - end) === now.charCodeAt(now.length - 1 - end)
  ) end++;
  return [start, old.length - start - end, now.slice(start, now.length - end)];
}

/** Apply what the user typed (the input's new value) to the Y.Text as a minimal edit. */
export function applyLocal(ytext: Y.Text, value: string, origin: unknown): void {
  const [start, deleted, inserted] = diffRange(ytext.toString(), value);
  if (!deleted && !inserted) return;
  ytext.doc?.transact(() => {
    if (deleted) ytext.delete(start, deleted);
    if (inserted) ytext.insert(start, inserted);
  }, origin);
}

type Delta = { insert?: unknown; retain?: number; delete?: number }[];

/** Where a position in the old text lands after a remote change (Yjs delta). */
export function movePosition(position: number, delta: Delta): number {
  let at = 0; // position in the old text
  let moved = position;
  for (const op of delta) {
    if (at > position) break;
    if (op.retain) at += op.retain;
    else if (typeof op.insert === "string") {
      if (at <= position) moved += op.insert.length;
    } else if (op.delete) {
      moved -= Math.min(op.delete, position - at);
      at += op.delete;
    }
  }
  return Math.max(0, moved);
}

const LOCAL = Symbol("title-input");

/** Bind an <input> to the Y.Text once the document is loaded. The field was editable before
 * (showing `shown`, the title as REST read it): what was typed meanwhile is replayed as an
 * edit of the live title, so no key pressed while the document opened is lost. */
export function bindTitleInput(input: HTMLInputElement, ytext: Y.Text, shown: string): () => void {
  if (input.value !== shown) applyLocal(ytext, input.value, LOCAL);
  else if (input.value !== ytext.toString()) input.value = ytext.toString();
  const onInput = () => applyLocal(ytext, input.value, LOCAL);
  const observer = (event: Y.YTextEvent, tr: Y.Transaction) => {
    if (tr.origin === LOCAL) return;
    const focused = document.activeElement === input;
    const start = input.selectionStart ?? 0;
    const end = input.selectionEnd ?? 0;
    input.value = ytext.toString();
    if (focused) {
      const delta = event.delta as Delta;
      input.setSelectionRange(movePosition(start, delta), movePosition(end, delta));
    }
  };
  input.addEventListener("input", onInput);
  ytext.observe(observer);
  return () => {
    input.removeEventListener("input", onInput);
    ytext.unobserve(observer);
  };
}

/** The text of a Y.Text as React state, on every change. */
export function useYString(ytext: Y.Text | undefined, fallback: string): string {
  const [value, setValue] = useState(() => ytext?.toString() ?? fallback);
  useEffect(() => {
    if (!ytext) return;
    const update = () => setValue(ytext.toString());
    update();
    ytext.observe(update);
    return () => ytext.unobserve(update);
  }, [ytext]);
  return ytext ? value : fallback;
}
