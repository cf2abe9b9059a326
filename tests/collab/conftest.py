"""Fixtures of the collaboration tests: the Node clients and a live server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.collab.harness import InProcessServer, NodeClients, ensure_node_modules
from tests.conftest import BACKEND, unavailable


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql`` run in the PostgreSQL pass (with Redis) only; in the SQLite
    pass they are deselected, not skipped, so CI's no-skip rule holds in both passes."""
    if BACKEND == "postgresql":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgresql") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def node_ready() -> None:
    error = ensure_node_modules()
    if error:
        unavailable(error)


@pytest.fixture
async def node(node_ready: None) -> AsyncIterator[NodeClients]:
    clients = await NodeClients().start()
    yield clients
    await clients.close()


@pytest.fixture
async def live(app: Any) -> AsyncIterator[InProcessServer]:
    async with InProcessServer(app) as server:
        yield server
