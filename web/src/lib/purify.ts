// DOMPurify, configured once, in the page (loaded on demand): mermaid's SVG and search snippets.
// Whatever HTML it is given (a diagram, or a snippet the server marked up)
// loses scripts, event handlers, javascript: links, forms, frames and page-covering styles.
import createDOMPurify from "dompurify";
import type { DOMPurify as Purifier } from "dompurify";

let purifier: Purifier | null = null;

const FORBID_TAGS = ["style", "form", "button", "textarea", "select", "option", "iframe", "frame",
  "frameset", "object", "embed", "base", "link", "meta", "dialog", "template"];
const UNSAFE_STYLE = /position|url\s*\(|expression|behavior|-moz-binding|@import|z-index/i;

function getPurifier(): Purifier {
  if (purifier) return purifier;
  const p = createDOMPurify(window);
  p.addHook("uponSanitizeAttribute", (node, data) => {
    if (data.attrName === "style") {
      // Inline styles only for KaTeX's layout and diagrams' shapes, and nothing that can
      // cover the page or fetch anything.
      const el = node as Element;
      const allowed = el.closest?.(".katex, .katex-display") != null || el.closest?.("svg") != null;
      if (!allowed || UNSAFE_STYLE.test(data.attrValue)) data.keepAttr = false;
    }
    if (data.attrName === "type" && node.nodeName === "INPUT" && data.attrValue !== "checkbox") {
      data.keepAttr = false;
    }
  });
  p.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName === "A") {
      const href = node.getAttribute("href") ?? "";
      if (/^https?:\/\//i.test(href)) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      } else {
        node.removeAttribute("target");
      }
    }
    if (node.nodeName === "INPUT") {
      node.setAttribute("disabled", "");
      node.removeAttribute("name");
    }
  });
  purifier = p;
  return p;
}

const PAGE_CONFIG = {
  FORBID_TAGS,
  FORBID_ATTR: ["autofocus", "formaction", "srcdoc", "ping"],
  ADD_ATTR: ["target"],
  ALLOW_DATA_ATTR: true,
};

/** Sanitize HTML for the page (also used for mermaid's SVG). */
export function sanitize(html: string, svg = false): string {
  const p = getPurifier();
  if (svg) {
    return p.sanitize(html, {
      USE_PROFILES: { svg: true, svgFilters: true, html: true },
      ADD_TAGS: ["foreignObject"],
      FORBID_TAGS: ["script", "iframe", "object", "embed", "form"],
      HTML_INTEGRATION_POINTS: { foreignobject: true },
    } as never) as unknown as string;
  }
  return p.sanitize(html, PAGE_CONFIG) as unknown as string;
}

