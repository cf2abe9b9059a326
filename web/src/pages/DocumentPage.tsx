// One document: the title, the live editor bound to the shared text, the live preview, and
// reader mode with a table of contents; history, sharing and the sync indicator on top.
import { ok } from "../api/client";
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import type { EditorView } from "@codemirror/view";
import type { DocumentFull } from "../api/types";
import { useAuth } from "../auth";
import { Editor } from "../components/Editor";
import { MarkdownView } from "../components/MarkdownView";
import type { MarkdownViewHandle } from "../components/MarkdownView";
import { Presence, SyncBadge, Toc } from "../components/DocParts";
import { Confirm, ErrorText, Spinner, messageOf, useDismiss } from "../components/ui";
import { HistoryIcon, MoreIcon, ShareIcon } from "../components/icons";
import { useCollab, useYText } from "../lib/collab";
import { taskToggle } from "../lib/tasks";
import { bindTitleInput, useYString } from "../lib/title";
import { fileMarkdown, uploadFile } from "../lib/files";
import type { TocEntry } from "../lib/markdown";
import { useDark } from "../lib/theme";
import { ancestors } from "../lib/tree";
import { can, useWorkspace } from "../workspace";
import { useComments } from "../features/comments/useComments";
import { mentionSource } from "../features/notifications/mentions";
import { TemplatesDialog, useTemplateFlag } from "../features/templates/Templates";
import { htmlPaste, shortcuts, slashSource } from "../features/editing/editing";
import { ShortcutSheet, Toolbar, useHelpKey, useWordCount } from "../features/editing/Toolbar";
import { LinkedFrom, completions, resolveWikilinks, wikilinkSource } from "../features/links/links";
import type { Mentionable } from "../features/notifications/mentions";

// The history and share dialogs and the comments panel load when they are first opened.
const CommentsPanel = lazy(() => import("../features/comments/CommentsPanel").then((m) => ({ default: m.CommentsPanel })));
const HistoryDialog = lazy(() => import("../components/HistoryDialog").then((m) => ({ default: m.HistoryDialog })));
const ShareDialog = lazy(() => import("../components/ShareDialog").then((m) => ({ default: m.ShareDialog })));

type Mode = "write" | "split" | "read";
const MODE_KEY = "mdreader.mode";

/** How long the preview lets typing gather before it reads the text again (it renders in a
 * worker, and only the blocks that changed: 1 MB, about four times a second). */
const previewDelay = (length: number) => Math.min(250, 40 + Math.floor(length / 4000));

export function DocumentPage() {
  const { did = "" } = useParams();
  const { api, user } = useAuth();
  const { workspace, docs, patchDoc, reloadDocs } = useWorkspace();
  const [doc, setDoc] = useState<DocumentFull | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setDoc(null);
    setError(null);
    ok(api.http.GET("/api/documents/{document_id}", { params: { path: { document_id: did } } }))
      .then(setDoc)
      .catch((e) => setError(messageOf(e)));
  }, [api, did]);

  if (error) return <div className="doc-error"><ErrorText error={error} /><Link to={`/w/${workspace.id}`}>Back</Link></div>;
  // The page of the document in the address (not the one open before it) once it is read.
  if (!doc || doc.id !== did || !user) return <Spinner />;
  return <DocumentView key={doc.id} doc={doc} docs={docs} patchDoc={patchDoc} reloadDocs={reloadDocs} me={user} />;
}

function DocumentView({
  doc,
  docs,
  patchDoc,
  reloadDocs,
  me,
}: {
  doc: DocumentFull;
  docs: ReturnType<typeof useWorkspace>["docs"];
  patchDoc: ReturnType<typeof useWorkspace>["patchDoc"];
  reloadDocs: () => Promise<void>;
  me: { id: string; name: string };
}) {
  const { api } = useAuth();
  const { workspace, reloadWorkspaces } = useWorkspace();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const dark = useDark();
  const { collab, status } = useCollab(doc.id, api, me);
  const live = useYText(collab?.ytext, previewDelay);
  const source = status.loaded ? live : doc.content;
  // The role as it is now: the server turns a demoted member's live document read-only, and
  // the workspace's abilities (create, share, edit controls) are read again at once.
  const writable = can(workspace, "document", "update") && !status.readOnly;
  const readOnlyLive = status.readOnly;
  const firstScope = useRef(true);
  useEffect(() => {
    if (firstScope.current) {
      firstScope.current = false;
      return;
    }
    void reloadWorkspaces();
  }, [readOnlyLive, reloadWorkspaces]);
  const [mode, setMode] = useState<Mode>(() => {
    const saved = localStorage.getItem(MODE_KEY) as Mode | null;
    if (doc.role === "viewer") return "read";
    return saved === "write" || saved === "read" || saved === "split" ? saved : "split";
  });
  // The live title (Y.Text "title"): the field, breadcrumbs, tree and tab follow it.
  const title = useYString(status.loaded ? collab?.ytitle : undefined, doc.title);
  const [toc, setToc] = useState<TocEntry[]>([]);
  const [dialog, setDialog] = useState<"history" | "share" | "trash" | null>(null);
  const [menu, setMenu] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const previewRef = useRef<MarkdownViewHandle>(null);
  const readerRef = useRef<MarkdownViewHandle>(null);
  const titleRef = useRef<HTMLInputElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const [view, setView] = useState<EditorView | null>(null);
  const [commentsOpen, setCommentsOpen] = useState(() => params.get("comments") === "1");
  const [following, setFollowing] = useState<boolean | null>(null);
  const [isTemplate, toggleTemplate] = useTemplateFlag(doc.id);
  const members = useRef<Mentionable[]>([]);
  const docsRef = useRef(docs);
  docsRef.current = docs;
  const [help, setHelp] = useState(false);
  const [fromTemplate, setFromTemplate] = useState(false);
  const openHelp = useCallback(() => setHelp(true), []);
  useHelpKey(openHelp);
  const [editorExtensions] = useState(() => [
    completions([
      mentionSource(() => members.current),
      wikilinkSource(() => docsRef.current, doc.id),
      slashSource(() => [
        {
          label: "New from template…",
          run: (v, from, to) => {
            v.dispatch({ changes: { from, to, insert: "" } });
            setFromTemplate(true);
          },
        },
      ]),
    ]),
    shortcuts(),
    htmlPaste(),
  ]);
  const rendered = useMemo(() => resolveWikilinks(source, docs), [source, docs]);
  const stats = useWordCount(source);
  useEffect(() => {
    ok(api.http.GET("/api/workspaces/{workspace_id}/members", { params: { path: { workspace_id: workspace.id } } })).then((list) => {
      members.current = list;
    }).catch(() => {});
    ok(api.http.GET("/api/documents/{document_id}/follow", { params: { path: { document_id: doc.id } } })).then((f) => setFollowing(f.following)).catch(() => {});
  }, [api, workspace.id, doc.id]);
  const toggleFollow = async () => {
    try {
      const f = following
        ? await ok(api.http.DELETE("/api/documents/{document_id}/follow", { params: { path: { document_id: doc.id } } }))
        : await ok(api.http.PUT("/api/documents/{document_id}/follow", { params: { path: { document_id: doc.id } } }));
      setFollowing(f.following);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const comments = useComments(doc.id, collab);
  const openThreads = comments.threads.filter((t) => !t.resolved_at).length;

  useDismiss(menu ? "document" : null, () => setMenu(false));

  const chooseMode = (m: Mode) => {
    setMode(m);
    localStorage.setItem(MODE_KEY, m);
  };

  // A new document: put the cursor in the title.
  useEffect(() => {
    if (params.get("new") && titleRef.current) {
      titleRef.current.focus();
      titleRef.current.select();
      params.delete("new");
      setParams(params, { replace: true });
    }
  }, [params, setParams]);

  // The field edits the shared title itself: every key is a Yjs change, acknowledged with
  // the text (no separate save that could arrive out of order).
  const ytitle = status.loaded ? collab?.ytitle : undefined;
  useEffect(() => {
    const input = titleRef.current;
    if (!input || !ytitle) return;
    return bindTitleInput(input, ytitle, doc.title);
  }, [ytitle, mode, doc.title]);

  const listed = docs.find((d) => d.id === doc.id)?.title;
  useEffect(() => {
    if (status.loaded && listed !== undefined && listed !== title) patchDoc(doc.id, { title });
  }, [status.loaded, listed, title, doc.id, patchDoc]);
  useEffect(() => {
    document.title = `${title || "Untitled"} · MDReader`;
    return () => {
      document.title = "MDReader";
    };
  }, [title]);

  const onUpload = useCallback(
    async (file: File) => fileMarkdown(await uploadFile(api, workspace.id, file)),
    [api, workspace.id],
  );

  // Editors tick a task in the preview or the reader: `[ ]`/`[x]` changes in the live text.
  const ytext = collab?.ytext;
  const onTask = useCallback(
    (line: number, checked: boolean) => {
      if (!ytext) return;
      const hit = taskToggle(ytext.toString(), line, checked);
      if (!hit) return;
      ytext.doc?.transact(() => {
        ytext.delete(hit.at, 1);
        ytext.insert(hit.at, hit.mark);
      });
    },
    [ytext],
  );
  const taskHandler = writable && status.loaded ? onTask : undefined;

  const onTopLine = useCallback((line: number) => previewRef.current?.scrollToLine(line), []);

  const jump = (id: string) => {
    const find = () => readerRef.current?.element?.querySelector<HTMLElement>(`#${CSS.escape(id)}`);
    let el = find();
    if (!el) {
      // A long text shows only the blocks near the viewport: go to the heading's line first.
      const entry = toc.find((t) => t.id === id);
      if (entry) readerRef.current?.scrollToLine(entry.line);
      el = find();
    }
    el?.scrollIntoView({ behavior: "smooth", block: "start" });
  };

  const trash = async () => {
    setMenu(false);
    try {
      await ok(api.http.DELETE("/api/documents/{document_id}", { params: { path: { document_id: doc.id } } }));
      await reloadDocs();
      navigate(`/w/${workspace.id}`);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const download = () => {
    setMenu(false);
    const blob = new Blob([collab?.ytext.toString() ?? source], { type: "text/markdown" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${(title || "document").replace(/[\\/:*?"<>|]+/g, "-")}.md`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  const trail = ancestors(docs, doc.id);

  return (
    <div className={`doc-page mode-${mode}`}>
      <header className="doc-header">
        <nav className="breadcrumbs" aria-label="Breadcrumbs">
          {trail.map((d) => (
            <span key={d.id}>
              <Link to={`/w/${workspace.id}/d/${d.id}`}>{d.title}</Link>
              <span className="sep">/</span>
            </span>
          ))}
          <span className="current">{title || "Untitled"}</span>
        </nav>
        <div className="doc-toolbar">
          <SyncBadge state={status.state} />
          <Presence peers={status.peers} />
          <div className="segmented" role="group" aria-label="View">
            {writable ? (
              <>
                <button className={mode === "write" ? "on" : ""} onClick={() => chooseMode("write")}>Write</button>
                <button className={`split-btn ${mode === "split" ? "on" : ""}`} onClick={() => chooseMode("split")}>Split</button>
              </>
            ) : null}
            <button className={mode === "read" ? "on" : ""} onClick={() => chooseMode("read")}>Read</button>
          </div>
          <button className="btn btn-ghost" aria-pressed={commentsOpen} data-testid="comments-toggle" onClick={() => setCommentsOpen((v) => !v)}>
            <span className="label">Comments</span>{openThreads ? <span className="count" data-testid="comments-count"> {openThreads}</span> : null}
          </button>
          {following !== null ? (
            <button className="btn btn-ghost" aria-pressed={following} data-testid="follow" onClick={() => void toggleFollow()}>
              <span className="label">{following ? "Following" : "Follow"}</span>
            </button>
          ) : null}
          <button className="btn btn-ghost" onClick={() => setDialog("history")}><HistoryIcon /> <span className="label">History</span></button>
          <button className="btn btn-ghost" onClick={() => setDialog("share")}><ShareIcon /> <span className="label">Share</span></button>
          <div className="menu-anchor">
            <button className="icon-btn" aria-label="More actions" aria-expanded={menu} data-menu="document" onClick={() => setMenu((v) => !v)}><MoreIcon /></button>
            {menu ? (
              <div className="menu menu-right" role="menu" data-menu="document">
                <button role="menuitem" className="menu-item" onClick={download}>Download Markdown</button>
                {writable && isTemplate !== null ? (
                  <button role="menuitem" className="menu-item" onClick={() => { setMenu(false); toggleTemplate().catch((e) => setError(messageOf(e))); }}>
                    {isTemplate ? "Remove from templates" : "Make template"}
                  </button>
                ) : null}
                {can(workspace, "document", "delete") ? (
                  <button role="menuitem" className="menu-item danger" onClick={() => { setMenu(false); setDialog("trash"); }}>Move to trash</button>
                ) : null}
              </div>
            ) : null}
          </div>
        </div>
      </header>
      <ErrorText error={error} />
      {status.state === "denied" ? <ErrorText error="The live document refused this session; reload the page." /> : null}
      <ErrorText error={status.refused} />
      <div className="doc-body">
        {mode !== "read" ? (
          <section className="pane editor-pane">
            <input
              ref={titleRef}
              className="title-input"
              aria-label="Title"
              placeholder="Untitled"
              defaultValue={title}
              readOnly={!writable}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === "ArrowDown") {
                  e.preventDefault();
                  viewRef.current?.focus();
                }
              }}
            />
            {writable ? (
              <Toolbar view={view} onUpload={onUpload} onHelp={openHelp} stats={stats} />
            ) : null}
            {collab ? (
              <div className="editor-wrap">
                {!status.loaded ? <div className="editor-overlay"><Spinner label="Opening the live document…" /></div> : null}
                {/* Made once the text is here: a megabyte is cheaper to start an editor with
                    than to insert into one through the Yjs binding. */}
                {status.loaded ? <Editor
                  collab={collab}
                  readOnly={!writable || !status.loaded}
                  dark={dark}
                  onUpload={onUpload}
                  extensions={editorExtensions}
                  onTopLine={mode === "split" ? onTopLine : undefined}
                  onReady={(v) => {
                    viewRef.current = v;
                    setView(v);
                  }}
                /> : <div className="editor" data-testid="editor" />}
              </div>
            ) : null}
          </section>
        ) : null}
        {mode === "split" ? (
          <section className="pane preview-pane scroll-pane" aria-label="Preview">
            <MarkdownView ref={previewRef} source={rendered} dark={dark} testId="preview" onTask={taskHandler} />
            <LinkedFrom documentId={doc.id} workspaceId={workspace.id} />
          </section>
        ) : null}
        {mode === "read" ? (
          <>
            <section className="reader scroll-pane" aria-label="Document">
              <h1 className="reader-title">{title || "Untitled"}</h1>
              <details className="toc-inline">
                <summary>Contents</summary>
                <Toc entries={toc} onPick={jump} />
              </details>
              <MarkdownView ref={readerRef} source={rendered} dark={dark} onToc={setToc} testId="reader" onTask={taskHandler} />
              <LinkedFrom documentId={doc.id} workspaceId={workspace.id} />
            </section>
            <aside className="toc" aria-label="Table of contents">
              <h2>Contents</h2>
              <Toc entries={toc} onPick={jump} />
            </aside>
          </>
        ) : null}
        {commentsOpen ? (
          <Suspense fallback={null}>
          <CommentsPanel
            documentId={doc.id}
            collab={collab}
            view={mode === "read" ? null : view}
            threads={comments.threads}
            reload={comments.reload}
            loadError={comments.error}
          />
          </Suspense>
        ) : null}
      </div>
      {help ? <ShortcutSheet onClose={() => setHelp(false)} /> : null}
      {fromTemplate ? <TemplatesDialog workspaceId={workspace.id} onClose={() => setFromTemplate(false)} onCreated={reloadDocs} /> : null}
      <Suspense fallback={null}>
      {dialog === "history" ? (
        <HistoryDialog
          documentId={doc.id}
          canRestore={writable}
          dark={dark}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog === "trash" ? (
        <Confirm title="Move to the trash?" action="Move to trash" danger onCancel={() => setDialog(null)} onConfirm={trash}>
          <p>“{title || "Untitled"}” and the documents under it go to the trash. They can be restored from there.</p>
        </Confirm>
      ) : null}
      {dialog === "share" ? (
        <ShareDialog documentId={doc.id} canShare={can(workspace, "share", "create")} onClose={() => setDialog(null)} />
      ) : null}
      </Suspense>
    </div>
  );
}
