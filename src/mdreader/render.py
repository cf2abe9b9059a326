"""Markdown to safe HTML: markdown-it-py (CommonMark + GFM) sanitized by an nh3 allow-list."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "input",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "section",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "span": {"class"},
    "li": {"class"},
    "ul": {"class"},
    "ol": {"start", "class"},
    "section": {"class"},
    "sup": {"class"},
    "input": {"type", "checked", "disabled", "class"},
    "td": {"style", "align"},
    "th": {"style", "align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_CLASS_OK = re.compile(
    r"^(language-[\w+#.-]{1,40}|contains-task-list|task-list-item(-checkbox)?|footnotes?|"
    r"footnote-(ref|item|backref)|footnotes-sep|footnotes-list|enabled|math|inline|block)$"
)


def _slugify(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    text = re.sub(r"[^\w\- ]+", "", text).strip().replace(" ", "-")
    return text or "section"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(tasklists_plugin)
    md.use(footnote_plugin)
    # $inline$ and $$display$$ math as TeX in `.math` elements (KaTeX renders them in pages).
    md.use(dollarmath_plugin, allow_space=False, double_inline=True)
    md.use(anchors_plugin, min_level=1, max_level=6, slug_func=_slugify, permalink=False)
    return md


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    if attr == "class":
        kept = [c for c in value.split() if _CLASS_OK.match(c)]
        return " ".join(kept) or None
    if attr == "type" and tag == "input":
        return value if value == "checkbox" else None
    if attr == "style":
        return value if re.fullmatch(r"text-align:\s*(left|right|center)", value) else None
    return value


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_filter_attribute,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    return sanitize(_parser().render(text))


def plain_text(body_html: str, limit: int = 200) -> str:
    """The first ``limit`` characters of what rendered HTML says, on one line."""
    cleaned = nh3.clean(body_html, tags=set(), clean_content_tags={"pre", "code"})
    text = " ".join(html.unescape(cleaned).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def page(
    title: str,
    body_html: str,
    *,
    url: str | None = None,
    styles: tuple[str, ...] = (),
    scripts: tuple[str, ...] = (),
) -> str:
    """A standalone HTML page around rendered Markdown: the title once, Open Graph tags, and
    the web build's stylesheets and (same-origin, external) scripts when there are any."""
    safe_title = html.escape(title or "Untitled")
    description = html.escape(plain_text(body_html))
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{safe_title}</title>",
        f'<meta name="description" content="{description}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{safe_title}">',
        f'<meta property="og:description" content="{description}">',
        '<meta name="twitter:card" content="summary">',
    ]
    if url:
        head.append(f'<meta property="og:url" content="{html.escape(url)}">')
    head += [f'<link rel="stylesheet" href="{html.escape(href)}">' for href in styles]
    head += [f'<script type="module" src="{html.escape(src)}"></script>' for src in scripts]
    return (
        '<!doctype html>\n<html lang="en"><head>'
        + "".join(head)
        + '</head><body class="shared-page"><main class="reader shared">'
        f'<h1 class="reader-title">{safe_title}</h1>'
        f'<article class="markdown-body">{body_html}</article>'
        "</main></body></html>"
    )
