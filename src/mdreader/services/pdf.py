"""PDF export of a document or a whole workspace, printed by headless Chromium.

Why Chromium: the PDF must show what the reader shows — the same sanitized HTML
(``render.render_markdown``), with KaTeX math and mermaid diagrams, which only a browser
engine running the web build's share script (``web/src/share.ts``) lays out. Python PDF
libraries (fpdf2, xhtml2pdf, WeasyPrint) run no JavaScript, so math and diagrams would be
missing or hand-converted. Chromium is Debian's package beside the server (the container image
and self-hosted machines); it is not bundled: the Lambda package stays as it is (Chromium is
far above Lambda's 250 MB), and a server without it answers 503 with a sentence. A single
document can also be printed from the browser's own print dialog.

The page is written to a temporary folder next to a link to the web build's assets and loaded
from there (``file://``, no network, no server round trip), with a virtual-time budget so the
scripts finish before printing. A workspace's PDF starts with a table of contents linking to
each document (the tree's order, indented by depth); each document starts on a new page.
"""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from mdreader.errors import AppError
from mdreader.render import render_markdown

PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: system-ui, sans-serif; }
.pdf-doc { break-before: page; }
.pdf-toc ol { list-style: none; padding-left: 0; }
.pdf-toc li { margin: 2px 0; }
.pdf-toc a { color: inherit; text-decoration: none; }
"""
_slots = asyncio.Semaphore(2)  # Chromium is heavy: at most two prints at a time per process


@dataclass(frozen=True, slots=True)
class Section:
    id: uuid.UUID
    title: str
    content: str
    depth: int = 0


def chromium(setting: str | None) -> str:
    """The Chromium to print with, or 503."""
    for candidate in (setting,) if setting else ("chromium", "chromium-browser"):
        if found := shutil.which(candidate):
            return found
    raise AppError(
        503,
        "PDF export needs Chromium on this server, which it does not have; "
        "print the document from your browser instead.",
        "pdf_unavailable",
    )


def asset_tags(styles: tuple[str, ...], scripts: tuple[str, ...]) -> str:
    # Relative to the page, which sits beside a link to the build's assets.
    tags = [f'<link rel="stylesheet" href="{html.escape(s.lstrip("/"))}">' for s in styles]
    tags += [f'<script type="module" src="{html.escape(s.lstrip("/"))}"></script>' for s in scripts]
    return "".join(tags)


def document_html(title: str, body_html: str, assets: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title or 'Untitled')}</title>{assets}<style>{PRINT_CSS}</style>"
        '</head><body class="shared-page"><main class="reader shared">'
        f'<h1 class="reader-title">{html.escape(title or "Untitled")}</h1>'
        f'<article class="markdown-body">{body_html}</article></main></body></html>'
    )


def workspace_html(name: str, sections: list[tuple[Section, str]], assets: str) -> str:
    toc = "".join(
        f'<li style="padding-left:{s.depth * 1.2}em"><a href="#doc-{s.id}">'
        f"{html.escape(s.title or 'Untitled')}</a></li>"
        for s, _ in sections
    )
    docs = "".join(
        f'<section class="pdf-doc" id="doc-{s.id}"><h1 class="reader-title">'
        f'{html.escape(s.title or "Untitled")}</h1><article class="markdown-body">{body}</article>'
        "</section>"
        for s, body in sections
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(name)}</title>{assets}<style>{PRINT_CSS}</style>"
        '</head><body class="shared-page"><main class="reader shared">'
        f'<h1 class="reader-title">{html.escape(name)}</h1>'
        f'<nav class="pdf-toc"><h2>Contents</h2><ol>{toc}</ol></nav>{docs}</main></body></html>'
    )


async def render_sections(sections: list[Section]) -> list[tuple[Section, str]]:
    """Each section's sanitized HTML (off the event loop)."""

    def run() -> list[tuple[Section, str]]:
        return [(s, render_markdown(s.content)) for s in sections]

    return await asyncio.to_thread(run)


PRINT_TIMEOUT = 90.0  # seconds Chromium may take for one PDF


async def print_pdf(page: str, *, web_dist: Path, chromium_path: str) -> bytes:
    """The PDF Chromium prints of ``page``."""
    async with _slots:
        with tempfile.TemporaryDirectory(prefix="mdreader-pdf-") as tmp:
            folder = Path(tmp)
            assets = web_dist / "assets"
            if assets.is_dir():
                os.symlink(assets, folder / "assets")
            source, out = folder / "page.html", folder / "out.pdf"
            source.write_text(page, encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                chromium_path,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--allow-file-access-from-files",
                "--no-pdf-header-footer",
                f"--user-data-dir={folder / 'profile'}",
                "--virtual-time-budget=15000",
                f"--print-to-pdf={out}",
                source.as_uri(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, err = await asyncio.wait_for(proc.communicate(), PRINT_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise AppError(
                    503, "Printing the PDF took too long; try a smaller export.", "pdf_timeout"
                ) from None
            if not out.is_file() or out.stat().st_size == 0:
                raise AppError(
                    503,
                    "Chromium could not print this PDF: "
                    + err.decode(errors="replace").strip()[-200:],
                    "pdf_failed",
                )
            return out.read_bytes()
