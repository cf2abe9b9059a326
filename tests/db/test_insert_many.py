"""Database.insert_many: the insert-only transaction of the collaboration update log (on an
SQLite file it runs whole on a thread of its own)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, insert, select

from mdreader.db.models import DocumentUpdate
from mdreader.db.types import utcnow
from tests.conftest import Factory

APPEND = insert(DocumentUpdate.__table__)  # type: ignore[arg-type]


def _rows(document_id: uuid.UUID, datas: list[bytes]) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {"document_id": document_id, "data": d, "user_id": None, "created_at": now}
        for d in datas
    ]


async def _logged(db, document_id: uuid.UUID) -> list[bytes]:
    async with db.primary_read_session() as session:
        rows = await session.scalars(
            select(DocumentUpdate.data)
            .where(DocumentUpdate.document_id == document_id)
            .order_by(DocumentUpdate.id)
        )
        return list(rows)


async def test_rows_are_committed_in_order_and_a_failed_batch_leaves_nothing(
    app, factory: Factory
):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = uuid.UUID((await factory.document(ws, owner, "Log", ""))["id"])
    db = app.state.services.db

    await db.insert_many(APPEND, _rows(doc, [b"one", b"two", b"three"]))
    assert await _logged(db, doc) == [b"one", b"two", b"three"]
    # Read back with the ORM's types: the same values the async driver would have written.
    async with db.primary_read_session() as session:
        row = (
            await session.execute(
                select(DocumentUpdate.document_id, DocumentUpdate.created_at).where(
                    DocumentUpdate.document_id == doc
                )
            )
        ).first()
    assert row is not None and row.document_id == doc and row.created_at.tzinfo is not None

    # One row of the batch names no document: the whole batch is refused.
    missing = uuid.uuid4()
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await db.insert_many(APPEND, _rows(doc, [b"four"]) + _rows(missing, [b"x"]))
    assert await _logged(db, doc) == [b"one", b"two", b"three"]

    # The writer is not left inside a transaction: the next batch commits.
    await db.insert_many(APPEND, _rows(doc, [b"five"]))
    assert await _logged(db, doc) == [b"one", b"two", b"three", b"five"]
    async with db.primary_read_session() as session:
        count = await session.scalar(
            select(func.count()).select_from(DocumentUpdate).where(
                DocumentUpdate.document_id == missing
            )
        )
    assert count == 0
