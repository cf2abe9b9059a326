"""Fan-out between server processes: updates and awareness of a document go to every process
that has it open. In-process when there is no Redis; Redis pub/sub otherwise.

A Redis outage loses no update: appends go to the database before they are published, and
when the subscription comes back every open document re-reads the database (``on_resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from mdreader.backends.redis_status import RedisStatus

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger("mdreader.collab.bus")

Handler = Callable[[str, str, bytes], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]

# Append only: the index is what travels, and processes of two releases share one channel.
KINDS = ("update", "awareness", "query-awareness", "resync", "event")


class Bus(Protocol):
    async def start(self, handler: Handler, on_resync: Resync) -> None:
        """Begin delivering messages of other processes to ``handler``; ``on_resync`` runs
        when the bus comes back after an outage. Stopped by the bus's exit."""

    async def publish(self, document: str, kind: str, data: bytes) -> None: ...
    async def subscribe(self, document: str) -> None: ...
    async def unsubscribe(self, document: str) -> None: ...


class MemoryBus:
    """One process: nobody else to tell."""

    async def start(self, handler: Handler, on_resync: Resync) -> None:
        return None

    async def publish(self, document: str, kind: str, data: bytes) -> None:
        return None

    async def subscribe(self, document: str) -> None:
        return None

    async def unsubscribe(self, document: str) -> None:
        return None

    async def __aenter__(self) -> MemoryBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class RedisBus:
    """Redis pub/sub, one channel per document. Each message carries the sending node's id
    so a process ignores its own messages."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        retry_delay: float = 0.5,
        status: RedisStatus | None = None,
    ) -> None:
        self.redis = redis
        self.status = status or RedisStatus()
        self.prefix = prefix
        self._handler: Handler | None = None
        self._on_resync: Resync | None = None
        self.retry_delay = retry_delay
        self.node = os.urandom(8)
        self.channels: set[str] = set()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._outgoing: deque[tuple[str, str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()  # documents whose messages may not have gone out
        self._closing = False
        self._failing = False  # the last publish failed: Redis is away

    def channel(self, document: str) -> str:
        return f"{self.prefix}{document}"

    async def publish(self, document: str, kind: str, data: bytes) -> None:
        """Queue a message; a background task sends queued messages in order, pipelined, so
        acknowledgements never wait for Redis. While Redis is away nothing is queued: the
        document is marked for a re-read by its peers once it answers again."""
        if self._failing:
            if kind != "query-awareness":
                self._dirty.add(document)
            return
        self._outgoing.append((document, kind, data))
        self._wake.set()

    async def _publish_loop(self) -> None:
        while True:
            while not self._outgoing:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._outgoing.popleft() for _ in range(min(256, len(self._outgoing)))]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for document in self._dirty:
                        pipe.publish(self.channel(document), self._frame("resync", b""))
                    for document, kind, data in batch:
                        pipe.publish(self.channel(document), self._frame(kind, data))
                    await pipe.execute()
                self._dirty.clear()
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Every update is durable already: once Redis answers again, the peers of
                # these documents are told to re-read them from the database.
                if not self._failing:
                    log.warning("publishing to Redis failed: %s", exc)
                self._failing = True
                self.status.failed(exc)
                self._dirty.update(d for d, kind, _ in batch if kind != "query-awareness")
                while self._outgoing:
                    d, kind, _ = self._outgoing.popleft()
                    if kind != "query-awareness":
                        self._dirty.add(d)
                await asyncio.sleep(self.retry_delay)
                if not self._outgoing:
                    if self._dirty:  # the next try: the re-reads, then whatever follows
                        self._outgoing.append((next(iter(self._dirty)), "resync", b""))
                    else:
                        self._failing = False  # nothing was lost: try with the next message

    def _frame(self, kind: str, data: bytes) -> bytes:
        return self.node + bytes([KINDS.index(kind)]) + data

    async def subscribe(self, document: str) -> None:
        channel = self.channel(document)
        self.channels.add(channel)
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except Exception as exc:
                log.warning("subscribing to %s failed: %s", channel, exc)

    async def unsubscribe(self, document: str) -> None:
        channel = self.channel(document)
        self.channels.discard(channel)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(channel)

    async def __aenter__(self) -> RedisBus:
        self._publisher = asyncio.create_task(self._publish_loop(), name="collab-redis-pub")
        return self

    async def start(self, handler: Handler, on_resync: Resync) -> None:
        self._handler, self._on_resync = handler, on_resync
        self._task = asyncio.create_task(self._run(), name="collab-redis-bus")

    async def __aexit__(self, *exc: object) -> None:
        # redis-py's get_message(timeout=) can swallow a cancellation; the flag ends the loop
        # at its next turn whatever happens to the CancelledError.
        self._closing = True
        for task in (self._task, self._publisher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close_pubsub()

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _run(self) -> None:
        first = True
        while not self._closing:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                # A dedicated channel keeps the connection subscribed even with no document.
                await pubsub.subscribe(self.prefix + "~")
                if self.channels:
                    await pubsub.subscribe(*self.channels)
                self._pubsub = pubsub
                self.status.answered()
                if not first and self._on_resync is not None:
                    await self._on_resync()
                first = False
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        # redis-py can swallow a cancellation that lands inside its read
                        # timeout; without this the task would never stop.
                        raise asyncio.CancelledError
                    if message is None:
                        continue
                    await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the Redis subscription dropped (%s); reconnecting", exc)
                self.status.failed(exc)
                await self._close_pubsub()
                first = False
                await asyncio.sleep(self.retry_delay)

    async def _dispatch(self, message: dict[str, object]) -> None:
        if message.get("type") != "message":
            return
        channel = message["channel"]
        data = message["data"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if not isinstance(data, bytes) or len(data) < 9 or data[:8] == self.node:
            return
        assert isinstance(channel, str)
        kind_index = data[8]
        if kind_index >= len(KINDS) or self._handler is None:
            return
        document = channel[len(self.prefix) :]
        try:
            await self._handler(document, KINDS[kind_index], data[9:])
        except Exception:
            log.exception("handling a bus message for %s failed", document)
