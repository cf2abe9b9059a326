"""Fixed-window counters for rate limits and login throttling: in-process or Redis."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        """Count one event; allowed while the window's count stays within ``limit``."""

    async def peek(self, key: str, limit: int) -> Verdict:
        """Whether one more event would still be within ``limit``, without counting it."""

    async def reset(self, key: str) -> None: ...


def _seconds_left(left: float) -> int:
    # (now + window) - now can come out a hair above the window in floating point: round
    # to the millisecond first, so that a fresh 60 s window says 60, not 61.
    return max(1, math.ceil(round(left, 3)))


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._max_keys = max_keys

    def _current(self, key: str) -> tuple[float, int]:
        now = time.monotonic()
        item = self._windows.get(key)
        if item is None or item[0] <= now:
            return now, 0
        return item

    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        now = time.monotonic()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + window, 0
            if len(self._windows) >= self._max_keys:
                self._evict(now)
        count += 1
        self._windows[key] = (ends, count)
        return Verdict(count <= limit, count, _seconds_left(ends - now))

    async def peek(self, key: str, limit: int) -> Verdict:
        now = time.monotonic()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            return Verdict(True, 0, 0)
        return Verdict(count < limit, count, _seconds_left(ends - now))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _evict(self, now: float) -> None:
        for k in [k for k, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[k]
        while len(self._windows) >= self._max_keys:
            self._windows.pop(next(iter(self._windows)))


_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "mdreader:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window * 1000])
        return Verdict(int(count) <= limit, int(count), max(1, math.ceil(int(ttl_ms) / 1000)))

    async def peek(self, key: str, limit: int) -> Verdict:
        pipe = self._redis.pipeline()
        pipe.get(self._prefix + key)
        pipe.pttl(self._prefix + key)
        raw, ttl_ms = await pipe.execute()
        count = int(raw or 0)
        if count == 0 or ttl_ms is None or int(ttl_ms) < 0:
            return Verdict(True, count, 0)
        return Verdict(count < limit, count, max(1, math.ceil(int(ttl_ms) / 1000)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
