import { ok } from "../api/client";
import { useEffect, useState } from "react";
import type { ChangeEvent, FormEvent } from "react";
import { useNavigate } from "react-router";
import { useAuth } from "../auth";
import { Field, SubmitButton } from "../components/forms";
import { Button, ErrorText, Notice, useAction } from "../components/ui";
import { can, useWorkspace } from "../workspace";
import { AuditSection } from "./AuditSection";
import { WebhooksSection } from "./WebhooksSection";

export function WorkspaceSettingsPage() {
  const { api } = useAuth();
  const { workspace, reloadWorkspaces, reloadDocs } = useWorkspace();
  const navigate = useNavigate();
  const [name, setName] = useState(workspace.name);
  const [notice, setNotice] = useState<string | null>(null);
  const { busy: working, error, run } = useAction();
  // Which of the page's actions is at work (one at a time; they share the error line).
  const [doing, setDoing] = useState("");
  const busy = (what: string) => working && doing === what;
  const act = (what: string, work: () => Promise<unknown>) => {
    setDoing(what);
    return run(work);
  };

  useEffect(() => setName(workspace.name), [workspace.name]);

  const rename = (e: FormEvent) => {
    e.preventDefault();
    void act("rename", async () => {
      await ok(api.http.PATCH("/api/workspaces/{workspace_id}", { params: { path: { workspace_id: workspace.id } }, body: { name } }));
      await reloadWorkspaces();
      setNotice("Saved.");
    });
  };

  const exportZip = (format: "zip" | "pdf" = "zip") =>
    act(`export-${format}`, async () => {
      const options = { params: { path: { workspace_id: workspace.id } }, parseAs: "blob" } as const;
      const blob = await ok(
        format === "pdf"
          ? api.http.GET("/api/workspaces/{workspace_id}/pdf", options)
          : api.http.GET("/api/workspaces/{workspace_id}/export", options),
      );
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${workspace.name.replace(/[\\/:*?"<>|]+/g, "-")}.${format}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });

  const importFiles = async (e: ChangeEvent<HTMLInputElement>) => {
    const files = [...(e.target.files ?? [])];
    e.target.value = "";
    if (!files.length) return;
    await act("import", async () => {
      const created = await ok(
        api.http.POST("/api/workspaces/{workspace_id}/import", {
          params: { path: { workspace_id: workspace.id } },
          body: { files: files as unknown as string[] },
          bodySerializer: () => {
            const form = new FormData();
            for (const f of files) form.append("files", f, f.name);
            return form;
          },
        }),
      );
      await reloadDocs();
      setNotice(`Imported ${Array.isArray(created) ? created.length : ""} document(s).`);
    });
  };

  const remove = async () => {
    if (!window.confirm(`Delete the workspace “${workspace.name}” and every document in it? This cannot be undone.`)) return;
    await act("delete", async () => {
      await ok(api.http.DELETE("/api/workspaces/{workspace_id}", { params: { path: { workspace_id: workspace.id } } }));
      navigate("/", { replace: true });
    });
  };

  return (
    <div className="page narrow">
      <h1>Workspace settings</h1>
      {notice ? <Notice>{notice}</Notice> : null}
      <ErrorText error={error} />
      <section className="panel">
        <h2>Name</h2>
        <form className="stack" onSubmit={rename}>
          <Field label="Workspace name" value={name} onChange={(e) => setName(e.target.value)} disabled={!can(workspace, "workspace", "update")} required />
          {can(workspace, "workspace", "update") ? <SubmitButton busy={busy("rename")}>Save</SubmitButton> : null}
        </form>
      </section>
      <section className="panel">
        <h2>Import and export</h2>
        <p className="muted">Export the whole tree as Markdown files in a zip; import .md files or a zip of them.</p>
        <div className="row">
          {can(workspace, "transfer", "read") ? <Button onClick={() => void exportZip("zip")} busy={busy("export-zip")}>Export as zip</Button> : null}
          {can(workspace, "transfer", "read") ? <Button onClick={() => void exportZip("pdf")} busy={busy("export-pdf")}>Export as PDF</Button> : null}
          {can(workspace, "transfer", "create") ? (
            <label className="btn">
              {busy("import") ? "Importing…" : "Import…"}
              <input type="file" accept=".md,.markdown,.zip,text/markdown,application/zip" multiple hidden onChange={(e) => void importFiles(e)} />
            </label>
          ) : null}
        </div>
      </section>
      {can(workspace, "webhook", "read") ? <WebhooksSection workspaceId={workspace.id} /> : null}
      {can(workspace, "audit", "read") ? (
        <AuditSection workspaceId={workspace.id} title="Audit log" />
      ) : null}
      {can(workspace, "workspace", "delete") ? (
        <section className="panel danger-zone">
          <h2>Delete the workspace</h2>
          <p className="muted">Every document, version and share link in it goes too.</p>
          <Button variant="danger" onClick={() => void remove()}>Delete workspace</Button>
        </section>
      ) : null}
    </div>
  );
}
