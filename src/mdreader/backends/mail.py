"""Outgoing e-mail: console (development), SMTP, or Amazon SES; text + HTML from templates."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mdreader.settings import Settings

log = logging.getLogger("mdreader.mail")


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    async def send(self, message: Message) -> None: ...


class ConsoleMailer:
    """Prints each message, so a developer can click the link."""

    def __init__(self, sender: str, stream: Any = None) -> None:
        self.sender = sender
        self.stream = stream
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        out = self.stream or sys.stderr
        out.write(
            f"\n--- e-mail from {self.sender} to {message.to}: {message.subject}\n"
            f"{message.text}\n--- end of e-mail\n"
        )
        out.flush()


def build_mime(sender: str, message: Message) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(domain="mdreader")
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


class SmtpMailer:
    def __init__(
        self,
        sender: str,
        host: str,
        port: int,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.sender = sender
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.starttls = starttls
        self.timeout = timeout

    def _send_sync(self, mime: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mime)

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send_sync, build_mime(self.sender, message))


class SesMailer:
    def __init__(self, sender: str, client: Any) -> None:
        self.sender = sender
        self.client = client

    def _send_sync(self, mime: EmailMessage) -> None:
        self.client.send_raw_email(
            Source=self.sender, Destinations=[mime["To"]], RawMessage={"Data": mime.as_bytes()}
        )

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send_sync, build_mime(self.sender, message))


def create_mailer(settings: Settings) -> Mailer:
    if settings.email_backend == "smtp":
        return SmtpMailer(
            settings.email_from,
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_user,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_timeout,
        )
    if settings.email_backend == "ses":
        import boto3

        client = boto3.client("ses", region_name=settings.ses_region)
        return SesMailer(settings.email_from, client)
    return ConsoleMailer(settings.email_from)


class Templates:
    """Renders ``<name>.txt`` and ``<name>.html`` with the same variables."""

    SUBJECTS = {
        "verify": "Confirm your e-mail address for MDReader",
        "reset": "Reset your MDReader password",
        "invite": "{inviter} invited you to {workspace} on MDReader",
    }

    def __init__(self) -> None:
        self._text = Environment(
            loader=PackageLoader("mdreader", "templates/email"),
            autoescape=False,  # noqa: S701 - plain-text bodies
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._html = Environment(
            loader=PackageLoader("mdreader", "templates/email"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    def render(self, template: str, to: str, **context: Any) -> Message:
        subject = self.SUBJECTS[template].format(**context)
        text = self._text.get_template(f"{template}.txt").render(subject=subject, **context)
        html = self._html.get_template(f"{template}.html").render(subject=subject, **context)
        return Message(to=to, subject=subject, text=text, html=html)
