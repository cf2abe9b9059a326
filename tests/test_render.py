"""Rendering never blocks the event loop (render.Renderer): a text is rendered once, off the
loop, and again only when it changed; the public share page is limited per client address.
(The burst of anonymous requests for a 1 MiB shared page is in test_stalls.py.)"""

from __future__ import annotations

import asyncio
import random
import string

import httpx

from tests.conftest import make_settings, serving

MIB = 1024 * 1024


def big_markdown(size: int = MIB - 4096) -> str:
    rnd = random.Random(13)
    words = ["alpha", "beta", "**bold**", "*it*", "[link](https://example.com)", "`code`"]
    words += ["".join(rnd.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(50)]
    parts, total = [], 0
    while total < size:
        line = (
            f"## Section {len(parts)}"
            if rnd.random() < 0.05
            else " ".join(rnd.choice(words) for _ in range(14))
        )
        parts.append(line)
        total += len(line) + 2
    return "\n\n".join(parts)[:size]


async def test_a_text_is_rendered_once_and_again_when_it_changes(app, client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "# One\n\nfirst")
    r = await client.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    token = r.json()["token"]
    renderer = app.state.services.renderer
    before = renderer.renders
    pages = await asyncio.gather(*(client.get(f"/s/{token}") for _ in range(5)))
    assert all(p.status_code == 200 and "first" in p.text for p in pages)
    r = await client.get(f"/api/documents/{doc['id']}/html", headers=owner.headers)
    assert "first" in r.text
    assert renderer.renders == before + 1  # five pages and the HTML export: one render
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "# Two\n\nsecond"}, headers=owner.headers
    )
    r = await client.get(f"/s/{token}")
    assert "second" in r.text and "first" not in r.text
    assert renderer.renders == before + 2


async def test_the_share_page_is_limited_per_address(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, share_rate_limit_requests=3)
    async with serving(settings, outbox) as (app, factory):
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Doc", "text")
        r = await factory.client.post(
            f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers
        )
        token = r.json()["token"]
        one = httpx.ASGITransport(app=app, client=("198.51.100.1", 1))
        two = httpx.ASGITransport(app=app, client=("198.51.100.2", 1))
        async with (
            httpx.AsyncClient(transport=one, base_url="http://t") as a,
            httpx.AsyncClient(transport=two, base_url="http://t") as b,
        ):
            assert [(await a.get(f"/s/{token}")).status_code for _ in range(3)] == [200] * 3
            r = await a.get(f"/s/{token}")
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert (await a.get("/s/unknown-token")).status_code == 429
            assert (await b.get(f"/s/{token}")).status_code == 200
            # The API's own budget is apart.
            assert (await a.get("/api/auth/me")).status_code == 401
