// Editing help for people who do not know Markdown: toolbar commands, keyboard shortcuts, a
// slash menu at the start of a line, HTML paste turned into Markdown, and a word count. Every
// one of them only edits the text: Markdown stays the document's truth.
import type { CompletionContext, CompletionResult, CompletionSource } from "@codemirror/autocomplete";
import { EditorSelection, Prec } from "@codemirror/state";
import type { Extension } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import type TurndownService from "turndown";

export type Command = (view: EditorView) => boolean;

/** Wrap the selection (or a placeholder) in `before` … `after`. */
export const wrap = (before: string, after: string, placeholder: string): Command => (view) => {
  view.dispatch(
    view.state.changeByRange((range) => {
      const text = view.state.sliceDoc(range.from, range.to) || placeholder;
      const insert = before + text + after;
      return {
        changes: { from: range.from, to: range.to, insert },
        range: EditorSelection.range(range.from + before.length, range.from + before.length + text.length),
      };
    }),
  );
  view.focus();
  return true;
};

/** Put `prefix` at the start of every selected line (or take it away if all have it). */
export const linePrefix = (prefix: string | ((i: number) => string)): Command => (view) => {
  const { state } = view;
  const lines = new Set<number>();
  for (const r of state.selection.ranges) {
    for (let n = state.doc.lineAt(r.from).number; n <= state.doc.lineAt(r.to).number; n++) lines.add(n);
  }
  const sorted = [...lines].sort((a, b) => a - b);
  const pre = (i: number) => (typeof prefix === "string" ? prefix : prefix(i));
  const all = sorted.every((n, i) => state.doc.line(n).text.startsWith(pre(i)));
  const changes = sorted.map((n, i) => {
    const line = state.doc.line(n);
    return all ? { from: line.from, to: line.from + pre(i).length, insert: "" } : { from: line.from, insert: pre(i) };
  });
  view.dispatch({ changes });
  view.focus();
  return true;
};

/** Insert a block on a line of its own at the cursor. */
export const block = (text: string, cursorAt?: number): Command => (view) => {
  const { from, to } = view.state.selection.main;
  const line = view.state.doc.lineAt(from);
  const lead = line.text.trim() && from > line.from ? "\n\n" : "";
  const insert = lead + text;
  view.dispatch({
    changes: { from, to, insert },
    selection: { anchor: from + lead.length + (cursorAt ?? text.length) },
  });
  view.focus();
  return true;
};

export const COMMANDS = {
  bold: wrap("**", "**", "bold text"),
  italic: wrap("*", "*", "italic text"),
  code: wrap("`", "`", "code"),
  link: wrap("[", "](https://)", "link text"),
  strike: wrap("~~", "~~", "struck"),
  heading: linePrefix("## "),
  bullets: linePrefix("- "),
  numbers: linePrefix((i) => `${i + 1}. `),
  tasks: linePrefix("- [ ] "),
  quote: linePrefix("> "),
  table: block("| Column | Column |\n| --- | --- |\n| Cell | Cell |\n", 2),
  codeBlock: block("```\n\n```\n", 4),
  math: block("$$\nE = mc^2\n$$\n", 3),
  diagram: block("```mermaid\ngraph TD\n  A --> B\n```\n", 11),
  rule: block("---\n"),
} satisfies Record<string, Command>;

/** Shortcuts, and what the `?` sheet lists. */
export const SHORTCUTS: { keys: string; what: string; run: keyof typeof COMMANDS; key: string }[] = [
  { keys: "Ctrl/Cmd + B", what: "Bold", run: "bold", key: "Mod-b" },
  { keys: "Ctrl/Cmd + I", what: "Italic", run: "italic", key: "Mod-i" },
  { keys: "Ctrl/Cmd + K", what: "Link", run: "link", key: "Mod-k" },
  { keys: "Ctrl/Cmd + E", what: "Inline code", run: "code", key: "Mod-e" },
  { keys: "Ctrl/Cmd + Shift + 7", what: "Numbered list", run: "numbers", key: "Mod-Shift-7" },
  { keys: "Ctrl/Cmd + Shift + 8", what: "Bulleted list", run: "bullets", key: "Mod-Shift-8" },
  { keys: "Ctrl/Cmd + Shift + 9", what: "Task list", run: "tasks", key: "Mod-Shift-9" },
  { keys: "Ctrl/Cmd + Shift + X", what: "Strikethrough", run: "strike", key: "Mod-Shift-x" },
  { keys: "Ctrl/Cmd + Alt + 2", what: "Heading", run: "heading", key: "Mod-Alt-2" },
  { keys: "Ctrl/Cmd + Shift + .", what: "Quote", run: "quote", key: "Mod-Shift-." },
];
export const OTHER_KEYS: { keys: string; what: string }[] = [
  { keys: "/ at the start of a line", what: "Insert menu (headings, lists, table, math, diagram, template…)" },
  { keys: "@", what: "Mention a member" },
  { keys: "[[", what: "Link to a document" },
  { keys: "Ctrl/Cmd + Z, Ctrl/Cmd + Shift + Z", what: "Undo, redo" },
  { keys: "Ctrl/Cmd + F", what: "Find and replace" },
  { keys: "?", what: "This sheet (outside the text)" },
];

export function shortcuts(): Extension {
  return Prec.highest(keymap.of(SHORTCUTS.map((s) => ({ key: s.key, run: COMMANDS[s.run], preventDefault: true }))));
}

/** The slash menu: "/" at the start of a line offers blocks to insert. */
export function slashSource(extra: () => { label: string; run: (view: EditorView, from: number, to: number) => void }[] = () => []): CompletionSource {
  const items: { label: string; detail: string; text: string }[] = [
    { label: "Heading 1", detail: "# ", text: "# " },
    { label: "Heading 2", detail: "## ", text: "## " },
    { label: "Heading 3", detail: "### ", text: "### " },
    { label: "Bulleted list", detail: "- ", text: "- " },
    { label: "Numbered list", detail: "1. ", text: "1. " },
    { label: "Task list", detail: "- [ ] ", text: "- [ ] " },
    { label: "Quote", detail: "> ", text: "> " },
    { label: "Table", detail: "| … |", text: "| Column | Column |\n| --- | --- |\n| Cell | Cell |\n" },
    { label: "Code block", detail: "```", text: "```\n\n```\n" },
    { label: "Math", detail: "$$", text: "$$\nE = mc^2\n$$\n" },
    { label: "Diagram", detail: "mermaid", text: "```mermaid\ngraph TD\n  A --> B\n```\n" },
    { label: "Divider", detail: "---", text: "---\n" },
  ];
  return (context: CompletionContext): CompletionResult | null => {
    const line = context.state.doc.lineAt(context.pos);
    const before = context.state.sliceDoc(line.from, context.pos);
    const m = /^\/([\w ]*)$/.exec(before);
    if (!m) return null;
    const typed = m[1].toLowerCase();
    const options = [
      ...items.map((it) => ({ label: it.label, detail: it.detail, type: "keyword", apply: it.text })),
      ...extra().map((x) => ({
        label: x.label,
        type: "keyword",
        apply: (view: EditorView, _c: unknown, from: number, to: number) => x.run(view, from, to),
      })),
    ].filter((o) => !typed || o.label.toLowerCase().includes(typed));
    return { from: line.from, options, filter: false };
  };
}

// turndown loads with the first HTML paste (it is not part of the editor's first load).
let turndown: Promise<TurndownService> | null = null;
function converter(): Promise<TurndownService> {
  turndown ??= import("turndown").then(({ default: Turndown }) => {
    const service = new Turndown({ headingStyle: "atx", codeBlockStyle: "fenced", bulletListMarker: "-", emDelimiter: "*" });
    service.remove(["script", "style", "meta", "title"]);
    // Office documents mark up paragraphs with classes and styles only: keep the text.
    service.addRule("strikethrough", { filter: ["del", "s"], replacement: (c) => `~~${c}~~` });
    return service;
  });
  return turndown;
}

/** HTML on the clipboard (a web page, an office document) as Markdown. */
export async function htmlToMarkdown(html: string): Promise<string> {
  return (await converter()).turndown(html).replace(/\n{3,}/g, "\n\n");
}

export function htmlPaste(): Extension {
  return EditorView.domEventHandlers({
    paste(event, view) {
      const data = event.clipboardData;
      if (!data || view.state.readOnly || data.files.length) return false;
      const html = data.getData("text/html");
      if (!html || !/<(p|h[1-6]|ul|ol|li|table|strong|b|em|i|a|pre|code|blockquote|br|div)\b/i.test(html)) return false;
      event.preventDefault();
      // The converter loads on demand; should that fail (say, a deploy replaced its chunk), the
      // paste still lands, as the clipboard's plain text.
      const plain = data.getData("text/plain");
      void htmlToMarkdown(html)
        .catch(() => {
          turndown = null;
          return plain;
        })
        .then((md) => view.dispatch(view.state.replaceSelection(md)));
      return true;
    },
  });
}

// The word count is its own module: the preview worker counts long texts.
export { wordCount } from "./words";
