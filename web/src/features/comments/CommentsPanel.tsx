// Comments beside a document: threads on a selected range (anchored by Yjs relative
// positions, so they follow every edit) or on the whole document, replies, editing and
// deleting one's own, resolving and reopening. The list is read over REST and read again
// when the server announces a change on the collaboration socket ({"event": "comments"}, see
// useComments.ts). The panel loads when it is first opened.
import { ok } from "../../api/client";
import { useState } from "react";
import type { EditorView } from "@codemirror/view";
import * as Y from "yjs";
import type { Thread } from "../../api/types";
import { useAuth } from "../../auth";
import { ErrorText, useAction } from "../../components/ui";
import type { Collab } from "../../lib/collab";
import { useSanitize } from "../../lib/usePurify";
import { can, useWorkspace } from "../../workspace";

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** The selected range of the editor as a comment's anchor. */
export function anchorOf(collab: Collab, view: EditorView | null) {
  if (!view) return null;
  const { from, to } = view.state.selection.main;
  if (from === to) return null;
  const start = Y.createRelativePositionFromTypeIndex(collab.ytext, from, 0);
  const end = Y.createRelativePositionFromTypeIndex(collab.ytext, to, -1);
  return {
    start: b64(Y.encodeRelativePosition(start)),
    end: b64(Y.encodeRelativePosition(end)),
    quote: view.state.sliceDoc(from, to).slice(0, 1000),
  };
}

export function CommentsPanel({
  documentId,
  collab,
  view,
  threads,
  reload,
  loadError,
}: {
  documentId: string;
  collab: Collab | null;
  view: EditorView | null;
  threads: Thread[];
  reload: () => Promise<void>;
  loadError: string | null;
}) {
  const { api, user } = useAuth();
  const { workspace } = useWorkspace();
  const [draft, setDraft] = useState("");
  const [showResolved, setShowResolved] = useState(false);
  const { error, run: act } = useAction();
  const mayComment = can(workspace, "comment", "create");
  const moderates = can(workspace, "comment", "delete");

  // Each change, then the threads as the server has them now.
  const run = async (work: () => Promise<unknown>) => {
    await act(async () => {
      await work();
      await reload();
    });
  };

  const submit = (anchored: boolean) =>
    run(async () => {
      const anchor = anchored && collab ? anchorOf(collab, view) : null;
      await ok(api.http.POST("/api/documents/{document_id}/comments", { params: { path: { document_id: documentId } }, body: { body: draft, anchor } }));
      setDraft("");
    });

  const select = (t: Thread) => {
    if (!view || !collab || !t.anchor) return;
    // Where the range is in this browser's copy now (it may be ahead of the server's list).
    const at = (value: string) =>
      Y.createAbsolutePositionFromRelativePosition(
        Y.decodeRelativePosition(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0))),
        collab.ydoc,
      )?.index;
    const from = at(t.anchor.start);
    const to = at(t.anchor.end);
    if (from == null || to == null || to <= from) return;
    view.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true });
    view.focus();
  };

  const shown = threads.filter((t) => showResolved || !t.resolved_at);

  return (
    <aside className="comments" aria-label="Comments" data-testid="comments">
      <div className="comments-head">
        <h2>Comments</h2>
        <label className="comments-resolved">
          <input type="checkbox" checked={showResolved} onChange={(e) => setShowResolved(e.target.checked)} /> Resolved
        </label>
      </div>
      <ErrorText error={loadError ?? error} />
      {mayComment ? (
        <div className="comment-new">
          <textarea
            aria-label="New comment"
            placeholder="Select text to comment on it, or comment on the document…"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <div className="row">
            <button className="btn btn-primary" disabled={!draft.trim()} onClick={() => void submit(true)} data-testid="comment-submit">
              Comment
            </button>
          </div>
        </div>
      ) : null}
      {shown.length === 0 ? <p className="muted">No comments yet.</p> : null}
      {shown.map((t) => (
        <ThreadCard
          key={t.id}
          thread={t}
          me={user?.id}
          mayComment={mayComment}
          moderates={moderates}
          onSelect={() => select(t)}
          run={run}
          documentId={documentId}
        />
      ))}
    </aside>
  );
}

function ThreadCard({
  thread,
  me,
  mayComment,
  moderates,
  onSelect,
  run,
  documentId,
}: {
  thread: Thread;
  me: string | undefined;
  mayComment: boolean;
  moderates: boolean;
  onSelect: () => void;
  run: (work: () => Promise<unknown>) => Promise<void>;
  documentId: string;
}) {
  const { api } = useAuth();
  const sanitize = useSanitize();
  const [reply, setReply] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const [text, setText] = useState("");
  const all = [thread, ...thread.replies];
  return (
    <article className={`thread ${thread.resolved_at ? "resolved" : ""}`} data-testid="thread" data-thread={thread.id}>
      {thread.anchor ? (
        <button className={`thread-quote ${thread.orphaned ? "orphaned" : ""}`} onClick={onSelect} title="Show in the text">
          “{thread.anchor.quote}”{thread.orphaned ? <span className="badge" data-testid="orphaned"> text deleted</span> : null}
        </button>
      ) : (
        <div className="thread-quote doc-level">On the document</div>
      )}
      {all.map((c) => (
        <div className="comment" key={c.id} data-testid="comment">
          <div className="comment-meta">
            <strong>{c.author?.name ?? "Someone"}</strong>{" "}
            <time dateTime={c.created_at}>{new Date(c.created_at).toLocaleString()}</time>
            {c.edited_at ? <span className="muted"> (edited)</span> : null}
          </div>
          {editing === c.id ? (
            <div className="comment-edit">
              <textarea aria-label="Edit comment" value={text} onChange={(e) => setText(e.target.value)} />
              <button className="btn btn-primary" onClick={() => void run(async () => { await ok(api.http.PATCH("/api/documents/{document_id}/comments/{comment_id}", { params: { path: { document_id: documentId, comment_id: c.id } }, body: { body: text } })); setEditing(null); })}>Save</button>
              <button className="btn" onClick={() => setEditing(null)}>Cancel</button>
            </div>
          ) : (
            sanitize ? (
              <div className="comment-body markdown" dangerouslySetInnerHTML={{ __html: sanitize(c.body_html) }} />
            ) : (
              <div className="comment-body">{c.body}</div>
            )
          )}
          <div className="comment-actions">
            {c.author?.id === me ? (
              <button className="link-btn" onClick={() => { setEditing(c.id); setText(c.body); }}>Edit</button>
            ) : null}
            {c.author?.id === me || moderates ? (
              <button className="link-btn danger" onClick={() => void run(() => ok(api.http.DELETE("/api/documents/{document_id}/comments/{comment_id}", { params: { path: { document_id: documentId, comment_id: c.id } } })))}>Delete</button>
            ) : null}
          </div>
        </div>
      ))}
      {mayComment ? (
        <div className="thread-foot">
          {!thread.resolved_at ? (
            <>
              <input aria-label="Reply" placeholder="Reply…" value={reply} onChange={(e) => setReply(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && reply.trim()) {
                    void run(async () => { await ok(api.http.POST("/api/documents/{document_id}/comments/{comment_id}/replies", { params: { path: { document_id: documentId, comment_id: thread.id } }, body: { body: reply } })); setReply(""); });
                  }
                }}
              />
              <button className="btn" onClick={() => void run(() => ok(api.http.POST("/api/documents/{document_id}/comments/{comment_id}/resolve", { params: { path: { document_id: documentId, comment_id: thread.id } } })))}>Resolve</button>
            </>
          ) : (
            <button className="btn" onClick={() => void run(() => ok(api.http.POST("/api/documents/{document_id}/comments/{comment_id}/reopen", { params: { path: { document_id: documentId, comment_id: thread.id } } })))}>Reopen</button>
          )}
        </div>
      ) : null}
    </article>
  );
}
