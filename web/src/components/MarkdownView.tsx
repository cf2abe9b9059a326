// Rendered, sanitized Markdown: the live preview and reader mode. Diagrams and private
// images are filled in after the HTML is in place.
import { forwardRef, useEffect, useImperativeHandle, useMemo, useReducer, useRef } from "react";
import { useAuth } from "../auth";
import { renderDiagrams } from "../lib/diagrams";
import { authorizeImages } from "../lib/files";
import { onMathReady, renderMarkdownFragment } from "../lib/markdown";
import type { RenderedFragment } from "../lib/markdown";
import type { TocEntry } from "../lib/markdown";

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
  const [mathVersion, mathLoaded] = useReducer((n: number) => n + 1, 0);
  useEffect(() => onMathReady(mathLoaded), []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  // Rendered again on a theme change too, for diagrams to follow it.
  const rendered = useMemo(() => renderMarkdownFragment(source), [source, mathVersion, dark]);
  const applied = useRef<RenderedFragment | null>(null);

  useEffect(() => {
    onToc?.(rendered.toc);
  }, [rendered, onToc]);

  useEffect(() => {
    const el = host.current;
    if (!el || applied.current === rendered) return;
    applied.current = rendered; // the fragment is used up by inserting it
    el.replaceChildren(rendered.fragment);
    el.classList.toggle("large-document", source.length > 200_000);
    authorizeImages(el, api);
    void renderDiagrams(el, dark);
  }, [rendered, dark, api, source.length]);

  // Task checkboxes: clickable for editors (the click edits the text), read-only otherwise.
  const taskRef = useRef(onTask);
  taskRef.current = onTask;
  const editable = !!onTask;
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    for (const box of el.querySelectorAll<HTMLInputElement>("input.task-checkbox[data-task-line]")) {
      box.disabled = !editable;
    }
  }, [rendered, editable]);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const onChange = (e: Event) => {
      const box = e.target as HTMLInputElement;
      if (!box.matches?.("input.task-checkbox[data-task-line]") || !taskRef.current) return;
      taskRef.current(Number(box.dataset.taskLine), box.checked);
    };
    el.addEventListener("change", onChange);
    return () => el.removeEventListener("change", onChange);
  }, []);

  useImperativeHandle(
    ref,
    () => ({
      element: host.current,
      scrollToLine(line: number) {
        const el = host.current;
        const scroller = el?.closest<HTMLElement>(".scroll-pane");
        if (!el || !scroller) return;
        let target: HTMLElement | null = null;
        for (const block of el.querySelectorAll<HTMLElement>("[data-line]")) {
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
