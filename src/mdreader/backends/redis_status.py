"""Whether Redis answers, as this process sees it: shared by the cache, the rate limiter and
the collaboration bus, so that a Redis outage costs speed, not answers.

While Redis is down its users take their fallbacks (the cache misses, so the database is
asked; rate limits count in process memory; the bus marks documents for a re-read) and
Redis is tried again at most every ``retry`` seconds instead of on every request. When it
answers again, ``recovered_at`` moves: cache entries written before it are not trusted, as a
deletion (a revoked session, a changed user) may have failed while it was away.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

log = logging.getLogger("mdreader.redis")


@functools.cache
def outage() -> tuple[type[BaseException], ...]:
    """What an unreachable, stopped or hanging Redis raises (BusyLoadingError is a
    ConnectionError: a restarted Redis still loading its data). A function, for ``except
    outage():``, so that redis-py is imported by the processes that use Redis only (it is
    a fifth of the Lambda handler's import otherwise)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class RedisStatus:
    def __init__(self, retry: float = 1.0) -> None:
        self.retry = retry
        self.down = False
        self.recovered_at = 0.0  # wall clock (seconds) of the last outage's end; 0: none yet
        self._next_try = 0.0

    def usable(self) -> bool:
        """Whether to call Redis now: always while it answers; during an outage, once every
        ``retry`` seconds (the probe that finds it back)."""
        if not self.down:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry
        return True

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            log.warning("Redis does not answer (%s): using the fallbacks", exc)
            self.down = True
        self._next_try = time.monotonic() + self.retry

    def answered(self) -> None:
        if self.down:
            self.down = False
            self.recovered_at = time.time()
            log.warning("Redis answers again")
