import { ok } from "../api/client";
import { useState } from "react";
import { Navigate, useNavigate } from "react-router";
import { useAuth } from "../auth";
import { Field, SubmitButton } from "../components/forms";
import { ErrorText, Spinner, useAction, useLoad } from "../components/ui";
import { lastWorkspace } from "../workspace";

export function HomePage() {
  const { api, user, signOut } = useAuth();
  const { data, error } = useLoad(() => ok(api.http.GET("/api/workspaces")), [api]);
  if (error) return <div className="center-page"><ErrorText error={error} /></div>;
  if (!data) return <Spinner />;
  if (data.length) {
    const last = lastWorkspace();
    const target = data.find((w) => w.id === last) ?? data[0];
    return <Navigate to={`/w/${target.id}`} replace />;
  }
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="brand brand-large">
          <span className="brand-mark">M↓</span> MDReader
        </div>
        <h1>Welcome, {user?.name}</h1>
        <p className="muted">A workspace holds documents and the people who read and write them.</p>
        <CreateWorkspaceForm />
        <div className="auth-footer">
          <button className="link-btn" onClick={() => void signOut()}>Sign out</button>
        </div>
      </div>
    </main>
  );
}

export function CreateWorkspaceForm({ onDone }: { onDone?: () => void }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const { busy, error, submit } = useAction();
  const create = submit(async () => {
    const ws = await ok(api.http.POST("/api/workspaces", { body: { name } }));
    onDone?.();
    navigate(`/w/${ws.id}`);
  });
  return (
    <form onSubmit={create} className="stack">
      <Field label="Workspace name" name="workspace_name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus placeholder="e.g. Engineering" />
      <ErrorText error={error} />
      <SubmitButton variant="primary" busy={busy}>
        Create workspace
      </SubmitButton>
    </form>
  );
}
