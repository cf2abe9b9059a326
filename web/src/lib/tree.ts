// The document tree, built from the API's flat list `{id, parent_id, title, position}`.
import type { DocumentItem } from "../api/types";

export interface TreeNode {
  doc: DocumentItem;
  children: TreeNode[];
  depth: number;
}

function byPosition(a: DocumentItem, b: DocumentItem): number {
  return a.position - b.position || a.title.localeCompare(b.title) || a.id.localeCompare(b.id);
}

/**
 * Roots and their descendants, each level ordered by position. A document whose parent is
 * missing from the list (trashed, or not visible) is shown as a root; a cycle, which the
 * server never makes, is broken rather than looping.
 */
export function buildTree(items: DocumentItem[]): TreeNode[] {
  const ids = new Set(items.map((d) => d.id));
  const children = new Map<string | null, DocumentItem[]>();
  for (const d of items) {
    const parent = d.parent_id && ids.has(d.parent_id) && d.parent_id !== d.id ? d.parent_id : null;
    const list = children.get(parent) ?? [];
    list.push(d);
    children.set(parent, list);
  }
  const seen = new Set<string>();
  // Level by level with an explicit stack, never by recursion: a tree can be thousands of
  // levels deep (an import from an older server), deeper than the call stack.
  const grow = (parent: string | null, depth: number): TreeNode[] => {
    const top: TreeNode[] = [];
    const stack: [string | null, number, TreeNode[]][] = [[parent, depth, top]];
    while (stack.length) {
      const [id, level, into] = stack.pop()!;
      for (const doc of (children.get(id) ?? []).sort(byPosition)) {
        if (seen.has(doc.id)) continue;
        seen.add(doc.id);
        const node: TreeNode = { doc, depth: level, children: [] };
        into.push(node);
        stack.push([doc.id, level + 1, node.children]);
      }
    }
    return top;
  };
  const roots = grow(null, 0);
  // Members of a cycle are reachable from no root: show them at the top level.
  for (const d of items.filter((d) => !seen.has(d.id)).sort(byPosition)) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    roots.push({ doc: d, depth: 0, children: grow(d.id, 1) });
  }
  return roots;
}

/** Depth-first order of the visible rows, skipping the children of collapsed nodes. */
export function visibleRows(roots: TreeNode[], collapsed: ReadonlySet<string>): TreeNode[] {
  const out: TreeNode[] = [];
  const stack = [...roots].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    if (!collapsed.has(n.doc.id)) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
  return out;
}

/** The ids of a document and everything under it. */
export function subtreeIds(items: DocumentItem[], id: string): Set<string> {
  const kids = new Map<string, string[]>();
  for (const d of items) {
    if (!d.parent_id) continue;
    kids.set(d.parent_id, [...(kids.get(d.parent_id) ?? []), d.id]);
  }
  const out = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const cur = stack.pop()!;
    if (out.has(cur)) continue;
    out.add(cur);
    stack.push(...(kids.get(cur) ?? []));
  }
  return out;
}

/** The chain of ancestors of a document, root first (for breadcrumbs and auto-expanding). */
export function ancestors(items: DocumentItem[], id: string): DocumentItem[] {
  const byId = new Map(items.map((d) => [d.id, d]));
  const out: DocumentItem[] = [];
  const seen = new Set<string>();
  let cur = byId.get(id)?.parent_id ?? null;
  while (cur && byId.has(cur) && !seen.has(cur)) {
    seen.add(cur);
    const d = byId.get(cur)!;
    out.unshift(d);
    cur = d.parent_id;
  }
  return out;
}

export type DropWhere = "before" | "after" | "inside";

export interface Move {
  parent_id: string | null;
  position: number;
}

/**
 * Where a dragged document lands when dropped before, after or inside `target`: the new
 * parent and the index among the new siblings (the dragged one excluded). Null when the move
 * is impossible (onto itself or into its own subtree).
 */
export function planMove(
  items: DocumentItem[],
  dragged: string,
  target: string,
  where: DropWhere,
): Move | null {
  if (dragged === target) return null;
  if (subtreeIds(items, dragged).has(target)) return null;
  const t = items.find((d) => d.id === target);
  if (!t) return null;
  const parent = where === "inside" ? t.id : t.parent_id;
  const siblings = items
    .filter((d) => d.parent_id === parent && d.id !== dragged)
    .sort(byPosition);
  if (where === "inside") return { parent_id: parent, position: siblings.length };
  const index = siblings.findIndex((d) => d.id === target);
  return { parent_id: parent, position: where === "before" ? index : index + 1 };
}
