// Personal access tokens in account settings: made with a name, a scope (read, or read and
// write), optionally one workspace and an expiry; the secret is shown once, right after it is
// made; each can be revoked.
import { ok } from "../api/client";
import { useState } from "react";
import { limits } from "../api/schema";
import type { components } from "../api/schema";
import { useAuth } from "../auth";
import { Field, SelectField, SubmitButton } from "../components/forms";
import { Button, ErrorText, Notice, formatDate, useAction, useLoad } from "../components/ui";

type Token = components["schemas"]["PersonalTokenPublic"];
type Scope = components["schemas"]["PersonalTokenIn"]["scope"];
type Created = components["schemas"]["PersonalTokenCreated"];

const EXPIRIES: [string, number | null][] = [
  ["30 days", 30],
  ["90 days", 90],
  ["1 year", 365],
  ["Never", null],
];

export function TokensSection() {
  const { api } = useAuth();
  const tokens = useLoad(() => ok(api.http.GET("/api/auth/tokens")), [api]);
  const workspaces = useLoad(() => ok(api.http.GET("/api/workspaces")), [api]);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [workspace, setWorkspace] = useState("");
  const [days, setDays] = useState("30");
  const [created, setCreated] = useState<Created | null>(null);
  const { busy, error, run, submit } = useAction();

  const create = submit(async () => {
    const expires = days ? new Date(Date.now() + Number(days) * 86400_000).toISOString() : null;
    const made = await ok(
      api.http.POST("/api/auth/tokens", {
        body: { name, scope, workspace_id: workspace || null, expires_at: expires },
      }),
    );
    setCreated(made);
    setName("");
    await tokens.reload();
  });
  const revoke = (t: Token) =>
    run(async () => {
      await ok(api.http.DELETE("/api/auth/tokens/{token_id}", { params: { path: { token_id: t.id } } }));
      if (created?.id === t.id) setCreated(null);
      await tokens.reload();
    });
  const workspaceName = (id: string | null) =>
    id ? (workspaces.data ?? []).find((w) => w.id === id)?.name ?? "one workspace" : "all workspaces";

  return (
    <section className="panel" aria-label="Personal access tokens">
      <h2>Personal access tokens</h2>
      <p className="muted small">
        For scripts and tools: send one as <code>Authorization: Bearer …</code> to the API or the
        WebSocket. It can do no more than you can.
      </p>
      {created ? (
        <Notice>
          <span>Copy the token now; it is not shown again.</span>
          <code className="token-secret" data-testid="new-token">{created.token}</code>
          <Button variant="ghost" onClick={() => void navigator.clipboard?.writeText(created.token)}>Copy</Button>
        </Notice>
      ) : null}
      <form className="stack" onSubmit={create}>
        <Field label="Token name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={limits.PersonalTokenIn.name.maxLength} />
        <SelectField label="Access" value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
          <option value="read">Read only</option>
          <option value="write">Read and write</option>
        </SelectField>
        <SelectField label="Workspace" value={workspace} onChange={(e) => setWorkspace(e.target.value)}>
          <option value="">All my workspaces</option>
          {(workspaces.data ?? []).map((w) => (
            <option key={w.id} value={w.id}>{w.name}</option>
          ))}
        </SelectField>
        <SelectField label="Expires" value={days} onChange={(e) => setDays(e.target.value)}>
          {EXPIRIES.map(([label, n]) => (
            <option key={label} value={n === null ? "" : String(n)}>{label}</option>
          ))}
        </SelectField>
        <ErrorText error={error ?? tokens.error} />
        <SubmitButton busy={busy}>Create token</SubmitButton>
      </form>
      <ul className="list">
        {(tokens.data ?? []).map((t) => (
          <li key={t.id} className="list-row" data-token={t.name}>
            <span className="grow">
              <strong>{t.name}</strong> <span className="role-tag">{t.scope === "write" ? "read and write" : "read only"}</span>
              <br />
              <span className="muted small">
                …{t.hint} · {workspaceName(t.workspace_id)} · made {formatDate(t.created_at)} ·{" "}
                {t.expires_at ? `expires ${formatDate(t.expires_at)}` : "never expires"} ·{" "}
                {t.last_used_at ? `last used ${formatDate(t.last_used_at)}` : "never used"}
              </span>
            </span>
            <Button variant="ghost" onClick={() => void revoke(t)}>Revoke</Button>
          </li>
        ))}
      </ul>
    </section>
  );
}
