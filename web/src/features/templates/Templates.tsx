// "New from template": the workspace's templates in one place; choosing one makes a copy with
// {{date}} and {{author}} filled in and opens it.
import { ok } from "../../api/client";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { useAuth } from "../../auth";
import { ErrorText, Modal, useAction, useLoad } from "../../components/ui";

interface Template { id: string; title: string }

export function TemplatesDialog({ workspaceId, onClose, onCreated }: { workspaceId: string; onClose: () => void; onCreated?: () => Promise<void> | void }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const templates = useLoad(() => ok(api.http.GET("/api/workspaces/{workspace_id}/templates", { params: { path: { workspace_id: workspaceId } } })), [api, workspaceId]);
  const list: Template[] | null = templates.data;
  const { error, run } = useAction();
  const use = (t: Template) =>
    run(async () => {
      const doc = await ok(api.http.POST("/api/workspaces/{workspace_id}/documents/from-template", { params: { path: { workspace_id: workspaceId } }, body: { template_id: t.id } }));
      await onCreated?.();
      onClose();
      navigate(`/w/${workspaceId}/d/${doc.id}`);
    });
  return (
    <Modal title="New from template" onClose={onClose}>
      <ErrorText error={error ?? templates.error} />
      {list && list.length === 0 ? (
        <p className="muted">No templates yet. Open a document and choose “Make template” in its menu.</p>
      ) : null}
      <ul className="template-list" data-testid="templates">
        {(list ?? []).map((t) => (
          <li key={t.id}>
            <button className="menu-item" onClick={() => void use(t)}>{t.title || "Untitled"}</button>
          </li>
        ))}
      </ul>
      <p className="muted small">{"{{date}}"} and {"{{author}}"} in a template are filled in.</p>
    </Modal>
  );
}

/** Whether the document is a template, and a switch for it. */
export function useTemplateFlag(documentId: string): [boolean | null, () => Promise<void>] {
  const { api } = useAuth();
  const [flag, setFlag] = useState<boolean | null>(null);
  useEffect(() => {
    ok(api.http.GET("/api/documents/{document_id}/template", { params: { path: { document_id: documentId } } })).then((r) => setFlag(r.template)).catch(() => {});
  }, [api, documentId]);
  const toggle = async () => {
    const r = flag
      ? await ok(api.http.DELETE("/api/documents/{document_id}/template", { params: { path: { document_id: documentId } } }))
      : await ok(api.http.PUT("/api/documents/{document_id}/template", { params: { path: { document_id: documentId } } }));
    setFlag(r.template);
  };
  return [flag, toggle];
}
