import type { Peer, SyncState } from "../lib/collab";
import type { TocEntry } from "../lib/markdown";
import { Avatar } from "./ui";

const LABELS: Record<SyncState, string> = {
  connecting: "Connecting…",
  syncing: "Syncing…",
  saved: "Saved",
  offline: "Offline",
  denied: "No access",
};

export function SyncBadge({ state }: { state: SyncState }) {
  return (
    <span className={`sync-badge sync-${state}`} data-testid="sync-state" data-state={state} role="status" aria-live="polite">
      <span className="dot" aria-hidden />
      {LABELS[state]}
    </span>
  );
}

export function Presence({ peers }: { peers: Peer[] }) {
  const seen = new Set<string>();
  const unique = peers.filter((p) => {
    const key = p.userId ?? String(p.clientId);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (!unique.length) return null;
  return (
    <span className="presence" aria-label={`Also here: ${unique.map((p) => p.name).join(", ")}`}>
      {unique.slice(0, 5).map((p) => (
        <span key={p.clientId} className="presence-avatar" style={{ boxShadow: `0 0 0 2px ${p.color}` }}>
          <Avatar id={p.userId ?? String(p.clientId)} name={p.name} size={24} />
        </span>
      ))}
      {unique.length > 5 ? <span className="muted small">+{unique.length - 5}</span> : null}
    </span>
  );
}

export function Toc({ entries, onPick }: { entries: TocEntry[]; onPick: (id: string) => void }) {
  if (!entries.length) return <p className="muted small">No headings yet.</p>;
  const top = Math.min(...entries.map((e) => e.level));
  return (
    <ul className="toc-list">
      {entries.map((e) => (
        <li key={e.id} style={{ paddingLeft: (e.level - top) * 12 }}>
          <a
            href={`#${e.id}`}
            onClick={(ev) => {
              ev.preventDefault();
              onPick(e.id);
            }}
          >
            {e.text || "(untitled section)"}
          </a>
        </li>
      ))}
    </ul>
  );
}
