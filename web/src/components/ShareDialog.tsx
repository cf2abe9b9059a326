// Share links: a public, read-only page of the document at /s/{token}.
import { ok } from "../api/client";
import { useState } from "react";
import type { Share } from "../api/types";
import { useAuth } from "../auth";
import { Button, ErrorText, Modal, formatDate, useAction, useLoad } from "./ui";

function absolute(url: string): string {
  try {
    return new URL(url, window.location.origin).toString();
  } catch {
    return url;
  }
}

export function ShareDialog({ documentId, canShare, onClose }: { documentId: string; canShare: boolean; onClose: () => void }) {
  const { api } = useAuth();
  const shares = useLoad(
    () => ok(api.http.GET("/api/documents/{document_id}/shares", { params: { path: { document_id: documentId } } })).catch(() => [] as Share[]),
    [api, documentId],
  );
  const { busy, error, run } = useAction();
  const [copied, setCopied] = useState<string | null>(null);
  const [created, setCreated] = useState<Share | null>(null);

  const create = () =>
    run(async () => {
      const share = await ok(api.http.POST("/api/documents/{document_id}/shares", { params: { path: { document_id: documentId } }, body: {} }));
      setCreated(share);
      await shares.reload();
    });

  const revoke = (token: string) =>
    run(async () => {
      await ok(api.http.DELETE("/api/documents/{document_id}/shares/{token}", { params: { path: { document_id: documentId, token } } }));
      if (created?.token === token) setCreated(null);
      await shares.reload();
    });

  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied(url);
    } catch {
      setCopied(null);
    }
  };

  const list = [...(shares.data ?? [])];
  if (created && !list.some((s) => s.token === created.token)) list.unshift(created);

  return (
    <Modal title="Share" onClose={onClose}>
      <div className="stack">
        <p className="muted">Anyone with a link can read this document, without signing in. Revoke a link to turn it off.</p>
        {list.map((s) => (
          <div key={s.token} className="share-row">
            <input readOnly value={absolute(s.url)} aria-label="Share link" onFocus={(e) => e.currentTarget.select()} data-testid="share-url" />
            <Button onClick={() => void copy(absolute(s.url))}>{copied === absolute(s.url) ? "Copied" : "Copy"}</Button>
            {canShare ? <Button variant="danger" onClick={() => void revoke(s.token)}>Revoke</Button> : null}
            {s.created_at ? <span className="muted small share-date">created {formatDate(s.created_at)}</span> : null}
          </div>
        ))}
        <ErrorText error={error} />
        {canShare ? (
          <Button variant="primary" busy={busy} onClick={() => void create()}>
            {list.length ? "Create another link" : "Create a share link"}
          </Button>
        ) : (
          <p className="muted">Only editors can create share links.</p>
        )}
      </div>
    </Modal>
  );
}
