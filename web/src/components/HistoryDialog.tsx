// Version history: the list, a preview of one version, restore (which goes through the live
// document, so every open editor sees it), and keeping the current text as a named version.
import { useState } from "react";
import type { DocumentFull, Version, VersionDetail } from "../api/types";
import { useAuth } from "../auth";
import { MarkdownView } from "./MarkdownView";
import { Button, ErrorText, Modal, formatDate, messageOf, useLoad } from "./ui";

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
  const versions = useLoad(() => api.get<Version[]>(`/api/documents/${documentId}/versions`), [api, documentId]);
  const [selected, setSelected] = useState<VersionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [label, setLabel] = useState("");

  const open = async (v: Version) => {
    setError(null);
    try {
      setSelected(await api.get<VersionDetail>(`/api/documents/${documentId}/versions/${v.id}`));
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const restore = async () => {
    if (!selected) return;
    setBusy(true);
    try {
      const doc = await api.post<DocumentFull>(`/api/documents/${documentId}/versions/${selected.id}/restore`);
      onRestored?.(doc);
      onClose();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const keep = async () => {
    setBusy(true);
    try {
      await api.post(`/api/documents/${documentId}/versions`, { label: label.trim() || null });
      setLabel("");
      await versions.reload();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title="Version history" onClose={onClose} wide>
      <div className="history">
        <div className="history-list">
          {canRestore ? (
            <form className="row" onSubmit={(e) => { e.preventDefault(); void keep(); }}>
              <input className="grow" placeholder="Label (optional)" aria-label="Version label" value={label} onChange={(e) => setLabel(e.target.value)} />
              <Button type="submit" busy={busy}>Save version</Button>
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
          <ErrorText error={error} />
          {selected ? (
            <>
              <div className="row history-actions">
                <span className="grow muted">{formatDate(selected.created_at)}</span>
                {canRestore ? (
                  <Button variant="primary" busy={busy} onClick={() => void restore()}>
                    Restore this version
                  </Button>
                ) : null}
              </div>
              <MarkdownView source={selected.content} dark={dark} />
            </>
          ) : (
            <p className="muted">Pick a version to see it.</p>
          )}
        </div>
      </div>
    </Modal>
  );
}
