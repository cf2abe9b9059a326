// The document tree in the sidebar: open, create a child, rename, move by drag and drop (or
// with "Move to…" where dragging is awkward, on phones), and send to the trash.
import { ok } from "../api/client";
import { useEffect, useMemo, useRef, useState } from "react";
import type { DragEvent } from "react";
import { NavLink, useLocation, useNavigate, useParams } from "react-router";
import { useAuth } from "../auth";
import { ancestors, buildTree, planMove, subtreeIds, visibleRows } from "../lib/tree";
import type { DropWhere, TreeNode } from "../lib/tree";
import { can, useWorkspace } from "../workspace";
import { Confirm, Modal, useAction, useDismiss } from "./ui";
import { ChevronDown, ChevronRight, MoreIcon, PlusIcon } from "./icons";

const DRAG_TYPE = "application/x-mdreader-document";

function loadCollapsed(wid: string): Set<string> {
  try {
    return new Set(JSON.parse(localStorage.getItem(`mdreader.collapsed.${wid}`) ?? "[]") as string[]);
  } catch {
    return new Set();
  }
}

export function DocTree() {
  const { api } = useAuth();
  const { workspace, docs, reloadDocs, patchDoc, createDocument } = useWorkspace();
  const { did } = useParams();
  const navigate = useNavigate();
  const [collapsed, setCollapsed] = useState(() => loadCollapsed(workspace.id));
  const [renaming, setRenaming] = useState<string | null>(null);
  const [menu, setMenu] = useState<string | null>(null);
  const [moving, setMoving] = useState<string | null>(null);
  const [trashing, setTrashing] = useState<string | null>(null);
  const [drop, setDrop] = useState<{ id: string | null; where: DropWhere } | null>(null);
  const { error, setError, run } = useAction();
  const dragged = useRef<string | null>(null);
  const editable = can(workspace, "document", "update");
  const location = useLocation();
  // A row's "…" menu closes on Escape, a press elsewhere, and when the page changes.
  useDismiss(menu, () => setMenu(null));
  useEffect(() => setMenu(null), [location.pathname]);

  const roots = useMemo(() => buildTree(docs), [docs]);

  // Open the branches leading to the current document.
  useEffect(() => {
    if (!did) return;
    const up = ancestors(docs, did).map((d) => d.id);
    if (up.some((id) => collapsed.has(id))) {
      setCollapsed((c) => {
        const next = new Set(c);
        up.forEach((id) => next.delete(id));
        return next;
      });
    }
  }, [did, docs, collapsed]);

  useEffect(() => {
    localStorage.setItem(`mdreader.collapsed.${workspace.id}`, JSON.stringify([...collapsed]));
  }, [collapsed, workspace.id]);

  const rows = visibleRows(roots, collapsed);

  const toggle = (id: string) =>
    setCollapsed((c) => {
      const next = new Set(c);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const move = async (id: string, parent_id: string | null, position: number) => {
    await run(async () => {
      await ok(api.http.PATCH("/api/documents/{document_id}", { params: { path: { document_id: id } }, body: { parent_id, position } }));
      if (parent_id) setCollapsed((c) => { const n = new Set(c); n.delete(parent_id); return n; });
    });
    await reloadDocs();
  };

  const rename = async (id: string, title: string) => {
    setRenaming(null);
    const t = title.trim();
    if (!t || t === docs.find((d) => d.id === id)?.title) return;
    patchDoc(id, { title: t });
    await run(() => ok(api.http.PATCH("/api/documents/{document_id}", { params: { path: { document_id: id } }, body: { title: t } })));
    await reloadDocs();
  };

  const trash = async (id: string) => {
    setMenu(null);
    await run(async () => {
      await ok(api.http.DELETE("/api/documents/{document_id}", { params: { path: { document_id: id } } }));
      if (did && subtreeIds(docs, id).has(did)) navigate(`/w/${workspace.id}`);
    });
    await reloadDocs();
  };

  const whereFor = (e: DragEvent, el: HTMLElement): DropWhere => {
    const r = el.getBoundingClientRect();
    const y = (e.clientY - r.top) / r.height;
    return y < 0.28 ? "before" : y > 0.72 ? "after" : "inside";
  };

  const onDragOver = (e: DragEvent<HTMLElement>, node: TreeNode) => {
    const from = dragged.current;
    if (!from || !e.dataTransfer.types.includes(DRAG_TYPE)) return;
    const where = whereFor(e, e.currentTarget);
    if (!planMove(docs, from, node.doc.id, where)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (drop?.id !== node.doc.id || drop.where !== where) setDrop({ id: node.doc.id, where });
  };

  const onDrop = (e: DragEvent<HTMLElement>, node: TreeNode) => {
    e.preventDefault();
    const from = dragged.current;
    setDrop(null);
    dragged.current = null;
    if (!from) return;
    const plan = planMove(docs, from, node.doc.id, whereFor(e, e.currentTarget));
    if (plan) void move(from, plan.parent_id, plan.position);
  };

  if (!docs.length) {
    return (
      <div className="tree-empty">
        <p className="muted">No documents yet.</p>
        {can(workspace, "document", "create") ? (
          <button className="link-btn" onClick={() => void createDocument(null)}>Write the first one</button>
        ) : null}
      </div>
    );
  }

  return (
    <>
      {error ? <p className="error-text small" onClick={() => setError(null)}>{error}</p> : null}
      <ul className="tree" role="tree">
        {rows.map((node) => {
          const d = node.doc;
          const isDrop = drop?.id === d.id ? `drop-${drop.where}` : "";
          return (
            <li
              key={d.id}
              role="treeitem"
              aria-expanded={node.children.length ? !collapsed.has(d.id) : undefined}
              className={`tree-row ${isDrop}`}
              style={{ paddingLeft: 6 + node.depth * 14 }}
              draggable={editable && renaming !== d.id}
              onDragStart={(e) => {
                dragged.current = d.id;
                e.dataTransfer.setData(DRAG_TYPE, d.id);
                e.dataTransfer.setData("text/plain", d.title);
                e.dataTransfer.effectAllowed = "move";
              }}
              onDragEnd={() => {
                dragged.current = null;
                setDrop(null);
              }}
              onDragOver={(e) => onDragOver(e, node)}
              onDragLeave={() => setDrop(null)}
              onDrop={(e) => onDrop(e, node)}
              data-doc-id={d.id}
            >
              <button
                className={`twisty ${node.children.length ? "" : "invisible"}`}
                aria-label={collapsed.has(d.id) ? "Expand" : "Collapse"}
                onClick={() => toggle(d.id)}
                tabIndex={node.children.length ? 0 : -1}
              >
                {collapsed.has(d.id) ? <ChevronRight /> : <ChevronDown />}
              </button>
              {renaming === d.id ? (
                <input
                  className="rename-input"
                  aria-label="New title"
                  defaultValue={d.title}
                  autoFocus
                  onFocus={(e) => e.currentTarget.select()}
                  onBlur={(e) => void rename(d.id, e.currentTarget.value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter") void rename(d.id, e.currentTarget.value);
                    if (e.key === "Escape") setRenaming(null);
                  }}
                />
              ) : (
                <NavLink
                  to={`/w/${workspace.id}/d/${d.id}`}
                  className="tree-link"
                  onDoubleClick={() => editable && setRenaming(d.id)}
                >
                  {d.title || "Untitled"}
                </NavLink>
              )}
              {editable ? (
                <span className="row-actions">
                  <button className="icon-btn small" title="New document inside" aria-label={`New document inside ${d.title}`} onClick={() => void createDocument(d.id)}>
                    <PlusIcon />
                  </button>
                  <button className="icon-btn small" title="More" aria-label={`Actions for ${d.title}`} aria-expanded={menu === d.id} data-menu={d.id} onClick={() => setMenu(menu === d.id ? null : d.id)}>
                    <MoreIcon />
                  </button>
                </span>
              ) : null}
              {menu === d.id ? (
                <div className="menu row-menu" role="menu" data-menu={d.id}>
                  <button role="menuitem" className="menu-item" onClick={() => { setMenu(null); setRenaming(d.id); }}>Rename</button>
                  <button role="menuitem" className="menu-item" onClick={() => { setMenu(null); setMoving(d.id); }}>Move to…</button>
                  <button role="menuitem" className="menu-item danger" onClick={() => { setMenu(null); setTrashing(d.id); }}>Move to trash</button>
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
      {editable ? (
        <div
          className={`tree-root-drop ${drop?.id === null ? "active" : ""}`}
          onDragOver={(e) => {
            if (!dragged.current) return;
            e.preventDefault();
            setDrop({ id: null, where: "inside" });
          }}
          onDragLeave={() => setDrop(null)}
          onDrop={(e) => {
            e.preventDefault();
            const from = dragged.current;
            setDrop(null);
            if (from) void move(from, null, docs.filter((x) => !x.parent_id && x.id !== from).length);
          }}
        >
          Drop here to move to the top level
        </div>
      ) : null}
      {trashing ? (
        <Confirm
          title="Move to the trash?"
          action="Move to trash"
          danger
          onCancel={() => setTrashing(null)}
          onConfirm={async () => {
            const id = trashing;
            setTrashing(null);
            await trash(id);
          }}
        >
          <p>
            “{docs.find((x) => x.id === trashing)?.title || "Untitled"}” and the documents under it go to the trash. They
            can be restored from there.
          </p>
        </Confirm>
      ) : null}
      {moving ? <MoveDialog id={moving} onClose={() => setMoving(null)} onMove={(parent) => { setMoving(null); void move(moving, parent, 1_000_000); }} /> : null}
    </>
  );
}

function MoveDialog({ id, onClose, onMove }: { id: string; onClose: () => void; onMove: (parent: string | null) => void }) {
  const { docs } = useWorkspace();
  const blocked = subtreeIds(docs, id);
  const rows = visibleRows(buildTree(docs), new Set());
  const current = docs.find((d) => d.id === id);
  return (
    <Modal title={`Move “${current?.title ?? ""}”`} onClose={onClose}>
      <ul className="move-list">
        <li>
          <button className="menu-item" disabled={!current?.parent_id} onClick={() => onMove(null)}>
            Top level
          </button>
        </li>
        {rows.map((n) => (
          <li key={n.doc.id} style={{ paddingLeft: 8 + n.depth * 14 }}>
            <button className="menu-item" disabled={blocked.has(n.doc.id) || current?.parent_id === n.doc.id} onClick={() => onMove(n.doc.id)}>
              {n.doc.title}
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}
