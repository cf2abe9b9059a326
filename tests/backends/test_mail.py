"""One contract for every Mailer: console, SMTP (a real aiosmtpd server) and Amazon SES
(moto in server mode); each must deliver the same multipart text + HTML message."""

from __future__ import annotations

import email
import email.policy
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from mdreader.backends.mail import ConsoleMailer, Mailer, Message, build_mime, create_mailer
from tests.conftest import Moto, make_settings
from tests.test_email import Inbox, _free_port

SENDER = "MDReader <no-reply@example.com>"


@dataclass
class Case:
    mailer: Mailer
    delivered: Callable[[], list[EmailMessage]]


def parse(raw: bytes | str) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture(params=["console", "smtp", "ses"])
def case(request, tmp_path) -> Case:
    if request.param == "console":
        stream = io.StringIO()
        console = ConsoleMailer(SENDER, stream=stream)
        return Case(
            console, lambda: [parse(build_mime(SENDER, m).as_bytes()) for m in console.sent]
        )
    if request.param == "smtp":
        inbox, port = request.getfixturevalue("smtp_inbox")
        settings = make_settings(
            tmp_path,
            "sqlite+aiosqlite://",
            email_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
            email_from=SENDER,
        )
        return Case(create_mailer(settings), lambda: list(inbox.messages))
    moto: Moto = request.getfixturevalue("moto")
    ses = moto.client("ses")
    ses.verify_email_identity(EmailAddress="no-reply@example.com")
    settings = make_settings(
        tmp_path,
        "sqlite+aiosqlite://",
        email_backend="ses",
        ses_region=moto.region,
        email_from=SENDER,
    )
    mailer = create_mailer(settings)
    before = len(_ses_sent(moto))
    return Case(mailer, lambda: [parse(m.raw_data) for m in _ses_sent(moto)[before:]])


def _ses_sent(moto: Moto) -> list:
    # The moto server runs in this process: its SES outbox is the backend's list.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][moto.region].sent_messages)


async def test_delivers_text_and_html(case: Case):
    to = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    await case.mailer.send(
        Message(
            to=to,
            subject="Bienvenue à MDReader ✓",
            text="Open http://x/verify?token=abc\n",
            html="<p>Open <a href='http://x/verify?token=abc'>this</a></p>",
        )
    )
    (got,) = [m for m in case.delivered() if m["To"] == to]
    assert got["Subject"] == "Bienvenue à MDReader ✓"
    assert "no-reply@example.com" in got["From"]
    assert got["Message-ID"]
    plain = got.get_body(("plain",))
    html = got.get_body(("html",))
    assert plain is not None and "token=abc" in plain.get_content()
    assert html is not None and "<a href=" in html.get_content()


async def test_ses_refuses_an_unverified_sender(moto: Moto, tmp_path):
    settings = make_settings(
        tmp_path,
        "sqlite+aiosqlite://",
        email_backend="ses",
        ses_region=moto.region,
        email_from=f"nobody-{uuid.uuid4().hex[:6]}@unverified.example.com",
    )
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        await create_mailer(settings).send(Message("a@example.com", "s", "t", "<p>h</p>"))


async def test_app_sends_its_verification_mail_through_ses(moto: Moto, tmp_path, database_url):
    import httpx

    from mdreader.app import create_app
    from tests.conftest import PASSWORD

    moto.client("ses").verify_email_identity(EmailAddress="no-reply@example.com")
    settings = make_settings(
        tmp_path, database_url, email_backend="ses", ses_region=moto.region, email_from=SENDER
    )
    app = create_app(settings)
    to = f"new-{uuid.uuid4().hex[:6]}@example.com"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                "/api/auth/register", json={"email": to, "password": PASSWORD, "name": "N"}
            )
            assert r.status_code == 201, r.text
    (got,) = [parse(m.raw_data) for m in _ses_sent(moto) if to in m.destinations]
    assert "verify-email?token=" in got.get_body(("plain",)).get_content()
