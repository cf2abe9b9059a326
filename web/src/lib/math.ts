// KaTeX for $inline$, $$display$$ and ```math fences, loaded on demand by markdown.ts (in the
// preview worker; the page loads KaTeX's stylesheet itself, lib/preview.ts).
import type { MarkdownIt } from "markdown-it";
import * as katexPluginModule from "@vscode/markdown-it-katex";

// The package is CommonJS with an `exports.default`; bundlers and Node unwrap it differently.
const mod = katexPluginModule as unknown as { default?: unknown };
const katexPlugin = (
  typeof mod.default === "function" ? mod.default : ((mod.default as { default?: unknown })?.default ?? mod)
) as (md: MarkdownIt, options: object) => void;

export function mathPlugin(md: MarkdownIt): void {
  md.use(katexPlugin, { throwOnError: false, enableFencedBlocks: true });
}
