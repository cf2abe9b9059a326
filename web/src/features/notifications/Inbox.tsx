// The inbox: a button with the unread count, kept live by long polling
// (GET /api/notifications/unread?after=N&wait=25 answers as soon as the count moves), and the
// list of mentions, replies and comments on followed documents; opening one marks it read.
import { ok } from "../../api/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import type { Notification } from "../../api/types";
import { useAuth } from "../../auth";
import { ErrorText, useAction } from "../../components/ui";

const WHAT: Record<Notification["kind"], string> = {
  mention: "mentioned you in",
  reply: "replied in your thread on",
  comment: "commented on",
};

/** The unread count, live. */
export function useUnread(): [number, (n: number) => void] {
  const { api } = useAuth();
  const [count, setCount] = useState(0);
  const known = useRef<number | null>(null);
  useEffect(() => {
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        try {
          const after = known.current;
          const query = after == null ? {} : { after, wait: 25 };
          const { unread } = await ok(api.http.GET("/api/notifications/unread", { params: { query } }));
          if (stopped) return;
          known.current = unread;
          setCount(unread);
        } catch {
          await new Promise((r) => setTimeout(r, 5000)); // offline, or signed out: try later
        }
      }
    };
    void loop();
    return () => {
      stopped = true;
    };
  }, [api]);
  const set = useCallback((n: number) => {
    known.current = n;
    setCount(n);
  }, []);
  return [count, set];
}

export function InboxButton() {
  const [count, setCount] = useUnread();
  const [open, setOpen] = useState(false);
  return (
    <div className="inbox-anchor">
      <button className="nav-item inbox-btn" aria-expanded={open} data-testid="inbox-button" onClick={() => setOpen((v) => !v)}>
        <span aria-hidden>🔔</span> Inbox
        {count > 0 ? <span className="unread" data-testid="unread-count" aria-label={`${count} unread`}>{count}</span> : null}
      </button>
      {open ? <InboxPanel onClose={() => setOpen(false)} onCount={setCount} /> : null}
    </div>
  );
}

function InboxPanel({ onClose, onCount }: { onClose: () => void; onCount: (n: number) => void }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const [items, setItems] = useState<Notification[] | null>(null);
  const { error, run } = useAction();
  const load = useCallback(
    () =>
      run(async () => {
        const list = await ok(api.http.GET("/api/notifications"));
        setItems(list);
        onCount(list.filter((n) => !n.read_at).length);
      }),
    [api, onCount, run],
  );
  useEffect(() => {
    void load();
  }, [load]);

  const openOne = async (n: Notification) => {
    if (!n.read_at) await run(() => ok(api.http.POST("/api/notifications/{notification_id}/read", { params: { path: { notification_id: n.id } } })));
    onClose();
    navigate(`/w/${n.workspace_id}/d/${n.document_id}${n.comment_id ? "?comments=1" : ""}`);
  };

  const readAll = () =>
    run(async () => {
      await ok(api.http.POST("/api/notifications/read-all"));
      await load();
    });

  return (
    <div className="inbox-panel" role="dialog" aria-label="Inbox" data-testid="inbox">
      <div className="inbox-head">
        <strong>Inbox</strong>
        <button className="link-btn" onClick={() => void readAll()}>Mark all read</button>
      </div>
      <ErrorText error={error} />
      {items && items.length === 0 ? <p className="muted">Nothing yet.</p> : null}
      <ul>
        {(items ?? []).map((n) => (
          <li key={n.id} className={n.read_at ? "read" : "unread"} data-testid="notification">
            <button className="inbox-item" onClick={() => void openOne(n)}>
              <span><strong>{n.actor?.name ?? "Someone"}</strong> {WHAT[n.kind]} <strong>{n.document_title || "Untitled"}</strong></span>
              <span className="muted excerpt">{n.excerpt}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
