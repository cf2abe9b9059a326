// highlight.js for the preview (in its worker), the reader and the public share page: the core,
// and the languages people write most, each loaded the first time a document has a fence in it.
import hljs from "highlight.js/lib/core";
import type { LanguageFn } from "highlight.js";

type Loader = () => Promise<{ default: LanguageFn }>;

const LOADERS: Record<string, Loader> = {
  bash: () => import("highlight.js/lib/languages/bash"),
  c: () => import("highlight.js/lib/languages/c"),
  cpp: () => import("highlight.js/lib/languages/cpp"),
  css: () => import("highlight.js/lib/languages/css"),
  diff: () => import("highlight.js/lib/languages/diff"),
  dockerfile: () => import("highlight.js/lib/languages/dockerfile"),
  go: () => import("highlight.js/lib/languages/go"),
  ini: () => import("highlight.js/lib/languages/ini"),
  java: () => import("highlight.js/lib/languages/java"),
  javascript: () => import("highlight.js/lib/languages/javascript"),
  json: () => import("highlight.js/lib/languages/json"),
  markdown: () => import("highlight.js/lib/languages/markdown"),
  python: () => import("highlight.js/lib/languages/python"),
  rust: () => import("highlight.js/lib/languages/rust"),
  sql: () => import("highlight.js/lib/languages/sql"),
  typescript: () => import("highlight.js/lib/languages/typescript"),
  xml: () => import("highlight.js/lib/languages/xml"),
  yaml: () => import("highlight.js/lib/languages/yaml"),
};

const ALIASES: Record<string, string> = {
  sh: "bash", shell: "bash", zsh: "bash", html: "xml", svg: "xml", toml: "ini", py: "python",
  js: "javascript", jsx: "javascript", mjs: "javascript", ts: "typescript", tsx: "typescript",
  yml: "yaml", md: "markdown",
};

const loading = new Map<string, Promise<void>>();

/** The language highlight.js knows `lang` as, if it is one of ours. */
function languageName(lang: string): string | null {
  const name = lang.trim().toLowerCase();
  const full = ALIASES[name] ?? name;
  return Object.hasOwn(LOADERS, full) ? full : null;
}

/** Load (once) every language of `langs` that is one of ours. */
export function loadLanguages(langs: Iterable<string>): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const lang of langs) {
    const name = languageName(lang);
    if (!name) continue;
    let wait = loading.get(name);
    if (!wait) {
      wait = LOADERS[name]().then((m) => {
        hljs.registerLanguage(name, m.default);
        for (const [alias, to] of Object.entries(ALIASES)) if (to === name) hljs.registerAliases(alias, { languageName: name });
      });
      loading.set(name, wait);
    }
    waits.push(wait);
  }
  return Promise.all(waits).then(() => undefined);
}

/** The languages of the fenced code blocks of a Markdown text. */
export function fenceLanguages(source: string): Set<string> {
  const out = new Set<string>();
  for (const m of source.matchAll(/^[ \t]{0,3}(?:`{3,}|~{3,})[ \t]*([\w+#.-]+)/gm)) out.add(m[1].toLowerCase());
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Highlighted HTML of `code` in `lang` (escaped plain text for an unknown or not yet loaded
 * language). */
export function highlight(code: string, lang: string): string {
  const name = lang.trim().toLowerCase();
  if (name && hljs.getLanguage(name)) {
    try {
      return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
    } catch {
      // fall through to plain text
    }
  }
  return escapeHtml(code);
}

export { hljs };
