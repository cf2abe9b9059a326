"""Outgoing e-mail: console (development), SMTP, or Amazon SES; text + HTML from templates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import smtplib
import ssl
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

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


_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_value(value: str) -> str:
    """A header value on one line: a line break (or any control character) in a name that
    made it into a subject can neither end the header nor start another one."""
    return " ".join(_HEADER_BREAKS.sub(" ", value).split())


def build_mime(sender: str, message: Message) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = header_value(sender)
    mime["To"] = header_value(message.to)
    mime["Subject"] = header_value(message.subject)
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


class MailQueue:
    """Sends a message at once; one the mail server refused or could not take (it is down)
    is kept in memory and tried again after ``first_delay`` seconds, then after twice as
    long each time, ``attempts`` times in all. A request that sends mail so never fails
    because the mail server does; what is still unsent at shutdown is logged by recipient."""

    def __init__(
        self, mailer: Mailer, first_delay: float = 30.0, attempts: int = 8, max_delay: float = 3600
    ) -> None:
        self.mailer = mailer
        self.first_delay = first_delay
        self.attempts = attempts
        self.max_delay = max_delay
        self._waiting: list[tuple[float, int, Message]] = []  # (when, tries so far, message)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MailQueue:
        self._task = asyncio.create_task(self._retry(), name="mdreader-mail-retry")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, _, message in self._waiting:
            log.error("e-mail to %s (%s) was never sent", message.to, message.subject)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def send(self, message: Message) -> bool:
        """True once sent; False when it was queued to be tried again."""
        try:
            await self.mailer.send(message)
            return True
        except Exception:
            log.warning("e-mail to %s not sent; trying again later", message.to, exc_info=True)
            self._queue(message, 1)
            return False

    def _queue(self, message: Message, tries: int) -> None:
        delay = min(self.first_delay * 2 ** (tries - 1), self.max_delay)
        self._waiting.append((time.monotonic() + delay, tries, message))
        self._wake.set()

    async def _retry(self) -> None:
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            soonest = min(when for when, _, _ in self._waiting)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            due = [item for item in self._waiting if item[0] <= now]
            self._waiting = [item for item in self._waiting if item[0] > now]
            for _, tries, message in due:
                try:
                    await self.mailer.send(message)
                    log.info("e-mail to %s sent after %d tries", message.to, tries + 1)
                except Exception:
                    if tries + 1 >= self.attempts:
                        log.error(
                            "e-mail to %s (%s) given up after %d tries",
                            message.to,
                            message.subject,
                            tries + 1,
                            exc_info=True,
                        )
                    else:
                        self._queue(message, tries + 1)


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
        "mention": "{actor} mentioned you in {document}",
        "digest": "{count} new on MDReader: replies and comments",
    }

    def __init__(self) -> None:
        self._environments: tuple[Any, Any] | None = None

    def _envs(self) -> tuple[Any, Any]:
        """The plain-text and HTML Jinja environments, made (and Jinja imported) on the first
        e-mail, not at start-up: a Lambda cold start sends none (bench/lambda_cold)."""
        if self._environments is None:
            from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

            text = Environment(
                loader=PackageLoader("mdreader", "templates/email"),
                autoescape=False,  # noqa: S701 - plain-text bodies
                undefined=StrictUndefined,
                keep_trailing_newline=True,
            )
            html = Environment(
                loader=PackageLoader("mdreader", "templates/email"),
                autoescape=select_autoescape(["html"]),
                undefined=StrictUndefined,
            )
            self._environments = (text, html)
        return self._environments

    def render(self, template: str, to: str, **context: Any) -> Message:
        subject = self.SUBJECTS[template].format(**context)
        text_env, html_env = self._envs()
        text = text_env.get_template(f"{template}.txt").render(subject=subject, **context)
        html = html_env.get_template(f"{template}.html").render(subject=subject, **context)
        return Message(to=to, subject=subject, text=text, html=html)
