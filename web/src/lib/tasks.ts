// Task-list checkboxes of the preview and the reader toggle `[ ]` / `[x]` in the text itself.

const TASK = /^(\s*(?:>\s*)*(?:[-*+]|\d+[.)])\s+\[)([ xX])\]/;

/** Where the mark of the task on `line` (0-based) is in `text`, and what it becomes; null
 * when that line holds no task (the text changed meanwhile). Offsets count UTF-16 units, as
 * Y.Text does. */
export function taskToggle(text: string, line: number, checked: boolean): { at: number; mark: string } | null {
  let start = 0;
  for (let i = 0; i < line; i++) {
    const next = text.indexOf("\n", start);
    if (next < 0) return null;
    start = next + 1;
  }
  const end = text.indexOf("\n", start);
  const m = TASK.exec(text.slice(start, end < 0 ? undefined : end));
  if (!m) return null;
  const mark = checked ? "x" : " ";
  return m[2].toLowerCase() === mark ? null : { at: start + m[1].length, mark };
}
