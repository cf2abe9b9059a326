"""Full-text search: ranked, with escaped snippets, kept current by REST writes and by the
compaction of live edits; the same answers on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import Uuid, bindparam, text

from mdreader.db.models import Document
from mdreader.services import documents as docs
from mdreader.services.compaction import compact
from mdreader.services.search import _CLOSE, _OPEN, BLOCK, _snippet, search


async def _search(client, ws, user, q, **params):
    r = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": q, **params}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_ranked_with_snippets(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    once = await factory.document(ws, owner, "Notes", "a line about kiwis and other fruit")
    title = await factory.document(ws, owner, "Kiwi growing", "how to grow them in the garden")
    many = await factory.document(ws, owner, "Orchard", "kiwi kiwi kiwi: kiwi harvest, kiwi jam")
    await factory.document(ws, owner, "Unrelated", "nothing to see")
    hits = await _search(client, ws, owner, "kiwi")
    ids = [h["document_id"] for h in hits]
    assert set(ids) == {once["id"], title["id"], many["id"]}
    assert ids[-1] == once["id"]  # one mention in the body ranks last
    by_id = {h["document_id"]: h for h in hits}
    assert "<mark>kiwi</mark>" in by_id[many["id"]]["snippet"].lower()
    assert by_id[title["id"]]["title"] == "Kiwi growing"
    # Several words (all must match, the last as a prefix), paging.
    assert [h["document_id"] for h in await _search(client, ws, owner, "jam harv")] == [many["id"]]
    assert await _search(client, ws, owner, "harv jam") == []
    assert len(await _search(client, ws, owner, "kiwi", limit=1)) == 1
    assert len(await _search(client, ws, owner, "kiwi", limit=2, offset=2)) == 1


async def test_snippets_are_escaped(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "X", 'fish & <script>alert("zebra")</script> after')
    (hit,) = await _search(client, ws, owner, "zebra")
    assert "<script>" not in hit["snippet"]
    assert "&amp;" in hit["snippet"]
    assert "<mark>zebra</mark>" in hit["snippet"]


async def test_odd_queries_are_not_errors(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "Doc", "plain words here")
    for q in [
        '"unclosed',
        "snake_case words",
        "naïve café",
        "a OR (b",
        "NEAR(x y)",
        "*",
        "-",
        "words:*",
        "'; DROP TABLE x; --",
    ]:
        await _search(client, ws, owner, q)
    assert await _search(client, ws, owner, "!!!") == []
    r = await client.get(f"/api/workspaces/{ws['id']}/search", headers=owner.headers)
    assert r.status_code == 422


async def test_scoped_to_workspace_and_excludes_trash(client, factory):
    owner = await factory.user("owner")
    other = await factory.user("other")
    ws = await factory.workspace(owner)
    elsewhere = await factory.workspace(other)
    await factory.document(elsewhere, other, "Secret", "platypus")
    doc = await factory.document(ws, owner, "Mine", "platypus")
    viewer = await factory.member(ws, owner, "viewer")
    assert [h["document_id"] for h in await _search(client, ws, viewer, "platypus")] == [doc["id"]]
    r = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": "platypus"}, headers=other.headers
    )
    assert r.status_code == 404
    await client.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert await _search(client, ws, owner, "platypus") == []
    await client.post(f"/api/documents/{doc['id']}/restore", headers=owner.headers)
    assert len(await _search(client, ws, owner, "platypus")) == 1


async def test_rest_writes_update_the_index_at_once(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "the old wombat")
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": "a new quokka", "title": "Renamed narwhal"},
        headers=owner.headers,
    )
    assert r.status_code == 200
    assert await _search(client, ws, owner, "wombat") == []
    assert len(await _search(client, ws, owner, "quokka")) == 1
    assert len(await _search(client, ws, owner, "narwhal")) == 1
    # A title alone (the text stays the document's column): found by its new title at once.
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"title": "Dugong"}, headers=owner.headers
    )
    assert r.status_code == 200
    assert await _search(client, ws, owner, "narwhal") == []
    assert [h["title"] for h in await _search(client, ws, owner, "dugong")] == ["Dugong"]


async def test_compaction_of_live_edits_updates_the_index(app, client, factory):
    """A live edit only appends to the update log; compaction folds it into the content and
    the search text together."""
    services = app.state.services
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "first draft")
    async with services.db.session() as session:
        document = await session.get(Document, uuid.UUID(doc["id"]))
        await docs.write_content(services, session, document, "first draft with a capybara", None)
    assert await _search(client, ws, owner, "capybara") == []
    assert await compact(services, uuid.UUID(doc["id"])) == 1
    assert [h["document_id"] for h in await _search(client, ws, owner, "capybara")] == [doc["id"]]


# --- the page is the one a plain query ranking every match gives ----------------------------
# Written the straightforward way, slow on purpose: every match joined to its document, all of
# them ranked, a snippet for each. ``search`` must return its first rows, unchanged.
_PLAIN_SQLITE = f"""
    SELECT sd.document_id, d.title,
           snippet(search_fts, -1, '{_OPEN}', '{_CLOSE}', '…', 24),
           substr(coalesce(sd.body, d.content), 1, 200)
    FROM search_fts
    JOIN search_documents AS sd ON sd.id = search_fts.rowid
    JOIN documents AS d ON d.id = sd.document_id
    WHERE search_fts MATCH :match AND sd.workspace_id = :ws AND d.deleted_at IS NULL
    ORDER BY bm25(search_fts, 10.0, 1.0)
"""
_PLAIN_POSTGRESQL = f"""
    SELECT sd.document_id, d.title,
           ts_headline('simple',
                       translate(left(coalesce(sd.body, d.content), 100000), '<>', '  '),
                       to_tsquery('simple', :tsquery),
                       'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=24, MinWords=8, '
                       'MaxFragments=2, FragmentDelimiter=" … "'),
           left(coalesce(sd.body, d.content), 200)
    FROM search_documents AS sd
    JOIN documents AS d ON d.id = sd.document_id
    WHERE search_vector_of(sd.title, coalesce(sd.body, d.content)) @@ to_tsquery('simple', :tsquery)
      AND sd.workspace_id = :ws AND d.deleted_at IS NULL
    ORDER BY ts_rank_cd(search_vector_of(sd.title, coalesce(sd.body, d.content)),
                        to_tsquery('simple', :tsquery)) DESC,
             sd.document_id
"""


async def _plain(services, workspace_id: str, words: list[str]) -> list[tuple[str, str, str]]:
    async with services.db.read_session() as session:
        if services.db.dialect == "postgresql":
            sql, params = (
                _PLAIN_POSTGRESQL,
                {"tsquery": " & ".join([*words[:-1], f"{words[-1]}:*"])},
            )
        else:
            match = " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])
            sql, params = _PLAIN_SQLITE, {"match": match}
        stmt = text(sql).bindparams(bindparam("ws", type_=Uuid))
        rows = (await session.execute(stmt, {"ws": uuid.UUID(workspace_id), **params})).all()
    return [(str(uuid.UUID(str(r[0]))), r[1], _snippet(r[2], r[3] or "")) for r in rows]


async def test_page_is_the_plain_ranking_of_every_live_match(app, client, factory):
    """Ranking, snippets and the access rules, against the plain query above: bm25 with the
    title weighted 10 to 1 (SQLite), ts_rank_cd (PostgreSQL); trashed documents and other
    workspaces' documents left out; pages are slices of the same order."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    elsewhere = await factory.workspace(owner, "Elsewhere")
    await factory.document(elsewhere, owner, "Walrus", "walrus walrus walrus")
    docs = []
    for i in range(14):
        words = ["walrus"] * (i % 5 + 1) + ["tusk"] * (i % 3) + ["filler"] * (i * 9)
        random.Random(i).shuffle(words)
        title = "Walrus herd" if i % 4 == 0 else f"Note {i}"
        body = " ".join(words) + f" a <b>walrus</b> & x<y {i}"
        docs.append(await factory.document(ws, owner, title, body))
    await factory.document(ws, owner, "Empty", "")
    for trashed in (docs[1], docs[6]):
        r = await client.delete(f"/api/documents/{trashed['id']}", headers=owner.headers)
        assert r.status_code in (200, 204), r.text
    services = app.state.services
    for q, words in (("walrus", ["walrus"]), ("tusk walr", ["tusk", "walr"])):
        plain = await _plain(services, ws["id"], words)
        assert plain and {d["id"] for d in (docs[1], docs[6])}.isdisjoint(h[0] for h in plain)
        hits = await _search(client, ws, owner, q, limit=100)
        assert [(h["document_id"], h["title"], h["snippet"]) for h in hits] == plain
        page = await _search(client, ws, owner, q, limit=4, offset=3)
        assert [h["document_id"] for h in page] == [h[0] for h in plain[3:7]]


async def test_search_leaves_the_connection_as_it_found_it(app, factory):
    """Read sessions share pooled connections, so a search must not leave a setting behind
    for whoever uses the connection next: on PostgreSQL no session setting (the planner's
    above all); on SQLite no FTS5 configuration (the per-query ``rank`` would otherwise be
    stored in the index's config table) and no pragma."""
    services = app.state.services
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "Okapi", "okapi okapi and more")
    await factory.document(ws, owner, "Doc", "an okapi")
    if services.db.dialect == "postgresql":
        probe = [
            "SELECT name, setting FROM pg_settings WHERE source NOT IN ('default', 'override') "
            "OR name IN ('random_page_cost', 'plan_cache_mode', 'enable_seqscan') ORDER BY name"
        ]
    else:
        probe = [
            "SELECT * FROM search_fts_config ORDER BY k",
            *(f"PRAGMA {p}" for p in ("query_only", "cache_size", "foreign_keys", "busy_timeout")),
        ]

    async def state(session):
        return [(await session.execute(text(sql))).all() for sql in probe]

    async with services.db.read_session() as session:
        before = await state(session)
        assert before[0], "the probe sees nothing: it would pass whatever search did"
        assert len(await search(session, uuid.UUID(ws["id"]), "okapi")) == 2
        assert await state(session) == before


async def test_past_a_block_of_matches_every_match_is_paged_once(app, client, factory):
    """More matches than ``search.BLOCK``: they are ranked a block at a time (on SQLite the
    newest block first), each block in the plain ranking's order, and pages are slices of
    that one order that reach every match once."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    docs = []
    for i in range(BLOCK + 5):
        title = "Dingo den" if i % 6 == 0 else f"Page {i}"
        docs.append(await factory.document(ws, owner, title, "dingo " * (i % 4 + 1) + "x " * i))
    everything = await _search(client, ws, owner, "dingo", limit=100)
    ids = [h["document_id"] for h in everything]
    assert sorted(ids) == sorted(d["id"] for d in docs)
    paged = []
    for offset in range(0, len(ids), 7):
        paged += await _search(client, ws, owner, "dingo", limit=7, offset=offset)
    assert paged == everything
    plain = [h[0] for h in await _plain(app.state.services, ws["id"], ["dingo"])]
    first, rest = ids[:BLOCK], ids[BLOCK:]
    assert first == [i for i in plain if i in first]
    assert rest == [i for i in plain if i in rest]
    if app.state.services.db.dialect == "sqlite":
        assert set(first) == {d["id"] for d in docs[-BLOCK:]}
