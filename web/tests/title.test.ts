// The title field bound to the shared Y.Text: minimal edits merge, the caret follows remote
// changes, and keys pressed while the document opened are not lost.
// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { applyLocal, bindTitleInput, diffRange, movePosition } from "../src/lib/title";

function pair(title: string) {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.getText("title").insert(0, title);
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  return { a, b, ta: a.getText("title"), tb: b.getText("title") };
}

describe("title", () => {
  it("diffs to one replacement", () => {
    expect(diffRange("Project", "Project Handbook")).toEqual([7, 0, " Handbook"]);
    expect(diffRange("Project Handbook", "Proj")).toEqual([4, 12, ""]);
    expect(diffRange("abc", "aXc")).toEqual([1, 1, "X"]);
    expect(diffRange("same", "same")).toEqual([4, 0, ""]);
  });

  it("merges two people renaming at once instead of keeping the last save", () => {
    const { a, b, ta, tb } = pair("Handbook");
    applyLocal(ta, "Project Handbook", "x");
    applyLocal(tb, "Handbook 2025", "y");
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(ta.toString()).toBe("Project Handbook 2025");
    expect(tb.toString()).toBe(ta.toString());
  });

  it("moves the caret along remote inserts and deletes", () => {
    expect(movePosition(4, [{ insert: "Hi " }])).toBe(7);
    expect(movePosition(4, [{ retain: 5 }, { insert: "!" }])).toBe(4);
    expect(movePosition(4, [{ delete: 2 }])).toBe(2);
    expect(movePosition(4, [{ retain: 2 }, { delete: 5 }])).toBe(2);
  });

  it("binds an input: typing edits the Y.Text, remote edits keep the caret", () => {
    const { a, b, ta, tb } = pair("Plan");
    const input = document.createElement("input");
    document.body.append(input);
    input.value = "Plan";
    const unbind = bindTitleInput(input, ta, "Plan");
    input.focus();
    input.value = "Plans";
    input.setSelectionRange(5, 5);
    input.dispatchEvent(new Event("input"));
    expect(ta.toString()).toBe("Plans");
    tb.insert(0, "Our ");
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(input.value).toBe("Our Plans");
    expect(input.selectionStart).toBe(9);
    unbind();
  });

  it("replays what was typed before the document was loaded", () => {
    const { ta } = pair("Untitled");
    const input = document.createElement("input");
    input.value = "Minutes"; // typed over the REST title while the live one was loading
    bindTitleInput(input, ta, "Untitled");
    expect(ta.toString()).toBe("Minutes");
  });
});
