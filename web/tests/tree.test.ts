import { describe, expect, it } from "vitest";
import type { DocumentItem } from "../src/api/types";
import { ancestors, buildTree, planMove, subtreeIds, visibleRows } from "../src/lib/tree";

const doc = (id: string, parent_id: string | null, position: number, title = id.toUpperCase()): DocumentItem => ({
  id,
  parent_id,
  position,
  title,
  updated_at: "2026-01-01T00:00:00Z",
});

// a
// ├─ b
// │  └─ d
// └─ c
// e
const flat = [doc("c", "a", 1), doc("e", null, 1), doc("d", "b", 0), doc("a", null, 0), doc("b", "a", 0)];

const shape = (nodes: ReturnType<typeof buildTree>): unknown =>
  nodes.map((n) => (n.children.length ? { [n.doc.id]: shape(n.children) } : n.doc.id));

describe("buildTree", () => {
  it("nests the flat list and orders each level by position", () => {
    expect(shape(buildTree(flat))).toEqual([{ a: [{ b: ["d"] }, "c"] }, "e"]);
    const depths = visibleRows(buildTree(flat), new Set()).map((n) => [n.doc.id, n.depth]);
    expect(depths).toEqual([["a", 0], ["b", 1], ["d", 2], ["c", 1], ["e", 0]]);
  });

  it("breaks position ties by title", () => {
    expect(shape(buildTree([doc("x", null, 0, "Zeta"), doc("y", null, 0, "Alpha")]))).toEqual(["y", "x"]);
  });

  it("shows documents whose parent is missing at the top level", () => {
    expect(shape(buildTree([doc("orphan", "trashed", 0), doc("root", null, 0)]))).toEqual(["orphan", "root"]);
  });

  it("survives a cycle instead of looping", () => {
    const rows = visibleRows(buildTree([doc("p", "q", 0), doc("q", "p", 0), doc("self", "self", 0)]), new Set());
    expect(rows.map((r) => r.doc.id).sort()).toEqual(["p", "q", "self"]);
  });

  it("hides the children of collapsed nodes", () => {
    expect(visibleRows(buildTree(flat), new Set(["a"])).map((n) => n.doc.id)).toEqual(["a", "e"]);
  });
});

describe("tree helpers", () => {
  it("lists a subtree and the ancestors of a document", () => {
    expect([...subtreeIds(flat, "a")].sort()).toEqual(["a", "b", "c", "d"]);
    expect(ancestors(flat, "d").map((d) => d.id)).toEqual(["a", "b"]);
    expect(ancestors(flat, "e")).toEqual([]);
  });
});

describe("planMove", () => {
  it("drops before, after and inside a target", () => {
    expect(planMove(flat, "e", "c", "before")).toEqual({ parent_id: "a", position: 1 });
    expect(planMove(flat, "e", "b", "after")).toEqual({ parent_id: "a", position: 1 });
    expect(planMove(flat, "e", "b", "inside")).toEqual({ parent_id: "b", position: 1 });
    expect(planMove(flat, "c", "a", "before")).toEqual({ parent_id: null, position: 0 });
  });

  it("counts positions without the dragged document among its old siblings", () => {
    expect(planMove(flat, "b", "c", "after")).toEqual({ parent_id: "a", position: 1 });
  });

  it("refuses to move a document onto itself or into its own subtree", () => {
    expect(planMove(flat, "a", "a", "inside")).toBeNull();
    expect(planMove(flat, "a", "d", "inside")).toBeNull();
    expect(planMove(flat, "a", "b", "after")).toBeNull();
  });
});

describe("a tree thousands of levels deep", () => {
  it("builds and lists without running out of stack", () => {
    const deep = Array.from({ length: 20000 }, (_, i) => doc(`n${i}`, i ? `n${i - 1}` : null, 0));
    const rows = visibleRows(buildTree(deep), new Set());
    expect(rows.length).toBe(20000);
    expect(rows[19999].depth).toBe(19999);
    expect(ancestors(deep, "n19999").length).toBe(19999);
    expect(subtreeIds(deep, "n0").size).toBe(20000);
  });
});
