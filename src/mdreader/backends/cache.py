"""Cache: in-process (one machine) or Redis (many processes; an outage is a miss)."""

from __future__ import annotations

import struct
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from mdreader.backends.redis_status import RedisStatus, outage

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def ping(self) -> None: ...


class MemoryCache:
    """A bounded LRU with per-entry expiry."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= time.monotonic():
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def ping(self) -> None:
        return None


class RedisCache:
    """Entries shared by every process. Redis being down is a miss, never an error: the
    caller asks the database. Each entry carries the moment it was written, so that once
    Redis is back an entry from before the outage (whose deletion may have failed) is not
    trusted; deletions that failed are sent again when Redis answers."""

    _STAMP = struct.Struct(">d")

    def __init__(
        self,
        redis: Redis,
        prefix: str = "mdreader:cache:v2:",
        status: RedisStatus | None = None,
        max_undeleted: int = 100_000,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.status = status or RedisStatus()
        # Keys written by releases before entries carried their moment, deleted alike.
        self._legacy = "mdreader:cache:" if prefix == "mdreader:cache:v2:" else None
        self._undeleted: set[str] = set()
        self._max_undeleted = max_undeleted

    def _keys(self, keys: Iterable[str]) -> list[str]:
        out = [self._prefix + k for k in keys]
        if self._legacy is not None:
            out += [self._legacy + k for k in keys]
        return out

    async def get(self, key: str) -> bytes | None:
        if not self.status.usable():
            return None
        try:
            raw = await self._redis.get(self._prefix + key)
        except outage() as exc:
            self.status.failed(exc)
            return None
        await self._answered()
        if not isinstance(raw, bytes) or len(raw) < self._STAMP.size:
            return None
        (written,) = self._STAMP.unpack_from(raw)
        if written < self.status.recovered_at:
            return None  # from before an outage: perhaps no longer true
        return raw[self._STAMP.size :]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if not self.status.usable():
            return
        try:
            await self._redis.set(
                self._prefix + key,
                self._STAMP.pack(time.time()) + value,
                px=max(1, int(ttl * 1000)),
            )
        except outage() as exc:
            self.status.failed(exc)
            return
        await self._answered()

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        if self.status.usable():
            try:
                await self._redis.delete(*self._keys(keys))
            except outage() as exc:
                self.status.failed(exc)
            else:
                await self._answered()
                return
        if len(self._undeleted) + len(keys) <= self._max_undeleted:
            self._undeleted.update(keys)

    async def _answered(self) -> None:
        self.status.answered()
        if self._undeleted:
            keys, self._undeleted = list(self._undeleted), set()
            try:
                await self._redis.delete(*self._keys(keys))
            except outage() as exc:
                self.status.failed(exc)
                self._undeleted.update(keys)

    async def ping(self) -> None:
        """Asks Redis itself (``/health/ready`` reports an outage), whatever the status."""
        try:
            await self._redis.ping()
        except outage() as exc:
            self.status.failed(exc)
            raise
        await self._answered()
