"""Fixed-window counters for rate limits and login throttling: in-process or Redis.

``hit`` counts and decides in one atomic step (a Lua script on Redis), so that parallel
callers can never all see room for one more; ``undo`` takes one counted event back (a
sign-in attempt whose password was right). The Redis counters fall back to process memory
while Redis is down."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mdreader.backends.redis_status import RedisStatus, outage

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window resets


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        """Count one event; allowed while the window's count stays within ``limit``."""

    async def undo(self, key: str) -> None:
        """Take back one event that ``hit`` counted in the current window."""

    async def reset(self, key: str) -> None: ...


def _seconds_left(left: float) -> int:
    # (now + window) - now can come out a hair above the window in floating point: round
    # to the millisecond first, so that a fresh 60 s window says 60, not 61.
    return max(1, math.ceil(round(left, 3)))


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._max_keys = max_keys

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

    async def undo(self, key: str) -> None:
        ends, count = self._windows.get(key, (0.0, 0))
        if ends > time.monotonic() and count > 0:
            self._windows[key] = (ends, count - 1)

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

# Only within a live window: a key that expired stays gone.
_UNDO = """
if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""


class RedisRateLimiter:
    """Counters shared by every process. While Redis is down they are counted in this
    process's memory instead (each process then allows the limit on its own)."""

    def __init__(
        self, redis: Redis, prefix: str = "mdreader:rl:", status: RedisStatus | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT)
        self._undo = redis.register_script(_UNDO)
        self.status = status or RedisStatus()
        self.fallback = MemoryRateLimiter()

    async def hit(self, key: str, limit: int, window: int) -> Verdict:
        if self.status.usable():
            try:
                count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window * 1000])
            except outage() as exc:
                self.status.failed(exc)
            else:
                self.status.answered()
                return Verdict(
                    int(count) <= limit, int(count), max(1, math.ceil(int(ttl_ms) / 1000))
                )
        return await self.fallback.hit(key, limit, window)

    async def undo(self, key: str) -> None:
        await self.fallback.undo(key)
        if self.status.usable():
            try:
                await self._undo(keys=[self._prefix + key])
            except outage() as exc:
                self.status.failed(exc)
            else:
                self.status.answered()

    async def reset(self, key: str) -> None:
        await self.fallback.reset(key)
        if self.status.usable():
            try:
                await self._redis.delete(self._prefix + key)
            except outage() as exc:
                self.status.failed(exc)
            else:
                self.status.answered()
