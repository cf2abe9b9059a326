// Webhooks of a workspace (admins): a URL and the events to send there; the signing secret is
// shown once; each webhook's delivery log with status codes; switch off and on, delete.
import { useState } from "react";
import { ok } from "../api/client";
import { webhookEventValues } from "../api/schema";
import type { components } from "../api/schema";
import { useAuth } from "../auth";
import { Field, SubmitButton } from "../components/forms";
import { Button, ErrorText, Notice, formatDate, useAction, useLoad } from "../components/ui";

type Created = components["schemas"]["WebhookCreated"];
type EventName = components["schemas"]["WebhookEvent"];

export function WebhooksSection({ workspaceId }: { workspaceId: string }) {
  const { api } = useAuth();
  const at = { params: { path: { workspace_id: workspaceId } } };
  const hooks = useLoad(
    () => ok(api.http.GET("/api/workspaces/{workspace_id}/webhooks", { params: { path: { workspace_id: workspaceId } } })),
    [api, workspaceId],
  );
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<EventName[]>(["document.created", "document.updated"]);
  const [created, setCreated] = useState<Created | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const { busy, error, run, submit } = useAction();

  const add = submit(async () => {
    setCreated(await ok(api.http.POST("/api/workspaces/{workspace_id}/webhooks", { ...at, body: { url, events } })));
    setUrl("");
    await hooks.reload();
  });
  const act = (fn: () => Promise<unknown>) =>
    run(async () => {
      await fn();
      await hooks.reload();
    });
  const toggle = (name: EventName) =>
    setEvents((now) => (now.includes(name) ? now.filter((e) => e !== name) : [...now, name]));

  return (
    <section className="panel" aria-label="Webhooks">
      <h2>Webhooks</h2>
      <p className="muted small">
        Events of this workspace are sent as signed JSON (HMAC-SHA256 of the timestamp and the
        body) to the URLs below.
      </p>
      {created ? (
        <Notice>
          <span>Signing secret of {created.url} (shown once):</span>
          <code className="token-secret" data-testid="webhook-secret">{created.secret}</code>
        </Notice>
      ) : null}
      <form className="stack" onSubmit={add}>
        <Field label="Payload URL" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />
        <fieldset className="event-choices">
          <legend>Events</legend>
          {webhookEventValues.map((name) => (
            <label key={name}>
              <input type="checkbox" checked={events.includes(name)} onChange={() => toggle(name)} /> {name}
            </label>
          ))}
        </fieldset>
        <ErrorText error={error ?? hooks.error} />
        <SubmitButton busy={busy} disabled={!events.length}>Add webhook</SubmitButton>
      </form>
      <ul className="list">
        {(hooks.data ?? []).map((h) => (
          <li key={h.id} className="list-row webhook-row" data-webhook={h.url}>
            <span className="grow">
              <strong>{h.url}</strong> {h.active ? null : <span className="role-tag">off</span>}
              <br />
              <span className="muted small">{h.events.join(", ")}</span>
              {h.disabled_reason ? <><br /><span className="error-text small">{h.disabled_reason}</span></> : null}
              {open === h.id ? <DeliveryLog workspaceId={workspaceId} webhookId={h.id} /> : null}
            </span>
            <Button variant="ghost" onClick={() => setOpen(open === h.id ? null : h.id)}>
              {open === h.id ? "Hide deliveries" : "Deliveries"}
            </Button>
            <Button variant="ghost" onClick={() => void act(() => ok(api.http.PATCH("/api/workspaces/{workspace_id}/webhooks/{webhook_id}", { params: { path: { workspace_id: workspaceId, webhook_id: h.id } }, body: { active: !h.active } })))}>
              {h.active ? "Switch off" : "Switch on"}
            </Button>
            <Button variant="danger" onClick={() => void act(() => ok(api.http.DELETE("/api/workspaces/{workspace_id}/webhooks/{webhook_id}", { params: { path: { workspace_id: workspaceId, webhook_id: h.id } } })))}>Delete</Button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function DeliveryLog({ workspaceId, webhookId }: { workspaceId: string; webhookId: string }) {
  const { api } = useAuth();
  const log = useLoad(
    () =>
      ok(
        api.http.GET("/api/workspaces/{workspace_id}/webhooks/{webhook_id}/deliveries", {
          params: { path: { workspace_id: workspaceId, webhook_id: webhookId } },
        }),
      ),
    [api, workspaceId, webhookId],
  );
  if (log.error) return <ErrorText error={log.error} />;
  if (!log.data) return null;
  if (!log.data.length) return <p className="muted small">Nothing sent yet.</p>;
  return (
    <table className="delivery-log">
      <thead>
        <tr><th>Event</th><th>Status</th><th>Code</th><th>Attempts</th><th>When</th></tr>
      </thead>
      <tbody>
        {log.data.map((d) => (
          <tr key={d.id} title={d.last_error ?? ""}>
            <td>{d.event}</td>
            <td>{d.status}</td>
            <td>{d.last_status_code ?? "—"}</td>
            <td>{d.attempts}</td>
            <td>{formatDate(d.delivered_at ?? d.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
