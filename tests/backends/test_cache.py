"""One contract for every Cache: in-process and Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from mdreader.backends.cache import Cache, MemoryCache, RedisCache


@pytest.fixture(params=["memory", "redis"])
def cache(request) -> Cache:
    if request.param == "memory":
        return MemoryCache()
    return RedisCache(request.getfixturevalue("redis"), prefix=request.getfixturevalue("prefix"))


async def eventually_none(cache: Cache, key: str, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while (value := await cache.get(key)) is not None:
        assert time.monotonic() < deadline, f"{key} still cached: {value!r}"
        await asyncio.sleep(0.02)


async def test_set_get_delete(cache: Cache):
    assert await cache.get("a") is None
    await cache.set("a", b"\x00\xffbinary", ttl=30)
    assert await cache.get("a") == b"\x00\xffbinary"
    await cache.set("a", b"new", ttl=30)
    assert await cache.get("a") == b"new"
    await cache.set("b", b"2", ttl=30)
    await cache.set("c", b"3", ttl=30)
    await cache.delete("a", "b", "missing")
    assert await cache.get("a") is None
    assert await cache.get("b") is None
    assert await cache.get("c") == b"3"
    await cache.delete()  # nothing to delete is fine


async def test_entries_expire_after_their_ttl(cache: Cache):
    await cache.set("short", b"1", ttl=0.1)
    await cache.set("long", b"2", ttl=30)
    assert await cache.get("short") == b"1"
    await eventually_none(cache, "short")
    assert await cache.get("long") == b"2"


async def test_setting_again_restarts_the_ttl(cache: Cache):
    await cache.set("k", b"1", ttl=0.1)
    await cache.set("k", b"2", ttl=30)
    await asyncio.sleep(0.2)  # the first TTL has surely passed; the second has not
    assert await cache.get("k") == b"2"


async def test_ping(cache: Cache):
    await cache.ping()


async def test_memory_cache_is_bounded_lru():
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", 30)
    await cache.set("b", b"2", 30)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", 30)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    assert await cache.get("c") == b"3"


async def test_revoking_a_session_clears_its_cached_check(client, factory):
    """Invalidation end to end: a revoked session's access token stops working at once,
    although the session check is cached for MDREADER_SESSION_CACHE_TTL seconds."""
    user = await factory.user()
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200
    r = await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 401
