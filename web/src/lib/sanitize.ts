// The page's sanitizer, free of the DOM so that it runs in the preview worker: whatever HTML a
// document's author wrote (or markdown-it made of it) is parsed as a browser would (parse5,
// through hast-util-from-html), cut down to an allow-list (hast-util-sanitize) and written out
// again. Scripts, event handlers, javascript: links, forms, frames, comments and page-covering
// styles go; ids and names that would clobber document or form properties go; math and SVG keep
// only their own elements (KaTeX's output), so that nothing parses differently a second time.
import type { Element, ElementContent, Root } from "hast";
import { fromHtml } from "hast-util-from-html";
import { defaultSchema, sanitize } from "hast-util-sanitize";
import type { Schema } from "hast-util-sanitize";
import { toHtml } from "hast-util-to-html";

const MATHML = ["math", "semantics", "annotation", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace",
  "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable",
  "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "mlabeledtr"];
const SVG = ["svg", "path", "line", "g", "rect", "circle"];
const MATH_ATTRS = ["xmlns", "display", "encoding", "mathvariant", "stretchy", "fence", "separator",
  "lspace", "rspace", "accent", "accentunder", "minsize", "maxsize", "movablelimits", "width", "height",
  "depth", "voffset", "columnalign", "rowspacing", "columnspacing", "columnlines", "rowlines",
  "scriptlevel", "displaystyle", "linethickness", "notation", "mathcolor", "mathbackground", "symmetric"];

const schema: Schema = {
  ...defaultSchema,
  // ids are kept as written (headings' "h-…" ids are anchors); clobbering is checked below.
  clobber: [],
  clobberPrefix: "",
  tagNames: [...(defaultSchema.tagNames ?? []), "u", "center", ...MATHML, ...SVG],
  attributes: {
    ...defaultSchema.attributes,
    "*": [...(defaultSchema.attributes?.["*"] ?? []), "className", "style", "id", "data*"],
    a: [...(defaultSchema.attributes?.a ?? []), "name"],
    input: [["type", "checkbox"], "disabled", "checked", "data*"],
    img: [...(defaultSchema.attributes?.img ?? []), "alt", "title", "width", "height"],
    svg: ["xmlns", "width", "height", "viewBox", "preserveAspectRatio", "style"],
    path: ["d"],
    line: ["x1", "x2", "y1", "y2", "strokeWidth"],
    rect: ["x", "y", "width", "height"],
    circle: ["cx", "cy", "r"],
    ...Object.fromEntries(MATHML.map((t) => [t, MATH_ATTRS])),
  },
  protocols: { ...defaultSchema.protocols, src: ["http", "https", "data"] },
  required: { input: { type: "checkbox", disabled: true } },
};

const UNSAFE_STYLE = /position|url\s*\(|expression|behavior|-moz-binding|@import|z-index/i;
const FOREIGN = new Map([["math", new Set(MATHML)], ["svg", new Set(SVG)]]);

let reserved = new Set<string>();

/** Names a page element's id or name must not take: the properties of `document` and of a form
 * (`<img name="cookie">` would shadow document.cookie). The worker has no document: the page
 * tells it these once (reserved.ts). */
export function setReservedNames(names: Iterable<string>): void {
  reserved = new Set(names);
}

function classes(el: Element): string[] {
  const c = el.properties.className;
  return Array.isArray(c) ? c.map(String) : [];
}

/** What the allow-list cannot say: styles only inside KaTeX and SVG, and nothing that covers
 * the page; foreign content keeps its own elements only; links to other sites open in a new
 * tab without an opener; checkboxes are disabled; no clobbering ids or names. */
function tidy(children: ElementContent[], styled: boolean, foreign: Set<string> | null): ElementContent[] {
  const out: ElementContent[] = [];
  for (const node of children) {
    if (node.type !== "element") {
      out.push(node);
      continue;
    }
    if (foreign && !foreign.has(node.tagName)) continue; // an HTML element inside math or SVG
    const p = node.properties;
    const inside = styled || classes(node).some((c) => c === "katex" || c === "katex-display") || node.tagName === "svg";
    if (p.style !== undefined && (!inside || UNSAFE_STYLE.test(String(p.style)))) delete p.style;
    for (const key of ["id", "name"] as const) {
      if (p[key] !== undefined && reserved.has(String(p[key]))) delete p[key];
    }
    if (node.tagName === "a") {
      const href = typeof p.href === "string" ? p.href : "";
      if (/^https?:\/\//i.test(href)) {
        p.target = "_blank";
        p.rel = ["noopener", "noreferrer", "nofollow"];
      } else delete p.target;
    }
    if (node.tagName === "input") p.disabled = true;
    const next = FOREIGN.get(node.tagName) ?? (node.tagName === "annotation" ? new Set<string>() : foreign);
    node.children = tidy(node.children, inside, next);
    out.push(node);
  }
  return out;
}

/** Sanitized HTML of `html` (a fragment of a page's body). */
export function sanitizeHtml(html: string): string {
  const tree = sanitize(fromHtml(html, { fragment: true }), schema) as Root;
  tree.children = tidy(tree.children as ElementContent[], false, null);
  return toHtml(tree);
}
