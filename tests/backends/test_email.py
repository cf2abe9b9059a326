"""E-mail: templates, the console backend, and SMTP against a real aiosmtpd server."""

from __future__ import annotations

import io

import httpx
import pytest

from mdreader.app import create_app
from mdreader.backends.mail import ConsoleMailer, SmtpMailer, Templates, create_mailer
from tests.collab.harness import eventually
from tests.conftest import PASSWORD, make_settings


@pytest.mark.parametrize(
    ("template", "context", "expect"),
    [
        (
            "verify",
            {
                "name": "Ada",
                "email": "ada@example.com",
                "link": "http://x/verify-email?token=t",
                "hours": 48,
            },
            "Confirm",
        ),
        (
            "reset",
            {"name": "Ada", "link": "http://x/reset-password?token=t", "minutes": 60},
            "Reset",
        ),
        (
            "invite",
            {
                "inviter": "Bob <b>",
                "workspace": "Docs",
                "role": "editor",
                "link": "http://x/invite?token=t",
                "days": 14,
            },
            "invited",
        ),
    ],
)
def test_templates_have_text_and_html(template, context, expect):
    message = Templates().render(template, "ada@example.com", **context)
    assert expect in message.subject
    assert context["link"] in message.text and context["link"] in message.html
    assert message.html.startswith("<!doctype html>")
    if template == "invite":
        assert "Bob &lt;b&gt;" in message.html, "HTML bodies escape what users typed"


async def test_smtp_backend_delivers_multipart(smtp_server):
    inbox, port = smtp_server
    mailer = SmtpMailer("MDReader <no-reply@example.com>", "127.0.0.1", port)
    message = Templates().render(
        "reset", "ada@example.com", name="Ada", link="http://x/r?token=abc", minutes=60
    )
    await mailer.send(message)
    (received,) = inbox.messages
    assert received["To"] == "ada@example.com" and received["Subject"] == message.subject
    assert received["From"] == "MDReader <no-reply@example.com>"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "http://x/r?token=abc" in text and 'href="http://x/r?token=abc"' in html


async def test_registration_mail_over_smtp(smtp_server, tmp_path, database_url):
    inbox, port = smtp_server
    settings = make_settings(
        tmp_path,
        database_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        email_from="MDReader <team@example.com>",
    )
    assert isinstance(create_mailer(settings), SmtpMailer)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        r = await c.post(
            "/api/auth/register",
            json={"email": "eve@example.com", "password": PASSWORD, "name": "Eve"},
        )
        assert r.status_code == 201
        (received,) = inbox.messages
        body = received.get_body(("plain",)).get_content()
        token = body.split("token=", 1)[1].split()[0]
        r = await c.post("/api/auth/verify-email", json={"token": token})
        assert r.status_code == 200 and r.json()["email_verified"] is True


async def test_console_backend_prints():
    stream = io.StringIO()
    mailer = ConsoleMailer("MDReader <x@y>", stream=stream)
    await mailer.send(
        Templates().render("verify", "a@b.c", name="A", email="a@b.c", link="http://l", hours=1)
    )
    assert "http://l" in stream.getvalue() and "a@b.c" in stream.getvalue()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_mail_server_down_never_fails_registration_or_invitation(tmp_path, database_url):
    """Nothing listens on the SMTP port: registration and an invitation still succeed, and
    both e-mails arrive once a mail server answers there."""
    from aiosmtpd.controller import Controller

    from tests.conftest import Inbox, serving

    port = _free_port()
    settings = make_settings(
        tmp_path,
        database_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout=2,
        email_retry_delay=0.2,
    )
    async with serving(settings, None) as (app, factory):
        owner = await factory.user("eve")  # registration: its e-mail cannot go out
        ws = await factory.workspace(owner)
        r = await factory.client.post(
            f"/api/workspaces/{ws['id']}/members",
            json={"email": "newcomer@example.com", "role": "editor"},
            headers=owner.headers,
        )
        assert r.status_code == 202, r.text

        async def both_held() -> None:  # one may be out on a retry at any given moment
            assert app.state.services.mail.waiting == 2

        await eventually(both_held, within=10)
        controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
        controller.start()
        try:

            async def both_arrived() -> None:
                assert len(controller.handler.messages) == 2

            await eventually(both_arrived, within=20)
            assert sorted(m["To"] for m in controller.handler.messages) == sorted(
                [owner.email, "newcomer@example.com"]
            )
            assert app.state.services.mail.waiting == 0
        finally:
            controller.stop()


async def test_line_breaks_in_names_cannot_reach_mail_headers(smtp_server, tmp_path, database_url):
    """A name with CR/LF is refused where it is typed; one already stored (an older MDReader,
    a direct write) still cannot break the headers of the invitation it appears in."""
    from sqlalchemy import update

    from mdreader.db.models import User
    from tests.conftest import serving

    inbox, port = smtp_server
    settings = make_settings(
        tmp_path, database_url, email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port
    )
    async with serving(settings, None) as (app, factory):
        c = factory.client
        evil = "Eve\r\nBcc: victim@example.com"
        r = await c.post(
            "/api/auth/register",
            json={"email": "eve@example.com", "password": PASSWORD, "name": evil},
        )
        assert r.status_code == 422
        owner = await factory.user("Eve")
        for path, method in (("/api/auth/me", "PATCH"), ("/api/workspaces", "POST")):
            r = await c.request(method, path, json={"name": evil}, headers=owner.headers)
            assert r.status_code == 422, (path, r.text)
        ws = await factory.workspace(owner)
        async with app.state.services.db.session() as session:
            await session.execute(update(User).values(name="Eve\r\nBcc: victim@example.com\r\n"))
        await app.state.services.cache.delete(f"user:{owner.id}")
        inbox.messages.clear()
        r = await c.post(
            f"/api/workspaces/{ws['id']}/members",
            json={"email": "newcomer@example.com", "role": "editor"},
            headers=owner.headers,
        )
        assert r.status_code == 202, r.text
        (received,) = inbox.messages
        assert received["Bcc"] is None
        assert received["Subject"] == "Eve Bcc: victim@example.com invited you to Team on MDReader"
