"""bench/search: search latency over 10,000 documents and import speed, each beside a
reference measured in the same run on the same database.

* search: p50/p99 of ranked full-text queries with snippets (services.search) beside a
  plain primary-key SELECT of one document's title (the cheapest indexed read there is);
* import: documents/s of ``services.transfer.import_files`` (tree, Yjs state, search text,
  first version, all in one transaction) beside a raw executemany INSERT of the same rows
  into ``documents`` alone.

Usage: python -m bench.search [--documents 10000] [--queries 300]
                              [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]
SQLite by default; with --postgres a scratch database is created beside the given one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, select, text
from support.scratch import scratch_postgres

from mdreader.db import migrate
from mdreader.db.models import Document, Membership, User, Workspace
from mdreader.db.types import utcnow
from mdreader.observability import Metrics
from mdreader.runtime import build_services
from mdreader.services import search
from mdreader.services.transfer import ImportFile, import_files
from mdreader.settings import Settings

WORDS_PER_DOCUMENT = 150
VOCABULARY = 5000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


def corpus(count: int, rng: random.Random, words: list[str]) -> list[ImportFile]:
    """``count`` Markdown files in folders of 100, words drawn with a Zipf-like skew."""
    weights = [1 / (rank + 1) for rank in range(len(words))]
    files = []
    for i in range(count):
        body = rng.choices(words, weights, k=WORDS_PER_DOCUMENT)
        lines = [" ".join(body[j : j + 15]) for j in range(0, len(body), 15)]
        title = " ".join(rng.choices(words, weights, k=3))
        files.append(ImportFile(f"Folder {i // 100}/{title} {i}.md", ("\n".join(lines)).encode()))
    return files


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(documents: int, queries: int, database_url: str, data_dir: Path) -> None:
    rng = random.Random(7)
    words = vocabulary(rng)
    files = corpus(documents, rng, words)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="bench-" + "x" * 40,
        log_json=False,
        import_max_files=documents + 10,
        version_quiet_period=3600,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with build_services(settings, Metrics()) as services:
        db = services.db
        async with db.session() as session:
            user = User(email="bench@example.com", name="Bench", email_verified=True)
            workspace = Workspace(name="Bench")
            reference_ws = Workspace(name="Reference")
            session.add_all([user, workspace, reference_ws])
            await session.flush()
            session.add(Membership(workspace_id=workspace.id, user_id=user.id, role="owner"))

        # --- import -----------------------------------------------------------------------
        started = time.perf_counter()
        async with db.session() as session:
            created = await import_files(services, session, workspace.id, user.id, files)
        import_seconds = time.perf_counter() - started
        if db.dialect == "postgresql":
            # What autovacuum does soon after a bulk insert: fresh planner statistics.
            async with db.engine.begin() as conn:  # committed, or the statistics are lost
                await conn.execute(text("ANALYZE"))
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4(),
                "workspace_id": reference_ws.id,
                "parent_id": None,
                "title": f.path.rsplit("/", 1)[-1][:-3],
                "position": i,
                "content": f.data.decode(),
                "ystate": b"",
                "created_at": now,
                "updated_at": now,
            }
            for i, f in enumerate(files)
        ]
        started = time.perf_counter()
        async with db.session() as session:
            for start in range(0, len(rows), 500):
                await session.execute(insert(Document), rows[start : start + 500])
        raw_seconds = time.perf_counter() - started
        import_rate = len(created) / import_seconds
        raw_rate = len(rows) / raw_seconds

        # --- search -----------------------------------------------------------------------
        ids = [d.id for d in created]
        common = words[:50]
        rare = [w for w in words[1000:] if len(w) >= 7]  # selective even as a prefix
        phrases = [
            rng.choice(common)
            if i % 3 == 0
            else rng.choice(rare)
            if i % 3 == 1
            else f"{rng.choice(common)} {rng.choice(words[:500])}"
            for i in range(queries)
        ]
        search_times: list[float] = []
        pk_times: list[float] = []
        hits = 0
        async with db.read_session() as session:
            for q in phrases[:10]:  # warm up both paths
                await search.search(session, workspace.id, q)
                await session.scalar(select(Document.title).where(Document.id == ids[0]))
            for q in phrases:
                t0 = time.perf_counter()
                found = await search.search(session, workspace.id, q)
                search_times.append(time.perf_counter() - t0)
                hits += len(found)
                doc_id = rng.choice(ids)
                t0 = time.perf_counter()
                await session.scalar(select(Document.title).where(Document.id == doc_id))
                pk_times.append(time.perf_counter() - t0)

    ms = 1000.0
    s50, s99 = percentile(search_times, 50) * ms, percentile(search_times, 99) * ms
    p50, p99 = percentile(pk_times, 50) * ms, percentile(pk_times, 99) * ms
    print(f"database: {db.dialect}, {documents} documents, {queries} queries")
    print(
        f"search      p50 {s50:7.2f} ms  p99 {s99:7.2f} ms  "
        f"(mean hits per query {hits / len(phrases):.1f}, max 20)"
    )
    kinds = ("a common word", "a rare word", "two words")
    for k, kind in enumerate(kinds):
        times = search_times[k::3]
        print(f"  {kind:<13} p50 {percentile(times, 50) * ms:7.2f} ms")
    print(f"primary key p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (reference)")
    print(f"search / primary key: p50 x{s50 / p50:.1f}, p99 x{s99 / p99:.1f}")
    print(f"import      {import_rate:9.0f} documents/s  ({import_seconds:.1f} s)")
    print(f"raw INSERT  {raw_rate:9.0f} rows/s       ({raw_seconds:.1f} s, reference)")
    print(f"import / raw INSERT: {import_rate / raw_rate:.2f} (speed ratio)")
    print(f"mean search {statistics.fmean(search_times) * ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", default=None, help="an admin URL of a PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdreader-bench-") as tmp:
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                migrate(url)
                asyncio.run(run(args.documents, args.queries, url, Path(tmp)))
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            migrate(url)
            asyncio.run(run(args.documents, args.queries, url, Path(tmp)))


if __name__ == "__main__":
    main()
