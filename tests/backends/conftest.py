"""Fixtures for the backend contract suites: the machine's Redis, under a prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import REDIS_URL, _unavailable

# The contract suites need Redis in both passes of `make test`; keys are prefixed per test
# ("mdreader-test:", which the app fixtures' clean-up between tests leaves alone), so sharing
# a database with other runs is harmless. In the SQLite pass (no MDREADER_TEST_REDIS_URL)
# they use MDREADER_TEST_BACKEND_REDIS_URL.
BACKEND_REDIS_URL = (
    REDIS_URL or os.environ.get("MDREADER_TEST_BACKEND_REDIS_URL") or "redis://127.0.0.1:6379/14"
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(BACKEND_REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        _unavailable("Redis", exc)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"mdreader-test:{uuid.uuid4().hex}:"
