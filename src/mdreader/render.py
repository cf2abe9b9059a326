"""Markdown to safe HTML: markdown-it-py (CommonMark + GFM) sanitized by an nh3 allow-list."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import html
import logging
import multiprocessing
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

log = logging.getLogger("mdreader.render")

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
    # Imported on the first render, not with the module: a Lambda cold start that renders
    # nothing does not pay for the parser (bench/lambda_cold).
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.tasklists import tasklists_plugin

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


class Renderer:
    """Rendered Markdown by the text's digest, so that the text's version decides: a text
    seen before is not rendered again, a changed one is.

    Rendering (pure Python, up to two seconds for a megabyte) runs in a worker process of its
    own, one at a time, so the event loop keeps answering other requests while it runs, with
    no contention for the interpreter's lock; where no process can be started (AWS Lambda
    has no shared memory for one) it runs in a thread. Requests for the same text wait on
    one render. Kept answers are bounded in bytes (least recently used go first).

    Whole pages are also kept by (document, database change stamp): while the stamp has not
    moved (nobody committed anything, fast/stamps.py), a page is served again without even
    reading the document's text; a new stamp drops them all."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_entry: int = 8 * 1024 * 1024):
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self._done: OrderedDict[bytes, str] = OrderedDict()
        self._bytes = 0
        self._running: dict[bytes, asyncio.Future[str]] = {}
        self._turn = asyncio.Semaphore(1)
        self.renders = 0  # how many times Markdown was rendered (tests read it)
        self._pages: dict[object, bytes] = {}
        self._pages_stamp: object = None
        self._pages_bytes = 0
        self._building: dict[tuple[object, object], asyncio.Future[bytes]] = {}
        self._pool: concurrent.futures.Executor | None = None
        self._pool_failed = False

    async def __aenter__(self) -> Renderer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            # Waited for: no render process outlives the server.
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _executor(self) -> concurrent.futures.Executor | None:
        """The worker process, started on first use (None: render in a thread)."""
        if self._pool is None and not self._pool_failed:
            try:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn")
                )
            except (OSError, ImportError, NotImplementedError):
                log.warning("no worker process for rendering; rendering in a thread")
                self._pool_failed = True
        return self._pool

    async def page(
        self, key: object, stamp: object, build: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The page kept for ``key`` under ``stamp``, or the one ``build`` makes (once, for
        everyone asking at the same time); kept if the stamp did not move meanwhile, which
        the builder checks and then calls ``keep_page``."""
        if stamp is None:
            return await build()
        if stamp == self._pages_stamp and (found := self._pages.get(key)) is not None:
            return found
        running = self._building.get((key, stamp))
        if running is None:
            running = asyncio.ensure_future(build())
            self._building[(key, stamp)] = running
            running.add_done_callback(lambda _: self._building.pop((key, stamp), None))
        return await asyncio.shield(running)

    def keep_page(self, key: object, stamp: object, body: bytes) -> None:
        """Keep a page built entirely while the stamp was ``stamp`` (the caller checked)."""
        if stamp is None or len(body) > self.max_entry:
            return
        if stamp != self._pages_stamp or self._pages_bytes + len(body) > self.max_bytes:
            self._pages.clear()
            self._pages_stamp, self._pages_bytes = stamp, 0
        self._pages[key] = body
        self._pages_bytes += len(body)

    async def html(self, text: str) -> str:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        found = self._done.get(key)
        if found is not None:
            self._done.move_to_end(key)
            return found
        running = self._running.get(key)
        if running is None:
            # A task of its own: a caller that goes away does not cancel the others' render.
            running = asyncio.ensure_future(self._render(key, text))
            self._running[key] = running
        return await asyncio.shield(running)

    async def _render(self, key: bytes, text: str) -> str:
        try:
            async with self._turn:
                self.renders += 1
                result = await self._run(text)
        finally:
            self._running.pop(key, None)
        self._keep(key, result)
        return result

    async def _run(self, text: str) -> str:
        pool = self._executor()
        if pool is not None:
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, render_markdown, text)
            except concurrent.futures.BrokenExecutor:
                log.warning("the rendering process died; starting another", exc_info=True)
                self._pool = None
                return await self._run(text)
        return await asyncio.to_thread(render_markdown, text)

    def _keep(self, key: bytes, result: str) -> None:
        size = len(result)
        if size > self.max_entry:
            return
        self._done[key] = result
        self._bytes += size
        while self._bytes > self.max_bytes and self._done:
            _, dropped = self._done.popitem(last=False)
            self._bytes -= len(dropped)


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
