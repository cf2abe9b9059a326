"""One contract for every RateLimiter: in-process and Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from mdreader.backends.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter


@pytest.fixture(params=["memory", "redis"])
def limiter(request) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter()
    return RedisRateLimiter(
        request.getfixturevalue("redis"), prefix=request.getfixturevalue("prefix")
    )


async def test_counts_up_to_the_limit_then_refuses(limiter: RateLimiter):
    verdicts = [await limiter.hit("k", limit=3, window=60) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.count for v in verdicts] == [1, 2, 3, 4, 5]
    assert all(0 < v.retry_after <= 60 for v in verdicts)
    other = await limiter.hit("other", limit=3, window=60)
    assert other.allowed and other.count == 1


async def test_undo_takes_one_back(limiter: RateLimiter):
    await limiter.undo("k")  # nothing counted: nothing to take back
    assert (await limiter.hit("k", 2, 60)).count == 1
    await limiter.hit("k", 2, 60)
    await limiter.undo("k")
    v = await limiter.hit("k", 2, 60)
    assert v.allowed and v.count == 2
    await limiter.undo("k")
    await limiter.undo("k")
    await limiter.undo("k")  # never below zero
    assert (await limiter.hit("k", 2, 60)).count == 1


async def test_reset_forgets(limiter: RateLimiter):
    for _ in range(3):
        await limiter.hit("k", 1, 60)
    await limiter.reset("k")
    assert (await limiter.hit("k", 1, 60)).allowed


async def test_window_ends(limiter: RateLimiter):
    await limiter.hit("k", 1, 1)
    assert not (await limiter.hit("k", 1, 1)).allowed
    deadline = time.monotonic() + 3
    while not (verdict := await limiter.hit("k", 1, 1)).allowed:
        assert time.monotonic() < deadline, "the window never ended"
        await asyncio.sleep(0.05)
    assert verdict.count == 1


async def test_concurrent_hits_are_all_counted(limiter: RateLimiter):
    verdicts = await asyncio.gather(*(limiter.hit("k", 10, 60) for _ in range(25)))
    assert sorted(v.count for v in verdicts) == list(range(1, 26))
    assert sum(v.allowed for v in verdicts) == 10
