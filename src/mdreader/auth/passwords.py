"""Password hashing (Argon2id; bcrypt from older MDReader accepted and upgraded) and policy."""

from __future__ import annotations

import functools
import string

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mdreader.errors import AppError
from mdreader.settings import Settings

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the account does not exist: same cost, no timing
    oracle. Made on first use, not at import (an Argon2 hash would slow every cold start)."""
    return _hasher.hash("not-a-real-password-Aa1!")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Check ``password``; return (ok, new_hash) where new_hash is set when it must be rehashed."""
    if not stored:
        _safe_dummy(password)
        return False, None
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            ok = bcrypt.checkpw(password.encode(), stored.encode())
        except ValueError:
            return False, None
        return ok, (hash_password(password) if ok else None)
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (hash_password(password) if _hasher.check_needs_rehash(stored) else None)


def _safe_dummy(password: str) -> None:
    try:
        _hasher.verify(_dummy_hash(), password)
    except VerificationError:
        pass


def dummy_verify(password: str) -> None:
    """Spend the time of a real check (unknown e-mail at login)."""
    _safe_dummy(password)


def describe_policy(settings: Settings) -> str:
    """The password policy in a sentence, for the sign-up form: what ``check_policy`` asks."""
    kinds = []
    if settings.password_require_upper and settings.password_require_lower:
        kinds.append("upper and lower case letters")
    elif settings.password_require_upper:
        kinds.append("an upper-case letter")
    elif settings.password_require_lower:
        kinds.append("a lower-case letter")
    if settings.password_require_digit:
        kinds.append("a digit")
    if settings.password_require_symbol:
        kinds.append("a symbol")
    with_ = ""
    if kinds:
        with_ = " with " + (", ".join(kinds[:-1]) + " and " if len(kinds) > 1 else "") + kinds[-1]
    return f"At least {settings.password_min_length} characters{with_}."


def check_policy(password: str, settings: Settings) -> None:
    problems = []
    if len(password) < settings.password_min_length:
        problems.append(f"at least {settings.password_min_length} characters")
    if settings.password_require_upper and not any(c.isupper() for c in password):
        problems.append("an upper-case letter")
    if settings.password_require_lower and not any(c.islower() for c in password):
        problems.append("a lower-case letter")
    if settings.password_require_digit and not any(c.isdigit() for c in password):
        problems.append("a digit")
    if settings.password_require_symbol and not any(
        c in string.punctuation or (not c.isalnum() and not c.isspace()) for c in password
    ):
        problems.append("a symbol")
    if len(password) > 1024:
        raise AppError(422, "The password is too long (1024 characters at most).", "weak_password")
    if problems:
        raise AppError(422, "The password needs " + ", ".join(problems) + ".", "weak_password")
