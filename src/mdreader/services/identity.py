"""Local users for outside identities (Cognito): found by subject, then by e-mail, or made."""

from __future__ import annotations

import csv
import json
import uuid
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mdreader.backends.identity import Identity
from mdreader.context import Backends
from mdreader.db import Database
from mdreader.db.models import User
from mdreader.services.auth import normalize_email


async def user_for_identity(services: Backends, identity: Identity, token: str) -> uuid.UUID | None:
    """The local user id for a verified outside identity, creating the user on first sight.

    An existing local account is linked by e-mail only when the provider says the address is
    verified (else anyone could claim someone's account by signing up with their address),
    and never when it is linked to another subject already.
    """
    async with services.db.primary_read_session() as session:
        known = await session.scalar(select(User.id).where(User.external_id == identity.subject))
    if known is not None:
        return known
    email, verified = identity.email, identity.email_verified
    if not email:
        # Asked of the provider once, and outside any transaction: no write turn or pooled
        # connection is held during a call to another service.
        found = await services.identity.email_of(token)
        if found is None:
            return None
        email, verified = found
    for _attempt in range(2):
        try:
            return await _find_or_create(services, identity, email, verified)
        except IntegrityError:  # a concurrent first request created or linked it: look again
            continue
    return None


async def _find_or_create(
    services: Backends, identity: Identity, email: str, verified: bool
) -> uuid.UUID | None:
    async with services.db.session() as session:
        user = await session.scalar(select(User).where(User.external_id == identity.subject))
        if user is not None:
            return user.id
        address = normalize_email(email)
        user = await session.scalar(select(User).where(User.email == address))
        if user is not None:
            if not verified or user.external_id is not None:
                return None
            user.external_id = identity.subject
            user.email_verified = True
            return user.id
        user = User(
            email=address,
            name=(identity.name or address.split("@")[0])[:200],
            password_hash=None,
            email_verified=verified,
            external_id=identity.subject,
        )
        session.add(user)
        await session.flush()
        return user.id


# The columns of a Cognito user pool's import CSV (GetCSVHeader, standard attributes).
COGNITO_CSV_HEADER = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "cognito:mfa_enabled",
    "cognito:username",
]


async def export_users(db: Database) -> list[dict[str, Any]]:
    async with db.primary_read_session() as session:
        users = await session.scalars(select(User).order_by(User.created_at, User.email))
        return [
            {
                "id": str(u.id),
                "email": u.email,
                "name": u.name,
                "email_verified": u.email_verified,
                "mfa_enabled": bool(u.mfa_secret),
                "is_admin": u.is_admin,
                "external_id": u.external_id,
                "created_at": u.created_at.isoformat(),
                "updated_at": u.updated_at.isoformat(),
            }
            for u in users
        ]


def write_users(rows: list[dict[str, Any]], out: IO[str], fmt: str) -> None:
    if fmt == "json":
        json.dump({"users": rows}, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    writer = csv.DictWriter(out, fieldnames=COGNITO_CSV_HEADER, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                "name": row["name"],
                "email": row["email"],
                "email_verified": str(row["email_verified"]).lower(),
                "phone_number_verified": "false",
                "updated_at": str(int(_timestamp(row["updated_at"]))),
                # Cognito imports no TOTP secrets: MFA users enrol again there.
                "cognito:mfa_enabled": "false",
                "cognito:username": row["email"],
            }
        )


def _timestamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
