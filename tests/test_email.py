"""E-mail: templates, the console backend, and SMTP against a real aiosmtpd server."""

from __future__ import annotations

import io

import httpx
import pytest

from mdreader.app import create_app
from mdreader.backends.mail import ConsoleMailer, SmtpMailer, Templates, create_mailer
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
