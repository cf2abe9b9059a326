// The editing toolbar above the editor, and the `?` sheet of shortcuts.
import { useEffect, useMemo, useRef, useState } from "react";
import type { EditorView } from "@codemirror/view";
import { Modal } from "../../components/ui";
import { COMMANDS, OTHER_KEYS, SHORTCUTS } from "./editing";
import type { Command } from "./editing";
import { countWords } from "../../lib/preview";
import { wordCount } from "./words";
import type { WordStats } from "./words";

/** Texts longer than this are counted in the preview worker, off the page's main thread. */
const COUNT_HERE = 100_000;

/** The words and reading time of `source`: at once for a short text, from the worker for a long
 * one (the last count shows until the next is in). */
export function useWordCount(source: string): WordStats {
  const here = source.length < COUNT_HERE;
  const now = useMemo(() => (here ? wordCount(source) : null), [here, source]);
  const [counted, setCounted] = useState<WordStats>({ words: 0, minutes: 0 });
  useEffect(() => {
    if (here) return;
    let current = true;
    void countWords(source).then((stats) => current && setCounted(stats));
    return () => {
      current = false;
    };
  }, [here, source]);
  return now ?? counted;
}

const BUTTONS: { label: string; title: string; run: Command }[] = [
  { label: "B", title: "Bold (Ctrl/Cmd+B)", run: COMMANDS.bold },
  { label: "I", title: "Italic (Ctrl/Cmd+I)", run: COMMANDS.italic },
  { label: "H", title: "Heading", run: COMMANDS.heading },
  { label: "•", title: "Bulleted list (Ctrl/Cmd+Shift+8)", run: COMMANDS.bullets },
  { label: "1.", title: "Numbered list (Ctrl/Cmd+Shift+7)", run: COMMANDS.numbers },
  { label: "☐", title: "Task list (Ctrl/Cmd+Shift+9)", run: COMMANDS.tasks },
  { label: "🔗", title: "Link (Ctrl/Cmd+K)", run: COMMANDS.link },
  { label: "</>", title: "Code (Ctrl/Cmd+E)", run: COMMANDS.code },
  { label: "❝", title: "Quote", run: COMMANDS.quote },
  { label: "▦", title: "Table", run: COMMANDS.table },
  { label: "∑", title: "Math", run: COMMANDS.math },
  { label: "◇", title: "Diagram", run: COMMANDS.diagram },
];

export function Toolbar({
  view,
  onUpload,
  onHelp,
  stats,
}: {
  view: EditorView | null;
  onUpload?: (file: File) => Promise<string>;
  onHelp: () => void;
  stats: WordStats;
}) {
  const file = useRef<HTMLInputElement>(null);
  const upload = async (f: File) => {
    if (!view || !onUpload) return;
    const md = await onUpload(f);
    view.dispatch(view.state.replaceSelection(md));
    view.focus();
  };
  return (
    <div className="edit-toolbar" role="toolbar" aria-label="Formatting" data-testid="toolbar">
      {BUTTONS.map((b) => (
        <button key={b.title} type="button" title={b.title} aria-label={b.title.split(" (")[0]}
          onMouseDown={(e) => e.preventDefault()} onClick={() => view && b.run(view)} disabled={!view}>
          {b.label}
        </button>
      ))}
      {onUpload ? (
        <>
          <button type="button" title="Image" aria-label="Image" onClick={() => file.current?.click()} disabled={!view}>🖼</button>
          <input ref={file} type="file" accept="image/*" hidden onChange={(e) => { const f = e.target.files?.[0]; if (f) void upload(f); e.target.value = ""; }} />
        </>
      ) : null}
      <span className="grow" />
      <span className="muted word-count" data-testid="word-count">
        {stats.words} {stats.words === 1 ? "word" : "words"} · {stats.minutes} min read
      </span>
      <button type="button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" onClick={onHelp}>?</button>
    </div>
  );
}

export function ShortcutSheet({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose}>
      <table className="shortcut-sheet" data-testid="shortcuts">
        <tbody>
          {[...SHORTCUTS, ...OTHER_KEYS].map((s) => (
            <tr key={s.keys}><td><kbd>{s.keys}</kbd></td><td>{s.what}</td></tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}

/** `?` outside a text field opens the sheet. */
export function useHelpKey(open: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key !== "?" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      e.preventDefault();
      open();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [open]);
}
