// Rendered, sanitized Markdown: the live preview, reader mode and a version in the history.
// The text is rendered and sanitized in the preview worker (lib/preview.ts), block by block,
// and only the blocks that changed are replaced here. Diagrams and private images are filled
// in after a block is in place.
import { forwardRef, useEffect, useImperativeHandle, useRef } from "react";
import { useAuth } from "../auth";
import { renderDiagrams } from "../lib/diagrams";
import { authorizeImages } from "../lib/files";
import type { TocEntry } from "../lib/markdown";
import { PreviewView } from "../lib/preview";

export interface MarkdownViewHandle {
  /** scroll so that the block rendered from source line `line` is at the top */
  scrollToLine: (line: number) => void;
  element: HTMLElement | null;
}

export const MarkdownView = forwardRef<
  MarkdownViewHandle,
  {
    source: string;
    dark: boolean;
    onToc?: (toc: TocEntry[]) => void;
    className?: string;
    testId?: string;
    /** editors: a task's checkbox was clicked (its source line, checked or not) */
    onTask?: (line: number, checked: boolean) => void;
  }
>(function MarkdownView({ source, dark, onToc, className, testId, onTask }, ref) {
  const { api } = useAuth();
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<PreviewView | null>(null);
  const editable = !!onTask;
  const state = useRef({ api, dark, onToc, editable });
  state.current = { api, dark, onToc, editable };

  useEffect(() => {
    const el = host.current!;
    const v = new PreviewView(el, ({ toc, added }) => {
      const { api, dark, onToc, editable } = state.current;
      onToc?.(toc);
      for (const block of added) {
        authorizeImages(block, api);
        for (const box of block.querySelectorAll<HTMLInputElement>("input.task-checkbox[data-task-line]")) box.disabled = !editable;
      }
      if (added.length) void renderDiagrams(el, dark);
    });
    view.current = v;
    return () => {
      v.close();
      view.current = null;
    };
  }, []);

  useEffect(() => {
    view.current?.render(source);
  }, [source]);

  // A theme change: diagrams are drawn again in the theme's colours.
  const shownDark = useRef(dark);
  useEffect(() => {
    if (shownDark.current === dark || !view.current || !host.current) return;
    shownDark.current = dark;
    const again = view.current.refresh((el) => el.querySelector(".mermaid-block") !== null);
    if (again.length) void renderDiagrams(host.current, dark);
  }, [dark]);

  // Task checkboxes: clickable for editors (the click edits the text), read-only otherwise.
  const taskRef = useRef(onTask);
  taskRef.current = onTask;
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    for (const box of el.querySelectorAll<HTMLInputElement>("input.task-checkbox[data-task-line]")) {
      box.disabled = !editable;
    }
  }, [editable]);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const onChange = (e: Event) => {
      const box = e.target as HTMLInputElement;
      if (!box.matches?.("input.task-checkbox[data-task-line]") || !taskRef.current) return;
      // Lines in a block count from the block's first line.
      const block = box.closest<HTMLElement>(".md-block");
      taskRef.current(Number(block?.dataset.line ?? 0) + Number(box.dataset.taskLine), box.checked);
    };
    el.addEventListener("change", onChange);
    return () => el.removeEventListener("change", onChange);
  }, []);

  useImperativeHandle(
    ref,
    () => ({
      element: host.current,
      scrollToLine(line: number) {
        if (view.current?.scrollToLine(line)) return; // a long text, shown virtually
        const el = host.current;
        const scroller = el?.closest<HTMLElement>(".scroll-pane");
        if (!el || !scroller) return;
        let target: HTMLElement | null = null;
        for (const block of el.children as HTMLCollectionOf<HTMLElement>) {
          if (Number(block.dataset.line) > line) break;
          target = block;
        }
        scroller.scrollTop = target ? target.offsetTop - el.offsetTop : 0;
      },
    }),
    [],
  );

  return <article className={`markdown-body ${className ?? ""}`} ref={host} data-testid={testId} />;
});
