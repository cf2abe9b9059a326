// The audit log in the web app: a workspace's (admins, in workspace settings) or one's own
// (account settings), newest first, with "Older" to page back.
import { useCallback, useState } from "react";
import { ok } from "../api/client";
import type { components } from "../api/schema";
import { useAuth } from "../auth";
import { Button, ErrorText, formatDate, useAction, useLoad } from "../components/ui";

type Entry = components["schemas"]["AuditEventPublic"];

/** A workspace's audit log, or the signed-in person's own activity (no `workspaceId`). */
export function AuditSection({ workspaceId, title }: { workspaceId?: string; title: string }) {
  const { api } = useAuth();
  const load = useCallback(
    (before?: string) => {
      const query = { limit: 50, before };
      return ok(
        workspaceId
          ? api.http.GET("/api/workspaces/{workspace_id}/audit", { params: { path: { workspace_id: workspaceId }, query } })
          : api.http.GET("/api/auth/audit", { params: { query } }),
      );
    },
    [api, workspaceId],
  );
  const first = useLoad(() => load(), [load]);
  const [more, setMore] = useState<Entry[]>([]);
  const { busy, error, run } = useAction();
  const entries = [...(first.data ?? []), ...more];
  const older = async () => {
    const last = entries[entries.length - 1];
    if (!last) return;
    await run(async () => {
      const page = await load(last.at);
      setMore((m) => [...m, ...page]);
    });
  };
  return (
    <section className="panel" aria-label={title}>
      <h2>{title}</h2>
      <ErrorText error={error ?? first.error} />
      <table className="delivery-log audit-log">
        <thead>
          <tr><th>When</th><th>What</th><th>Who</th><th>Details</th><th>From</th></tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-action={e.action}>
              <td>{formatDate(e.at)}</td>
              <td>{e.action}</td>
              <td>{e.actor_email ?? "—"}</td>
              <td>{[e.target, ...Object.entries(e.detail).map(([k, v]) => `${k}: ${String(v)}`)].filter(Boolean).join(", ")}</td>
              <td title={e.user_agent}>{e.ip}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length && entries.length % 50 === 0 ? <Button variant="ghost" busy={busy} onClick={() => void older()}>Older</Button> : null}
    </section>
  );
}
