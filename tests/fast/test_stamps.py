"""Change stamps (fast/stamps.py): they move with every commit, and a stamp that cannot be read
answers None quickly instead of holding up the requests that wait for it."""

from __future__ import annotations

import asyncio
import socket
import time

from sqlalchemy import text

from mdreader.fast.stamps import PostgresStamp
from tests.conftest import Factory


async def test_the_stamp_moves_with_every_commit(app, factory: Factory):
    db = app.state.services.db
    await factory.user("before")
    # Background work (compaction; on PostgreSQL any WAL record of the cluster) may still
    # move it for a moment: wait until two reads agree.
    before, again = await db.change_stamp(), None
    for _ in range(20):
        again = await db.change_stamp()
        if again == before:
            break
        before = again
        await asyncio.sleep(0.05)
    assert before is not None
    assert again == before  # nothing committed meanwhile
    await factory.user("after")  # a commit through the application
    after = await db.change_stamp()
    assert after not in (None, before)
    async with db.session() as session:  # and one made directly
        await session.execute(text("UPDATE users SET name = 'renamed'"))
    assert await db.change_stamp() not in (None, after)


async def test_an_unanswering_postgresql_stamp_gives_up_fast():
    """A server that accepts the connection and then says nothing (a cut link): the waiters
    get None within about a second, and the next second is not tried again."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stamp = PostgresStamp(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
    try:
        start = time.monotonic()
        answers = await asyncio.gather(*(stamp.read() for _ in range(5)))
        assert answers == [None] * 5
        assert time.monotonic() - start < PostgresStamp.QUERY_SECONDS + 1.5
        start = time.monotonic()
        assert await stamp.read() is None and time.monotonic() - start < 0.1
    finally:
        await stamp.close()
        listener.close()
