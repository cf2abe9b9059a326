// Links between documents: "[[" in the editor offers the workspace's titles and writes a link
// by id, `[Title](/d/<id>)`, which no rename breaks; `[[Title]]` typed by hand shows as a link
// to the document of that title; /d/<id> opens the document wherever it lives; "Linked from"
// lists the documents that link here.
import { ok } from "../../api/client";
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import type { CompletionContext, CompletionResult, CompletionSource } from "@codemirror/autocomplete";
import type { Extension } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { lazyExtension } from "../../lib/lazyExtension";
import type { DocumentItem } from "../../api/types";
import { useAuth } from "../../auth";

export const linkMarkdown = (d: { id: string; title: string }) =>
  `[${(d.title || "Untitled").replace(/[[\]\n]/g, "")}](/d/${d.id})`;

export function wikilinkSource(docs: () => DocumentItem[], self?: string): CompletionSource {
  return (context: CompletionContext): CompletionResult | null => {
    const m = context.matchBefore(/\[\[[^\][\n]*$/);
    if (!m) return null;
    const typed = m.text.slice(2).toLowerCase();
    const options = docs()
      .filter((d) => d.id !== self && (d.title || "Untitled").toLowerCase().includes(typed))
      .slice(0, 30)
      .map((d) => ({ label: d.title || "Untitled", detail: "document", apply: linkMarkdown(d), type: "link" }));
    // Typing "]]" after the title closes it as a [[Title]] link instead (resolved by title).
    return { from: m.from, options, filter: false };
  };
}

/** What may start a completion when typed: "@" (mentions), "[" (links), "/" (blocks). */
const STARTS = /[@[/]/;

/** One autocompletion for an editor: several sources (mentions, links, blocks) share it. Its code
 * (@codemirror/autocomplete) loads when a character that may start a completion is first typed,
 * or on Ctrl-Space, and then completes what was typed. */
export function completions(sources: CompletionSource[]): Extension {
  const complete = (m: typeof import("@codemirror/autocomplete"), view: Parameters<typeof m.startCompletion>[0]) => {
    m.startCompletion(view);
  };
  return lazyExtension(
    () => import("@codemirror/autocomplete"),
    (m) => m.autocompletion({ override: sources, activateOnTyping: true }),
    (load) => keymap.of([{ key: "Ctrl-Space", run: (view) => load(view, complete) }]),
    (u, load) => {
      if (!u.docChanged) return;
      for (const tr of u.transactions) {
        if (!tr.isUserEvent("input.type")) continue;
        let typed = false;
        tr.changes.iterChanges((_a, _b, _from, _to, text) => {
          typed ||= STARTS.test(text.toString());
        });
        if (typed) return void load(u.view, complete);
      }
    },
  );
}

const WIKILINK = /\[\[([^[\]\n|#]{1,500})\]\]/g;

/** `[[Title]]` → a link by id, for rendering (the text itself is left as it is). */
export function resolveWikilinks(source: string, docs: DocumentItem[]): string {
  if (!source.includes("[[")) return source;
  const byTitle = new Map<string, string>();
  for (const d of docs) if (!byTitle.has(d.title.toLowerCase())) byTitle.set(d.title.toLowerCase(), d.id);
  return source.replace(WIKILINK, (whole, title: string) => {
    const id = byTitle.get(title.trim().toLowerCase());
    return id ? `[${title.trim()}](/d/${id})` : whole;
  });
}

interface Backlink { id: string; title: string; snippet: string }

export function LinkedFrom({ documentId, workspaceId }: { documentId: string; workspaceId: string }) {
  const { api } = useAuth();
  const [links, setLinks] = useState<Backlink[]>([]);
  const load = useCallback(() => {
    ok(api.http.GET("/api/documents/{document_id}/backlinks", { params: { path: { document_id: documentId } } })).then(setLinks).catch(() => {});
  }, [api, documentId]);
  useEffect(() => {
    load();
    // Kept current: read again while the page is open (others' edits are stored within seconds).
    const timer = window.setInterval(() => document.visibilityState === "visible" && load(), 10_000);
    window.addEventListener("focus", load);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("focus", load);
    };
  }, [load]);
  if (!links.length) return null;
  return (
    <section className="linked-from" aria-label="Linked from" data-testid="linked-from">
      <h2>Linked from</h2>
      <ul>
        {links.map((l) => (
          <li key={l.id}>
            <Link to={`/w/${workspaceId}/d/${l.id}`}>{l.title || "Untitled"}</Link>
            {l.snippet ? <span className="muted"> — {l.snippet}</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
