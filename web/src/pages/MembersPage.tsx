// Members and their roles, and invitations by e-mail.
import { ok } from "../api/client";
import { useState } from "react";
import type { FormEvent } from "react";
import type { Invitation, InvitationSent, Member, Role } from "../api/types";
import { useAuth } from "../auth";
import { SubmitButton } from "../components/forms";
import { Avatar, Button, ErrorText, Notice, formatDate, useAction, useLoad } from "../components/ui";
import { can, useWorkspace } from "../workspace";

export function MembersPage() {
  const { api, user } = useAuth();
  const { workspace, reloadWorkspaces } = useWorkspace();
  const members = useLoad(() => ok(api.http.GET("/api/workspaces/{workspace_id}/members", { params: { path: { workspace_id: workspace.id } } })), [api, workspace.id]);
  const canInvite = can(workspace, "member", "create");
  const invitations = useLoad(
    () => (can(workspace, "invitation", "read") ? ok(api.http.GET("/api/workspaces/{workspace_id}/invitations", { params: { path: { workspace_id: workspace.id } } })) : Promise.resolve([])),
    [api, workspace.id, workspace.role],
  );
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const { busy, error, run } = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  // The roles the server lets this caller hand out, and change a member's role from and to.
  const grantable = workspace.grantable_roles;

  const invite = (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    void run(async () => {
      // 201 with the member, or 202 with the invitation sent to someone without an account.
      const result = (await ok(
        api.http.POST("/api/workspaces/{workspace_id}/members", { params: { path: { workspace_id: workspace.id } }, body: { email, role } }),
      )) as Member | InvitationSent;
      setNotice("invitation" in result ? result.detail : `${(result as Member).name} is now a member.`);
      setEmail("");
      await Promise.all([members.reload(), invitations.reload()]);
    });
  };

  const changeRole = (m: Member, next: Role) =>
    run(async () => {
      await ok(api.http.PATCH("/api/workspaces/{workspace_id}/members/{user_id}", { params: { path: { workspace_id: workspace.id, user_id: m.user_id } }, body: { role: next } }));
      await members.reload();
      if (m.user_id === user?.id) await reloadWorkspaces();
    });

  const remove = async (m: Member) => {
    const leaving = m.user_id === user?.id;
    if (!window.confirm(leaving ? "Leave this workspace?" : `Remove ${m.name} from ${workspace.name}?`)) return;
    await run(async () => {
      await ok(api.http.DELETE("/api/workspaces/{workspace_id}/members/{user_id}", { params: { path: { workspace_id: workspace.id, user_id: m.user_id } } }));
      if (leaving) {
        window.location.assign("/");
        return;
      }
      await members.reload();
    });
  };

  const revoke = (inv: Invitation) =>
    run(async () => {
      await ok(api.http.DELETE("/api/workspaces/{workspace_id}/invitations/{invitation_id}", { params: { path: { workspace_id: workspace.id, invitation_id: inv.id } } }));
      await invitations.reload();
    });

  const manage = (m: Member) => can(workspace, "member", "update") && grantable.includes(m.role);

  return (
    <div className="page">
      <h1>Members</h1>
      {canInvite ? (
        <form className="invite-form" onSubmit={invite}>
          <input type="email" required placeholder="name@example.com" aria-label="E-mail to invite" value={email} onChange={(e) => setEmail(e.target.value)} />
          <select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable.map((r) => (
              <option key={r} value={r}>{r}</option>
            ))}
          </select>
          <SubmitButton variant="primary" busy={busy}>Invite</SubmitButton>
        </form>
      ) : null}
      {notice ? <Notice>{notice}</Notice> : null}
      <ErrorText error={error ?? members.error} />
      <ul className="list">
        {(members.data ?? []).map((m) => (
          <li key={m.user_id} className="list-row member-row">
            <Avatar id={m.user_id} name={m.name} size={32} />
            <span className="grow">
              <strong>{m.name}</strong> {m.user_id === user?.id ? <span className="muted">(you)</span> : null}
              <br />
              <span className="muted small">{m.email}</span>
            </span>
            {manage(m) && m.user_id !== user?.id ? (
              <select aria-label={`Role of ${m.name}`} value={m.role} onChange={(e) => void changeRole(m, e.target.value as Role)}>
                {grantable.map((r) => (
                  <option key={r} value={r}>{r}</option>
                ))}
              </select>
            ) : (
              <span className="role-tag">{m.role}</span>
            )}
            {(manage(m) && can(workspace, "member", "delete")) || m.user_id === user?.id ? (
              <Button variant="ghost" onClick={() => void remove(m)}>{m.user_id === user?.id ? "Leave" : "Remove"}</Button>
            ) : null}
          </li>
        ))}
      </ul>
      {invitations.data && invitations.data.length ? (
        <>
          <h2>Pending invitations</h2>
          <ul className="list">
            {invitations.data.map((inv) => (
              <li key={inv.id} className="list-row">
                <span className="grow">
                  {inv.email} <span className="role-tag">{inv.role}</span>
                  <br />
                  <span className="muted small">expires {formatDate(inv.expires_at)}</span>
                </span>
                {can(workspace, "invitation", "delete") ? <Button variant="ghost" onClick={() => void revoke(inv)}>Revoke</Button> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
