"""Access tokens (JWT, HS256 only) and opaque random tokens stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHMS = ["HS256"]  # the allow-list: "none" and asymmetric confusion are refused
ISSUER = "mdreader"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: int


def issue_access_token(key: str, user_id: uuid.UUID, session_id: uuid.UUID, ttl: int) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + ttl,
        "typ": "access",
    }
    return jwt.encode(payload, key, algorithm="HS256")


def decode_access_token(key: str, token: str) -> AccessClaims | None:
    """The claims of a valid token, or None for anything tampered, expired or malformed.
    (Callers that see the same token often cache the result and re-check ``expires_at``:
    ``backends.identity``.)"""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss"]},
        )
        if payload.get("typ") != "access":
            return None
        return AccessClaims(uuid.UUID(payload["sub"]), uuid.UUID(payload["sid"]), payload["exp"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
