"""Per-document debouncing for background work (compaction, automatic versions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from typing import Any


class Debouncer(ABC):
    """Runs ``fire(document_id)`` once a scheduled document's due time has come; scheduling
    it again moves the due time (``due``). Whatever is pending fires at exit. An async
    context manager, entered in the app's lifespan."""

    name = "mdreader-debouncer"

    def __init__(self) -> None:
        self._due: dict[uuid.UUID, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._closing = False
        # When the loop wakes by itself next (-inf while it works): a due time past it needs
        # no wake-up. Busy documents are rescheduled on every update, each time later.
        self._wake_at = float("-inf")

    @abstractmethod
    def due(self, document_id: uuid.UUID, now: float) -> float:
        """When a document scheduled ``now`` should fire."""

    @abstractmethod
    async def fire(self, document_id: uuid.UUID) -> None:
        """The work for one document (errors are the subclass's to handle)."""

    def schedule(self, document_id: uuid.UUID) -> None:
        due = self._due[document_id] = self.due(document_id, time.monotonic())
        if due < self._wake_at:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._due)

    async def flush(self) -> None:
        pending, self._due = list(self._due), {}
        for document_id in pending:
            await self.fire(document_id)

    async def _run(self) -> None:
        while not self._closing:
            self._wake_at = float("-inf")
            now = time.monotonic()
            for document_id in [d for d, due in self._due.items() if due <= now]:
                self._due.pop(document_id, None)
                await self.fire(document_id)
            self._wake.clear()
            wait = min(self._due.values(), default=now + 3600.0) - now
            self._wake_at = now + max(0.01, wait)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # cancellation at exit when the event is set in the same instant.
            try:
                async with asyncio.timeout(max(0.01, wait)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def __aenter__(self) -> Any:
        self._task = asyncio.create_task(self._run(), name=self.name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
