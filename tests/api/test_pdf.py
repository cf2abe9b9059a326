"""PDF export, printed by Debian's Chromium from the reader's sanitized HTML with the web
build's scripts (math, diagrams): the text of the PDF is read back with pypdf."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from support.web import WEB, prepare_web

from tests.conftest import Factory, make_settings

TEXT = """# Plan

The harvest starts in **June**.

Energy: $E = mc^2$

```mermaid
graph TD
  A[Alpha box] --> B[Beta box]
```

<script>alert("never")</script>
"""


@pytest.fixture(scope="module")
def web_dist() -> str:
    error = prepare_web()  # builds web/dist when a source is newer (the share script)
    if error:
        pytest.fail(error)
    return str(WEB / "dist")


@pytest.fixture
async def settings(tmp_path, database_url, web_dist):
    return make_settings(tmp_path, database_url, web_dist=web_dist)


def text_of(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.timeout(300)
async def test_a_document_as_pdf(factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Harvest plan", TEXT)
    r = await factory.client.get(f"/api/documents/{doc['id']}/pdf", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="Harvest-plan.pdf"' in r.headers["content-disposition"]
    pages, text = text_of(r.content)
    assert pages >= 1
    assert "Harvest plan" in text and "The harvest starts in June." in text
    assert "Alpha box" in text and "Beta box" in text  # the diagram, drawn by mermaid
    assert "mc" in text and "```" not in text and "$E" not in text  # math typeset by KaTeX
    assert "alert" not in text  # sanitized
    log = await factory.client.get(f"/api/workspaces/{ws['id']}/audit", headers=owner.headers)
    assert "document.exported" in [e["action"] for e in log.json()]


@pytest.mark.timeout(300)
async def test_a_workspace_as_pdf_with_contents(factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner, "Farm handbook")
    first = await factory.document(ws, owner, "Sowing", "Seeds go in the ground.")
    await factory.document(ws, owner, "Tomatoes", "Tomatoes like sun.", parent_id=first["id"])
    await factory.document(ws, owner, "Harvest", "Pick when ripe.")
    trashed = await factory.document(ws, owner, "Old notes", "gone")
    await factory.client.delete(f"/api/documents/{trashed['id']}", headers=owner.headers)
    viewer = await factory.member(ws, owner, "viewer")
    r = await factory.client.get(f"/api/workspaces/{ws['id']}/pdf", headers=viewer.headers)
    assert r.status_code == 200, r.text
    pages, text = text_of(r.content)
    assert pages >= 4  # contents, then each document on a page of its own
    reader = PdfReader(io.BytesIO(r.content))
    first_page = reader.pages[0].extract_text()
    assert "Farm handbook" in first_page and "Contents" in first_page
    assert first_page.index("Sowing") < first_page.index("Tomatoes") < first_page.index("Harvest")
    assert "Seeds go in the ground." in text and "Pick when ripe." in text
    assert "Old notes" not in text


async def test_without_chromium_the_answer_is_a_sentence(tmp_path, database_url, outbox):
    from mdreader.app import create_app

    settings = make_settings(tmp_path, database_url, pdf_chromium="/nonexistent/chromium")
    # Only that setting, and no chromium on the PATH: 503 with a sentence.
    import os

    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(tmp_path)
    try:
        application = create_app(settings, mailer=outbox)
        async with application.router.lifespan_context(application):
            import httpx

            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                factory = Factory(c, outbox)
                owner = await factory.user("owner")
                ws = await factory.workspace(owner)
                doc = await factory.document(ws, owner, "D", "x")
                r = await c.get(f"/api/documents/{doc['id']}/pdf", headers=owner.headers)
    finally:
        os.environ["PATH"] = old
    assert r.status_code == 503 and r.json()["code"] == "pdf_unavailable"
