"""Markdown to safe HTML: markdown-it-py (CommonMark + GFM) sanitized by an nh3 allow-list."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
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
    r"footnote-(ref|item|backref)|footnotes-sep|footnotes-list|enabled)$"
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


def page(title: str, body_html: str, **_: Any) -> str:
    """A minimal standalone HTML page around rendered Markdown (title escaped)."""
    safe_title = nh3.clean_text(title)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{safe_title}</title></head><body><article class="markdown-body">'
        f"<h1>{safe_title}</h1>{body_html}</article></body></html>"
    )
