"""Cognito user-migration Lambda trigger: people move into the user pool with the password
they already have, without a reset.

When someone signs in to the pool (or asks for a password reset) under an e-mail address the
pool does not know yet, Cognito calls this function (``mdreader.cognito_migration.handler``)
with a ``UserMigration_Authentication`` or ``UserMigration_ForgotPassword`` event. It looks
the address up in MDReader's database and, for a sign-in, checks the password against the
stored Argon2id or bcrypt hash; Cognito then creates the user, confirmed, with the returned
attributes. Any other answer is an exception, which Cognito reports to the person as a failed
sign-in. The API links the new Cognito user to the same MDReader account on its first request
(by verified e-mail, ``mdreader.services.identity``).

The function runs in the VPC beside the API, with the same package and settings
(``MDREADER_SECRETS_MANAGER_PREFIX`` gives it the database). ``mdreader users export`` remains
the way to import everyone at once (Cognito's CSV import; passwords are then reset).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from mdreader.auth.passwords import dummy_verify, verify_password
from mdreader.backends.secrets import apply_secrets
from mdreader.db import Database
from mdreader.db.models import User
from mdreader.services.auth import normalize_email
from mdreader.settings import Settings

log = logging.getLogger("mdreader.cognito_migration")

AUTHENTICATION = "UserMigration_Authentication"
FORGOT_PASSWORD = "UserMigration_ForgotPassword"


class MigrationRefused(Exception):
    """Cognito shows the person a failed sign-in (the message is not shown)."""


def attributes(user: User, *, verified: bool) -> dict[str, str]:
    return {
        "email": user.email,
        "email_verified": "true" if verified else "false",
        "name": user.name,
    }


async def answer(db: Database, event: dict[str, Any]) -> dict[str, Any]:
    """The event with its ``response`` filled in, or MigrationRefused."""
    trigger = event.get("triggerSource")
    if trigger not in (AUTHENTICATION, FORGOT_PASSWORD):
        raise MigrationRefused(f"not a user-migration event: {trigger!r}")
    request = event.get("request") or {}
    address = normalize_email(str(event.get("userName") or ""))
    async with db.primary_read_session() as session:
        user = await session.scalar(select(User).where(User.email == address))
    response = dict(event.get("response") or {})
    if trigger == AUTHENTICATION:
        password = str(request.get("password") or "")
        if user is None or user.external_id is not None:
            # Unknown, or moved already: the same time as a real check, then no.
            dummy_verify(password)
            raise MigrationRefused("no such account to migrate")
        ok, _rehash = verify_password(password, user.password_hash)
        if not ok:
            raise MigrationRefused("wrong password")
        response.update(
            userAttributes=attributes(user, verified=user.email_verified),
            finalUserStatus="CONFIRMED",
            messageAction="SUPPRESS",
        )
    else:
        if user is None or user.external_id is not None:
            raise MigrationRefused("no such account to migrate")
        # The reset code goes to this address, which proves it: mark it verified so Cognito
        # can send it.
        response.update(
            userAttributes=attributes(user, verified=True),
            messageAction="SUPPRESS",
        )
    return {**event, "response": response}


class Migrator:
    """The database and an event loop, kept for the life of the Lambda environment."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = apply_secrets(settings or Settings())
        self.loop = asyncio.new_event_loop()
        self.db = Database(self.settings.resolved_database_url, pool_size=2)

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        try:
            return self.loop.run_until_complete(answer(self.db, event))
        except MigrationRefused as exc:
            log.info("user migration refused: %s", exc)
            raise

    def close(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()


_migrator: Migrator | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _migrator
    if _migrator is None:
        _migrator = Migrator()
    return _migrator(event, context)
