// CodeMirror 6 bound to the document's Y.Text through y-codemirror.next: shared text, remote
// cursors with names and colours, shared undo. Pasting or dropping an image uploads it and
// inserts its Markdown.
import { useEffect, useRef } from "react";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import type { Extension } from "@codemirror/state";
import {
  EditorView,
  drawSelection,
  dropCursor,
  highlightActiveLine,
  keymap,
  placeholder,
} from "@codemirror/view";
import type { Command } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import type { Collab } from "../lib/collab";
import { lazyExtension } from "../lib/lazyExtension";

const markdownHighlight = HighlightStyle.define([
  { tag: tags.heading1, fontSize: "1.45em", fontWeight: "700" },
  { tag: tags.heading2, fontSize: "1.25em", fontWeight: "700" },
  { tag: tags.heading3, fontSize: "1.1em", fontWeight: "700" },
  { tag: [tags.heading4, tags.heading5, tags.heading6], fontWeight: "700" },
  { tag: tags.strong, fontWeight: "700" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: tags.link, color: "var(--link)" },
  { tag: tags.url, color: "var(--muted)" },
  { tag: tags.monospace, fontFamily: "var(--mono)", color: "var(--code-fg)" },
  { tag: [tags.processingInstruction, tags.meta], color: "var(--muted)" },
  { tag: tags.quote, color: "var(--muted)", fontStyle: "italic" },
  { tag: tags.list, color: "var(--accent)" },
  { tag: tags.contentSeparator, color: "var(--muted)" },
]);

const baseTheme = EditorView.theme({
  "&": { height: "100%", fontSize: "15px", background: "transparent", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.6", padding: "12px 0" },
  ".cm-content": { padding: "0 20px 40vh", maxWidth: "820px", caretColor: "var(--fg)" },
  "&.cm-focused": { outline: "none" },
  ".cm-activeLine": { background: "var(--active-line)" },
  ".cm-cursor": { borderLeftColor: "var(--fg)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    background: "var(--selection) !important",
  },
  ".cm-ySelectionInfo": {
    opacity: "1",
    fontFamily: "var(--sans)",
    fontSize: "11px",
    padding: "1px 4px",
    borderRadius: "3px 3px 3px 0",
    top: "-1.3em",
  },
  ".cm-placeholder": { color: "var(--muted)" },
});

/** Texts longer than this are highlighted by a line tokenizer (lib/largeMarkdown.ts) rather than
 * parsed as a whole on every keystroke. */
export const LARGE_TEXT = 200_000;

/** The editor's Markdown support, loaded beside the editor for the text it opens: the full
 * parser (list continuation on Enter, nested highlighting) for most texts, the line tokenizer
 * for a very long one. */
async function markdownSupport(large: boolean): Promise<Extension> {
  if (large) return (await import("../lib/largeMarkdown")).largeMarkdown;
  // markdownLanguage alone: `markdown()` would bring HTML, CSS and JavaScript parsers along.
  const { markdownKeymap, markdownLanguage } = await import("@codemirror/lang-markdown");
  const { LanguageSupport } = await import("@codemirror/language");
  return [new LanguageSupport(markdownLanguage), Prec.high(keymap.of(markdownKeymap))];
}

type SearchModule = typeof import("@codemirror/search");

/** The search panel (Mod-f, F3/Mod-g, Mod-d, Mod-Shift-l, Mod-Alt-g) and the highlighting of the
 * selection's other occurrences: @codemirror/search loads on the first of those keys or the
 * first selection. */
function lazySearch(): Extension {
  return lazyExtension(
    () => import("@codemirror/search"),
    (m) => [m.search({ top: true }), m.highlightSelectionMatches(), keymap.of(m.searchKeymap)],
    (load) => {
      const key = (name: string, run: (m: SearchModule) => Command, shift?: (m: SearchModule) => Command) => ({
        key: name,
        run: (view: EditorView) => load(view, (m, v) => run(m)(v)),
        shift: shift && ((view: EditorView) => load(view, (m, v) => shift(m)(v))),
        preventDefault: true,
      });
      return keymap.of([
        key("Mod-f", (m) => m.openSearchPanel),
        key("F3", (m) => m.findNext, (m) => m.findPrevious),
        key("Mod-g", (m) => m.findNext, (m) => m.findPrevious),
        key("Mod-Shift-l", (m) => m.selectSelectionMatches),
        key("Mod-Alt-g", (m) => m.gotoLine),
        key("Mod-d", (m) => m.selectNextOccurrence),
      ]);
    },
    (u, load) => {
      if (u.selectionSet && !u.state.selection.main.empty) load(u.view);
    },
  );
}

export interface EditorHandle {
  view: EditorView;
}

export function Editor({
  collab,
  readOnly,
  dark,
  onUpload,
  onTopLine,
  onReady,
  extensions = [],
}: {
  collab: Collab;
  /** more CodeMirror extensions (completions), read once when the view is made */
  extensions?: Extension[];
  readOnly: boolean;
  dark: boolean;
  /** upload a pasted or dropped file; resolves to the Markdown to insert */
  onUpload?: (file: File) => Promise<string>;
  /** the first visible line changed (for the preview to follow) */
  onTopLine?: (line: number) => void;
  onReady?: (view: EditorView | null) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const readOnlyConf = useRef(new Compartment());
  const themeConf = useRef(new Compartment());
  const languageConf = useRef(new Compartment());
  const uploadRef = useRef(onUpload);
  uploadRef.current = onUpload;
  const topLineRef = useRef(onTopLine);
  topLineRef.current = onTopLine;

  useEffect(() => {
    const { ytext, provider, undoManager } = collab;
    let uploads = 0;

    const insertUploads = (view: EditorView, files: File[], at: number) => {
      const upload = uploadRef.current;
      if (!upload) return;
      for (const file of files) {
        const marker = `![Uploading ${file.name.replace(/[[\]]/g, "") || "image"}… #${++uploads}]()`;
        view.dispatch({ changes: { from: at, insert: `${marker}\n` } });
        upload(file)
          .then((md) => replaceMarker(view, marker, md))
          .catch((e: unknown) =>
            replaceMarker(view, marker, `<!-- upload of ${file.name} failed: ${e instanceof Error ? e.message : e} -->`),
          );
      }
    };

    const files = (list: FileList | null | undefined) => [...(list ?? [])].filter((f) => f.size > 0);
    const large = ytext.length > LARGE_TEXT;

    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          drawSelection(),
          dropCursor(),
          highlightActiveLine(),
          EditorView.lineWrapping,
          languageConf.current.of([]),
          syntaxHighlighting(markdownHighlight),
          keymap.of(yUndoManagerKeymap),
          lazySearch(),
          keymap.of([indentWithTab, ...defaultKeymap]),
          placeholder("Start writing Markdown…"),
          ...extensions,
          yCollab(ytext, provider.awareness, { undoManager }),
          baseTheme,
          themeConf.current.of(EditorView.theme({}, { dark })),
          readOnlyConf.current.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.domEventHandlers({
            paste(event, view) {
              const list = files(event.clipboardData?.files);
              if (!list.length || view.state.readOnly) return false;
              event.preventDefault();
              insertUploads(view, list, view.state.selection.main.head);
              return true;
            },
            drop(event, view) {
              const list = files(event.dataTransfer?.files);
              if (!list.length || view.state.readOnly) return false;
              event.preventDefault();
              const pos = view.posAtCoords({ x: event.clientX, y: event.clientY }) ?? view.state.selection.main.head;
              insertUploads(view, list, view.state.doc.lineAt(pos).from);
              return true;
            },
            scroll(_event, view) {
              const block = view.lineBlockAtHeight(view.scrollDOM.scrollTop);
              topLineRef.current?.(view.state.doc.lineAt(block.from).number - 1);
              return false;
            },
          }),
        ],
      }),
    });
    viewRef.current = view;
    onReady?.(view);
    let closed = false;
    void markdownSupport(large).then((support) => {
      if (!closed) view.dispatch({ effects: languageConf.current.reconfigure(support) });
    });
    return () => {
      closed = true;
      onReady?.(null);
      view.destroy();
      viewRef.current = null;
    };
    // The view lives as long as the collaboration session.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [collab]);

  useEffect(() => {
    viewRef.current?.dispatch({
      effects: readOnlyConf.current.reconfigure([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
    });
  }, [readOnly]);

  useEffect(() => {
    viewRef.current?.dispatch({ effects: themeConf.current.reconfigure(EditorView.theme({}, { dark })) });
  }, [dark]);

  return <div className="editor" ref={host} data-testid="editor" />;
}

function replaceMarker(view: EditorView, marker: string, text: string) {
  const doc = view.state.doc.toString();
  const at = doc.indexOf(marker);
  if (at < 0) return;
  view.dispatch({ changes: { from: at, to: at + marker.length, insert: text } });
}
