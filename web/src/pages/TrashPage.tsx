import { ok } from "../api/client";
import { useState } from "react";
import type { TrashItem } from "../api/types";
import { useAuth } from "../auth";
import { Button, Confirm, ErrorText, Spinner, formatDate, useAction, useLoad } from "../components/ui";
import { can, useWorkspace } from "../workspace";

export function TrashPage() {
  const { api } = useAuth();
  const { workspace, reloadDocs } = useWorkspace();
  const trash = useLoad(() => ok(api.http.GET("/api/workspaces/{workspace_id}/trash", { params: { path: { workspace_id: workspace.id } } })), [api, workspace.id]);
  const { error, run } = useAction();
  const [deleting, setDeleting] = useState<TrashItem | null>(null);

  const restore = (id: string) =>
    run(async () => {
      await ok(api.http.POST("/api/documents/{document_id}/restore", { params: { path: { document_id: id } } }));
      await Promise.all([trash.reload(), reloadDocs()]);
    });

  const deleteForGood = async (id: string) => {
    setDeleting(null);
    await run(async () => {
      await ok(api.http.DELETE("/api/documents/{document_id}/permanent", { params: { path: { document_id: id } } }));
      await trash.reload();
    });
  };

  return (
    <div className="page">
      <h1>Trash</h1>
      <p className="muted">Documents moved to the trash, with what was under them. Restore one to put it back in the tree.</p>
      <ErrorText error={error ?? trash.error} />
      {trash.loading && !trash.data ? <Spinner /> : null}
      {trash.data && !trash.data.length ? <p className="muted">The trash is empty.</p> : null}
      <ul className="list">
        {(trash.data ?? []).map((d) => (
          <li key={d.id} className="list-row">
            <span className="grow">
              <strong>{d.title}</strong>
              <span className="muted small"> trashed {formatDate(d.deleted_at)}</span>
            </span>
            {can(workspace, "document", "restore") ? <Button onClick={() => void restore(d.id)}>Restore</Button> : null}
            {can(workspace, "trash", "delete") ? (
              <Button variant="danger" onClick={() => setDeleting(d)}>Delete for good</Button>
            ) : null}
          </li>
        ))}
      </ul>
      {deleting ? (
        <Confirm
          title="Delete for good?"
          action="Delete for good"
          danger
          onCancel={() => setDeleting(null)}
          onConfirm={() => deleteForGood(deleting.id)}
        >
          <p>“{deleting.title || "Untitled"}”, the documents trashed with it, their history and share links are deleted. This cannot be undone.</p>
        </Confirm>
      ) : null}
    </div>
  );
}
