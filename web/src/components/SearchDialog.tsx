// Ctrl+K: titles match at once from the tree, full-text hits come from the search API.
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { ApiError, ok } from "../api/client";
import type { SearchHit } from "../api/types";
import { useSanitize } from "../lib/usePurify";
import { useAuth } from "../auth";
import { useWorkspace } from "../workspace";
import { Modal } from "./ui";

interface Row {
  id: string;
  title: string;
  snippet?: string;
}

export function SearchDialog({ onClose }: { onClose: () => void }) {
  const { api } = useAuth();
  const sanitize = useSanitize();
  const { workspace, docs } = useWorkspace();
  const navigate = useNavigate();
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [note, setNote] = useState<string | null>(null);
  const [active, setActive] = useState(0);

  useEffect(() => {
    const query = q.trim();
    if (!query) {
      setHits([]);
      setNote(null);
      return;
    }
    const ctrl = new AbortController();
    const timer = window.setTimeout(() => {
      ok(api.http.GET("/api/workspaces/{workspace_id}/search", { params: { path: { workspace_id: workspace.id }, query: { q: query } }, signal: ctrl.signal }))
        .then((h) => {
          setHits(h);
          setNote(null);
        })
        .catch((e) => {
          if (ctrl.signal.aborted) return;
          setHits([]);
          setNote(e instanceof ApiError && e.status === 404 ? "Full-text search is not available on this server; titles only." : e.message);
        });
    }, 180);
    return () => {
      ctrl.abort();
      window.clearTimeout(timer);
    };
  }, [q, api, workspace.id]);

  const rows = useMemo<Row[]>(() => {
    const query = q.trim().toLowerCase();
    if (!query) return docs.slice(0, 8).map((d) => ({ id: d.id, title: d.title }));
    const seen = new Set<string>();
    const out: Row[] = [];
    for (const h of hits) {
      if (seen.has(h.document_id)) continue;
      seen.add(h.document_id);
      out.push({ id: h.document_id, title: h.title, snippet: h.snippet });
    }
    for (const d of docs) {
      if (!seen.has(d.id) && d.title.toLowerCase().includes(query)) {
        seen.add(d.id);
        out.push({ id: d.id, title: d.title });
      }
    }
    return out.slice(0, 30);
  }, [q, hits, docs]);

  useEffect(() => setActive(0), [rows.length]);

  const open = (id: string) => {
    onClose();
    navigate(`/w/${workspace.id}/d/${id}`);
  };

  return (
    <Modal title="Search" onClose={onClose} wide>
      <input
        className="search-input"
        placeholder={`Search ${workspace.name}…`}
        aria-label="Search documents"
        value={q}
        autoFocus
        onChange={(e) => setQ(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive((a) => Math.min(a + 1, rows.length - 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (e.key === "Enter" && rows[active]) {
            open(rows[active].id);
          }
        }}
      />
      {note ? <p className="muted small">{note}</p> : null}
      <ul className="search-results" role="listbox">
        {rows.map((r, i) => (
          <li key={r.id} role="option" aria-selected={i === active}>
            <button className={`search-row ${i === active ? "active" : ""}`} onMouseEnter={() => setActive(i)} onClick={() => open(r.id)}>
              <span className="search-title">{r.title}</span>
              {r.snippet && sanitize ? <span className="search-snippet" dangerouslySetInnerHTML={{ __html: sanitize(r.snippet) }} /> : null}
              {r.snippet && !sanitize ? <span className="search-snippet">{new DOMParser().parseFromString(r.snippet, "text/html").body.textContent}</span> : null}
            </button>
          </li>
        ))}
        {q.trim() && !rows.length ? <li className="muted">Nothing found.</li> : null}
      </ul>
    </Modal>
  );
}
