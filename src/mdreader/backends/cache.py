"""Cache: in-process (one machine) or Redis (many processes)."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

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
    def __init__(self, redis: Redis, prefix: str = "mdreader:cache:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._prefix + key)
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._prefix + k for k in keys))

    async def ping(self) -> None:
        await self._redis.ping()
