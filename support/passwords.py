"""Argon2id at its lowest cost for the test suite's own processes (the pytest workers and the
``support.serve`` servers): the production profile spends about 0.2 s of CPU and 64 MiB on each
hash and check, and the suite signs up and in some thousands of times. Still Argon2id through
the same code (``mdreader.auth.passwords``); ``test_auth`` checks the production profile."""

from __future__ import annotations

from argon2 import PasswordHasher

from mdreader.auth import passwords

PRODUCTION_HASHER = passwords._hasher


def cheap_hashing() -> None:
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
