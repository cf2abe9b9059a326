"""Read-replica routing: reads go to MDREADER_READ_DATABASE_URL, writes to the primary."""

from __future__ import annotations

import shutil
import sqlite3

import httpx
from sqlalchemy import text

from mdreader.app import create_app
from tests.conftest import PASSWORD, make_settings


def _replicate(primary, replica) -> None:
    src, dst = sqlite3.connect(primary), sqlite3.connect(replica)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


async def test_reads_go_to_the_replica(tmp_path, database_template, outbox):
    if not database_template.endswith(".db"):
        # PostgreSQL run: prove the routing with two SQLite files, the same code path.
        from mdreader.db import migrate

        database_template = str(tmp_path / "tpl.db")
        migrate(f"sqlite+aiosqlite:///{database_template}")
    primary, replica = tmp_path / "primary.db", tmp_path / "replica.db"
    shutil.copyfile(database_template, primary)
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{primary}",
        read_database_url=f"sqlite+aiosqlite:///{replica}",
        redis_url=None,
    )
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                "/api/auth/register",
                json={"email": "r@example.com", "password": PASSWORD, "name": "R"},
            )
            assert r.status_code == 201
            r = await c.post(
                "/api/auth/login", json={"email": "r@example.com", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = await c.post("/api/workspaces", json={"name": "Primary"}, headers=headers)
            wid = r.json()["id"]
            # The "replica" is an empty-but-migrated copy made before the writes: until it
            # catches up, reads see nothing there.
            shutil.copyfile(database_template, replica)
            r = await c.get("/api/workspaces", headers=headers)
            assert r.status_code == 200 and r.json() == [], "sign-in is checked on the primary"
            # Replicate, then reads are served from the replica.
            await app.state.services.db.read_engine.dispose()
            _replicate(primary, replica)
            r = await c.get("/api/workspaces", headers=headers)
            assert [w["id"] for w in r.json()] == [wid]
            # A write that only the primary sees is invisible to replica reads.
            async with app.state.services.db.session() as session:
                await session.execute(text("UPDATE workspaces SET name = 'Changed'"))
            r = await c.get("/api/workspaces", headers=headers)
            assert r.json()[0]["name"] == "Primary"
            # The cached document read reads the primary, whose change stamp it keeps: a
            # lagging replica must not be pinned in the cache.
            r = await c.post(
                f"/api/workspaces/{wid}/documents",
                json={"title": "Fresh", "content": "only on the primary"},
                headers=headers,
            )
            doc_url = f"/api/documents/{r.json()['id']}"
            for _ in range(2):
                r = await c.get(doc_url, headers=headers)
                assert r.status_code == 200 and r.json()["content"] == "only on the primary"
