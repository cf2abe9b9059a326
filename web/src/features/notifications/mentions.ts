// @mentions in the editor: typing "@" offers the workspace's members; choosing one writes
// `@[Name](user:<id>)` into the Markdown (the text stays the document's truth).
import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";

export interface Mentionable {
  user_id: string;
  name: string;
  email: string;
}

export const mentionMarkdown = (m: { user_id: string; name: string }) =>
  `@[${m.name.replace(/[[\]\n]/g, "")}](user:${m.user_id})`;

export function mentionSource(members: () => Mentionable[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const word = context.matchBefore(/(^|[\s(])@[\p{L}\p{N}._-]*$/u);
    if (!word) return null;
    const at = word.text.indexOf("@");
    const from = word.from + at;
    const typed = word.text.slice(at + 1).toLowerCase();
    const options = members()
      .filter((m) => !typed || m.name.toLowerCase().includes(typed) || m.email.toLowerCase().startsWith(typed))
      .slice(0, 20)
      .map((m) => ({ label: `@${m.name}`, detail: m.email, apply: mentionMarkdown(m), type: "mention" }));
    return { from, options, filter: false };
  };
}

