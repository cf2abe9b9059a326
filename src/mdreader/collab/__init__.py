"""Real-time co-editing: a Hocuspocus-compatible Yjs server over the document update log.

``build_collab`` composes the core (``server.CollabServer``) with its extensions, each built
with what it needs, in order: authorization (policy, and its periodic re-check), the bus
relay, the database store, local broadcast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from mdreader.collab.auth import Authorization
from mdreader.collab.bus import MemoryBus, RedisBus
from mdreader.collab.relay import BusRelay, LocalBroadcast
from mdreader.collab.server import CollabServer
from mdreader.collab.store import DatabaseStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mdreader.context import Backends
    from mdreader.services.compaction import Compactor

__all__ = ["CollabServer", "build_collab"]


def _channel_prefix(redis: Redis) -> str:
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    return f"mdreader:{db}:collab:"


@asynccontextmanager
async def build_collab(services: Backends, compactor: Compactor) -> AsyncIterator[CollabServer]:
    settings = services.settings
    async with AsyncExitStack() as stack:
        bus: MemoryBus | RedisBus
        if services.redis is not None:
            bus = RedisBus(
                services.redis, _channel_prefix(services.redis), status=services.redis_status
            )
        else:
            bus = MemoryBus()
        writers = settings.collab_store_writers or (1 if services.db.dialect == "sqlite" else 4)
        store = DatabaseStore(services, compactor, writers=writers)
        server = CollabServer(
            services, bus, [Authorization(services), BusRelay(bus), store, LocalBroadcast()]
        )
        # Exit order (reverse): server closes sockets, then the store drains, then the bus.
        await stack.enter_async_context(bus)
        await stack.enter_async_context(store)
        await stack.enter_async_context(server)
        yield server
