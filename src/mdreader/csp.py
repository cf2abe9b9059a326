"""The Content-Security-Policy of the pages MDReader serves (the web app, and the public
share page, which loads the app's own scripts and styles): what they need, nothing else.

- scripts, fonts, workers, the manifest: this origin only (no inline script, no eval);
- styles: this origin, and inline styles, which KaTeX, mermaid and the editor set;
- images: this origin, data: and blob: URLs (attachments are fetched with the access token
  and shown as blob: URLs), and https: images that documents link to;
- connections: this origin, its WebSocket, and the storage host that file downloads are
  redirected to (S3 or the CDN, when ``MDREADER_S3_DOWNLOADS=redirect``);
- no plugins, no framing, forms and <base> to this origin only.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from mdreader.settings import Settings


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def storage_origins(settings: Settings) -> list[str]:
    """Where a browser fetches file bytes from when the server redirects it there."""
    if settings.storage != "s3" or settings.s3_downloads != "redirect":
        return []
    for url in (settings.cdn_base_url, settings.s3_endpoint_url):
        if url and (origin := _origin(url)):
            return [origin]
    bucket = settings.s3_bucket
    hosts = [f"https://{bucket}.s3.amazonaws.com"]
    if settings.s3_region:
        hosts.append(f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com")
    return hosts


def _websocket_origin(public_url: str) -> str | None:
    parts = urlsplit(public_url)
    if not parts.netloc:
        return None
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    return _policy(tuple(storage_origins(settings)), _websocket_origin(settings.public_url) or "")


@lru_cache(maxsize=8)
def _policy(storage: tuple[str, ...], websocket: str) -> str:
    connect = " ".join(filter(None, ("'self'", websocket, *storage)))
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": " ".join(("'self'", "data:", "blob:", "https:", *storage)),
        "font-src": "'self' data:",
        "connect-src": connect,
        "worker-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())
