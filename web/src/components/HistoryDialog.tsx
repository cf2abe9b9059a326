// Version history: the list, one version as it reads or as the changes restoring it would
// make (a diff from the current text), restore after asking (it goes through the live
// document, so every open editor sees it), and keeping the current text as a named version.
import { ok } from "../api/client";
import { useState } from "react";
import type { DocumentFull, Version, VersionDetail } from "../api/types";
import { useAuth } from "../auth";
import { MarkdownView } from "./MarkdownView";
import { SubmitButton } from "./forms";
import { Button, ErrorText, Modal, formatDate, useAction, useLoad } from "./ui";

export function HistoryDialog({
  documentId,
  canRestore,
  dark,
  onClose,
  onRestored,
}: {
  documentId: string;
  canRestore: boolean;
  dark: boolean;
  onClose: () => void;
  onRestored?: (doc: DocumentFull) => void;
}) {
  const { api } = useAuth();
  const versions = useLoad(() => ok(api.http.GET("/api/documents/{document_id}/versions", { params: { path: { document_id: documentId } } })), [api, documentId]);
  const [selected, setSelected] = useState<VersionDetail | null>(null);
  // Opening a version, and changing the history (keep a version, restore one): one error line.
  const opening = useAction();
  const { busy, error, run } = useAction();
  const [label, setLabel] = useState("");
  const [view, setView] = useState<"preview" | "changes">("preview");
  const [diff, setDiff] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  const open = (v: Version) => {
    setConfirming(false);
    setDiff(null);
    return opening.run(async () => {
      const [detail, changes] = await Promise.all([
        ok(api.http.GET("/api/documents/{document_id}/versions/{version_id}", { params: { path: { document_id: documentId, version_id: v.id } } })),
        ok(api.http.GET("/api/documents/{document_id}/versions/{version_id}/diff", { params: { path: { document_id: documentId, version_id: v.id } }, parseAs: "text" })),
      ]);
      setSelected(detail);
      setDiff(changes);
    });
  };

  const restore = () =>
    selected &&
    run(async () => {
      const doc = await ok(api.http.POST("/api/documents/{document_id}/versions/{version_id}/restore", { params: { path: { document_id: documentId, version_id: selected.id } } }));
      onRestored?.(doc);
      onClose();
    });

  const keep = () =>
    run(async () => {
      await ok(api.http.POST("/api/documents/{document_id}/versions", { params: { path: { document_id: documentId } }, body: { label: label.trim() || null } }));
      setLabel("");
      await versions.reload();
    });

  return (
    <Modal title="Version history" onClose={onClose} wide>
      <div className="history">
        <div className="history-list">
          {canRestore ? (
            <form className="row" onSubmit={(e) => { e.preventDefault(); void keep(); }}>
              <input className="grow" placeholder="Label (optional)" aria-label="Version label" value={label} onChange={(e) => setLabel(e.target.value)} />
              <SubmitButton busy={busy}>Save version</SubmitButton>
            </form>
          ) : null}
          <ErrorText error={versions.error} />
          {versions.data && !versions.data.length ? <p className="muted">No versions yet: one is kept after each quiet period of editing.</p> : null}
          <ul>
            {(versions.data ?? []).map((v) => (
              <li key={v.id}>
                <button className={`version-row ${selected?.id === v.id ? "active" : ""}`} onClick={() => void open(v)}>
                  <strong>{v.label || formatDate(v.created_at)}</strong>
                  <span className="muted small">
                    {v.label ? `${formatDate(v.created_at)} · ` : ""}
                    {v.author?.name ?? "unknown"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </div>
        <div className="history-preview scroll-pane">
          <ErrorText error={error ?? opening.error} />
          {selected ? (
            <>
              <div className="row history-actions">
                <span className="grow muted">{selected.label ? `${selected.label} · ` : ""}{formatDate(selected.created_at)}</span>
                <div className="segmented" role="group" aria-label="Show">
                  <button className={view === "preview" ? "on" : ""} onClick={() => setView("preview")}>Preview</button>
                  <button className={view === "changes" ? "on" : ""} onClick={() => setView("changes")}>Changes</button>
                </div>
                {canRestore && !confirming ? (
                  <Button variant="primary" onClick={() => setConfirming(true)}>
                    Restore this version
                  </Button>
                ) : null}
              </div>
              {confirming ? (
                <div className="confirm" role="alertdialog" aria-label="Restore this version?">
                  <p>
                    Restore the version of {formatDate(selected.created_at)}? The text as it is now is kept as a
                    version first, so this can be undone.
                  </p>
                  <div className="row">
                    <Button variant="primary" busy={busy} onClick={() => void restore()}>Restore</Button>
                    <Button onClick={() => setConfirming(false)}>Cancel</Button>
                  </div>
                </div>
              ) : null}
              {view === "changes" ? <DiffView diff={diff} /> : <MarkdownView source={selected.content} dark={dark} />}
            </>
          ) : (
            <p className="muted">Pick a version to see it.</p>
          )}
        </div>
      </div>
    </Modal>
  );
}

/** A unified diff as lines: what restoring would add (+) and take away (-). */
function DiffView({ diff }: { diff: string | null }) {
  if (diff === null) return <p className="muted">Loading the changes…</p>;
  const lines = diff.split("\n").filter((l, i, all) => l || i < all.length - 1);
  if (!lines.length) return <p className="muted">Restoring this version would change nothing in the text.</p>;
  return (
    <pre className="diff" data-testid="version-diff">
      {lines.map((line, i) => {
        const kind = line.startsWith("+++") || line.startsWith("---") ? "meta"
          : line.startsWith("@@") ? "hunk"
          : line.startsWith("+") ? "add"
          : line.startsWith("-") ? "del" : "same";
        return <div key={i} className={`diff-${kind}`}>{line || " "}</div>;
      })}
    </pre>
  );
}
