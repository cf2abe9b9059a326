// The inbox: a button with the unread count, kept live by long polling
// (GET /api/notifications/unread?after=N&wait=25 answers as soon as the count moves), and the
// list of mentions, replies and comments on followed documents (InboxPanel.tsx, loaded when
// the inbox is first opened); opening one marks it read.
import { ok } from "../../api/client";
import { Suspense, lazy, useCallback, useEffect, useRef, useState } from "react";
import { useAuth } from "../../auth";

const InboxPanel = lazy(() => import("./InboxPanel").then((m) => ({ default: m.InboxPanel })));

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
      {open ? <Suspense fallback={null}><InboxPanel onClose={() => setOpen(false)} onCount={setCount} /></Suspense> : null}
    </div>
  );
}
