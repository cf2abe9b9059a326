"""A real OpenID Connect provider for the tests (tests/oidc/node/provider.mjs: the certified
`oidc-provider` package), and a browser that walks its sign-in pages.

``OidcProvider`` starts the Node process (port 0), knows its issuer at once, and is given its
clients once the app it serves knows its own address. ``Browser`` follows redirects across the
app and the provider the way a browser does, with a cookie jar for each, and fills in the
provider's sign-in and consent forms.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from support.node import npm_ci

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_provider_modules() -> str | None:
    return npm_ci(NODE_DIR)


class OidcProvider:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "provider.mjs")],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self._line()
        self.issuer: str = json.loads(line)["issuer"]

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the OIDC provider stopped: " + "".join(self.stderr[-20:]))
        return line

    def configure(
        self, clients: list[dict[str, Any]], accounts: dict[str, dict[str, Any]] | None = None
    ) -> OidcProvider:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"clients": clients, "accounts": accounts or {}}) + "\n")
        self.proc.stdin.flush()
        assert json.loads(self._line()) == {"ready": True}
        return self

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()


FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.S | re.I)
ACTION = re.compile(r'action="([^"]+)"', re.I)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.I)


class Browser:
    """Follows redirects between the app (an ASGI client standing in for ``public_url``) and
    the provider (real HTTP), and signs in at the provider's development pages."""

    def __init__(self, app_client: httpx.AsyncClient, public_url: str) -> None:
        self.app = app_client
        self.public = public_url.rstrip("/")
        self.outside = httpx.AsyncClient(timeout=30)
        self.visited: list[str] = []

    async def close(self) -> None:
        await self.outside.aclose()

    def _client(self, url: str) -> tuple[httpx.AsyncClient, str]:
        if url.startswith(self.public):
            split = urlsplit(url)
            return self.app, split.path + (f"?{split.query}" if split.query else "")
        return self.outside, url

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request and its redirects; stops at the first answer that is not one, or at
        a redirect to the web app's own pages (``/signin``, ``/auth/sso#...``)."""
        for _ in range(20):
            self.visited.append(url)
            client, target = self._client(url)
            r = await client.request(method, target, **kw)
            if r.status_code not in (301, 302, 303, 307, 308):
                return r
            location = urljoin(url, r.headers["location"])
            if location.startswith(self.public) and not urlsplit(location).path.startswith("/api/"):
                return r
            method, kw, url = (
                ("GET", {}, location) if r.status_code != 307 else (method, kw, location)
            )
        raise AssertionError("too many redirects: " + " → ".join(self.visited[-20:]))

    async def submit(self, page: httpx.Response, **fields: str) -> httpx.Response:
        match = FORM.search(page.text)
        assert match, page.text[:2000]
        attributes, inner = match.groups()
        action = ACTION.search(attributes).group(1)  # type: ignore[union-attr]
        data = dict(HIDDEN.findall(inner))
        data.update(fields)
        return await self.request("POST", urljoin(str(page.url), action), data=data)

    async def sign_in(self, login_url: str, login: str) -> httpx.Response:
        """Through the provider's sign-in (and, the first time, consent) back to the app;
        returns the app's last redirect (to ``/auth/sso#...`` or ``/signin?sso_error=``).
        The provider's own session from an earlier sign-in is forgotten first, as if the
        last person had signed out there."""
        self.outside.cookies.clear()
        page = await self.request("GET", login_url)
        for _ in range(3):
            if page.status_code in (302, 303):
                return page
            assert page.status_code == 200, page.text[:2000]
            if 'name="login"' in page.text:
                page = await self.submit(page, login=login, password="any password")
            else:
                page = await self.submit(page)
        raise AssertionError(page.text[:2000])
