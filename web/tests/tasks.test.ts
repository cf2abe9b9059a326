import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/lib/markdown";
import { taskToggle } from "../src/lib/tasks";

describe("task lists", () => {
  const text = "# Plan\n\n- [ ] buy milk\n- [x] call 🐘 mum\n  1. [ ] nested\n";

  it("finds the mark of the clicked task's line", () => {
    expect(taskToggle(text, 2, true)).toEqual({ at: text.indexOf("[ ] buy") + 1, mark: "x" });
    expect(taskToggle(text, 3, false)).toEqual({ at: text.indexOf("[x]") + 1, mark: " " });
    expect(taskToggle(text, 4, true)).toEqual({ at: text.indexOf("[ ] nested") + 1, mark: "x" });
  });

  it("changes nothing when the line holds no task or already says so", () => {
    expect(taskToggle(text, 0, true)).toBeNull();
    expect(taskToggle(text, 3, true)).toBeNull();
    expect(taskToggle(text, 40, true)).toBeNull();
  });

  it("renders each checkbox with its source line", () => {
    const html = renderMarkdown(text).html;
    expect(html).toContain('data-task-line="2"');
    expect(html).toContain('data-task-line="3"');
  });
});
