"""bench/api: GET and PATCH of a document at concurrency 50, MDReader beside a bare ASGI app.

Both run under the same server (uvicorn, one worker, same flags) in the same run, driven by
the same load generator; the ratio MDReader / bare is the figure to watch (goal >= 0.4).
Usage: python -m bench.api [--seconds 5] [--concurrency 50] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from support.scratch import free_port, scratch_postgres, server_env, start_server

from bench import loadgen

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-pass-1"


def prepare(port: int) -> tuple[str, str]:
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as c:
        c.post(
            "/api/auth/register",
            json={"email": "bench@example.com", "password": PASSWORD, "name": "Bench"},
        )
        token = c.post(
            "/api/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        ws = c.post("/api/workspaces", json={"name": "Bench"}, headers=h).json()
        doc = c.post(
            f"/api/workspaces/{ws['id']}/documents",
            json={"title": "Bench", "content": "x" * 2000},
            headers=h,
        ).json()
        return token, doc["id"]


async def measure(
    port: int, token: str, doc_id: str, seconds: float, concurrency: int
) -> dict[str, dict[str, float]]:
    host = f"127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    get = loadgen.build_request("GET", f"/api/documents/{doc_id}", host, auth, b"")

    def make_get(_n: int, _i: int) -> bytes:
        return get

    def make_patch(n: int, i: int) -> bytes:
        body = loadgen.json_body({"title": f"Bench {n}-{i}"})
        return loadgen.build_request("PATCH", f"/api/documents/{doc_id}", host, auth, body)

    out = {}
    for name, maker in (("GET", make_get), ("PATCH", make_patch)):
        result = await loadgen.run(
            "127.0.0.1", port, maker, concurrency=concurrency, duration=seconds
        )
        out[name] = result.summary()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--postgres",
        default=None,
        help="an admin URL of a PostgreSQL server; a scratch database is made there "
        "(default: SQLite in a temporary folder)",
    )
    args = parser.parse_args()
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            run(args, url)
    else:
        run(args, None)


def run(args: argparse.Namespace, database_url: str | None) -> None:

    with tempfile.TemporaryDirectory() as data:
        env = server_env(data)
        if database_url:
            env["MDREADER_DATABASE_URL"] = database_url
        subprocess.run(
            [sys.executable, "-m", "mdreader", "migrate"],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        app_port, bare_port, fw_port = free_port(), free_port(), free_port()
        app = start_server("mdreader.app:create_app", app_port, env, factory=True)
        bare = start_server("bench.bare:app", bare_port, env, factory=False)
        fw = start_server("bench.bare:framework", fw_port, env, factory=False)
        try:
            token, doc_id = prepare(app_port)
            mdreader = asyncio.run(measure(app_port, token, doc_id, args.seconds, args.concurrency))
            reference = asyncio.run(
                measure(bare_port, token, doc_id, args.seconds, args.concurrency)
            )
            framework = asyncio.run(measure(fw_port, token, doc_id, args.seconds, args.concurrency))
        finally:
            for proc in (app, bare, fw):
                proc.terminate()
                proc.wait(timeout=20)
    backend = "PostgreSQL" if database_url else "SQLite"
    print(
        f"bench/api  concurrency={args.concurrency}  {args.seconds:.0f}s per run  (uvicorn, 1 worker, {backend})"
    )
    print(
        f"{'':8}{'MDReader req/s':>16}{'p50 ms':>9}{'p99 ms':>9}{'bare req/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
    )
    for name in ("GET", "PATCH"):
        m, r = mdreader[name], reference[name]
        ratio = m["req_per_s"] / r["req_per_s"] if r["req_per_s"] else float("nan")
        print(
            f"{name:8}{m['req_per_s']:>16}{m['p50_ms']:>9}{m['p99_ms']:>9}{r['req_per_s']:>13}{r['p50_ms']:>9}{r['p99_ms']:>9}{ratio:>8.2f}"
        )
        if m["errors"]:
            print(f"  {name}: {m['errors']} error responses from MDReader")
    print("For context, the same answer from a one-route FastAPI app (no auth, no database):")
    for name in ("GET", "PATCH"):
        f, r = framework[name], reference[name]
        print(
            f"{name:8}{f['req_per_s']:>10} req/s = {f['req_per_s'] / r['req_per_s']:.2f} of bare;"
            f" MDReader = {mdreader[name]['req_per_s'] / f['req_per_s']:.2f} of it"
        )
    print(json.dumps({"mdreader": mdreader, "bare": reference, "fastapi": framework}))


if __name__ == "__main__":
    main()
