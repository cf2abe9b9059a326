"""E-mail from the services: sent once the transaction that made it has committed (no link
to a token that was rolled back), through the queue that retries when the mail server is
down (``backends.mail.MailQueue``), so a request never fails because of the mail server."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.backends.mail import Message
from mdreader.context import Backends
from mdreader.db.engine import after_commit


def send_after_commit(services: Backends, session: AsyncSession, message: Message) -> None:
    async def send() -> None:
        await services.mail.send(message)

    after_commit(session, send)
