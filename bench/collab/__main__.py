"""bench/collab: live co-editing, MDReader against the stock @hocuspocus/server, same run.

Node load generators (``node/loadgen.mjs``, Hocuspocus providers; ``--generators`` processes
sharing the clients, so the load is not capped by one Node process) drive each server in
turn: 10, 100 and 500 clients on one document, 1,000 documents with one client each, 100
documents with 10 clients each, and a closed loop (``peak``: every writer sends its next
update as soon as the last is acknowledged) that finds the peak acknowledged throughput.
Reported per case and server: updates delivered/s (to the other clients of a document),
updates acknowledged/s, end-to-end delivery and acknowledgement latency p50/p99, the
server's peak RSS, its CPU (cores) and its CPU time per acknowledged and per delivered update
over the measured window; then the MDReader / reference ratios.

The reference keeps documents in memory and acknowledges at once; MDReader acknowledges only
after the update is in the database (SQLite here unless ``--database-url``). The Node packages
are installed for the benchmark only (``npm ci`` in ``bench/collab/node``).

With ``--comments N`` every MDReader document gets N comment threads (each with a reply)
first, and while a case runs a comment is posted on its first document every 0.2 s, so
every client of it receives comment events: compare the ratios with and without.

Usage: python -m bench.collab [--seconds 5] [--cases 10,100,500,1000x1,100x10,peak]
                              [--generators 2] [--database-url URL] [--comments N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support.scratch import free_port, server_env, start_server

ROOT = Path(__file__).resolve().parents[2]
NODE = Path(__file__).resolve().parent / "node"
PASSWORD = "Bench-pass-1"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Case:
    name: str
    docs: int
    clients_per_doc: int
    writers_per_doc: int
    rate: float  # updates per second per writer (closed loop: how fast writers start)
    closed: bool = False  # each writer sends its next update once the last is acknowledged


CASES = {
    "10": Case("10 clients, 1 doc", 1, 10, 10, 20),
    "100": Case("100 clients, 1 doc", 1, 100, 10, 20),
    "500": Case("500 clients, 1 doc", 1, 500, 10, 5),
    "1000x1": Case("1000 docs x 1 client", 1000, 1, 1, 1),
    "100x10": Case("100 docs x 10 clients", 100, 10, 2, 2),
    "peak": Case("peak: 20x2, closed loop", 20, 2, 1, 50, closed=True),
}


def npm_ci() -> None:
    marker = NODE / "node_modules" / ".package-lock.json"
    lock = NODE / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE, check=True
        )


class Sampler:
    """Peak RSS and CPU seconds of one process while a run goes on."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cpu(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.rss())
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self.cpu_start, self.wall_start = self.cpu(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self.cpu() - self.cpu_start
        self.wall = time.monotonic() - self.wall_start


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    url: str
    token: str = "bench"
    doc_ids: list[str] = field(default_factory=list)


def start_mdreader(env: dict[str, str]) -> Server:
    subprocess.run(
        [sys.executable, "-m", "mdreader", "migrate"],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    proc = start_server(
        "mdreader.app:create_app",
        port,
        env,
        factory=True,
        extra=["--ws", "websockets-sansio", "--ws-per-message-deflate", "false"],
    )
    return Server("MDReader", proc, f"ws://127.0.0.1:{port}/ws")


def start_reference() -> Server:
    proc = subprocess.Popen(
        ["node", str(NODE / "ref-server.mjs")], cwd=NODE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"the reference server did not start: {line!r}")
    return Server("@hocuspocus/server", proc, f"ws://127.0.0.1:{line.split()[1]}/ws")


def add_comments(server: Server, docs: list[str], per_doc: int) -> None:
    base = server.url.replace("ws://", "http://").removesuffix("/ws")
    h = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        for doc in docs:
            for i in range(per_doc):
                r = c.post(
                    f"/api/documents/{doc}/comments", json={"body": f"Thread {i}"}, headers=h
                )
                r.raise_for_status()
                c.post(
                    f"/api/documents/{doc}/comments/{r.json()['id']}/replies",
                    json={"body": "A reply"},
                    headers=h,
                ).raise_for_status()


class CommentPoster:
    """Posts a comment on one document every 0.2 s while a case runs (comment events)."""

    def __init__(self, server: Server, doc: str) -> None:
        self.server, self.doc = server, doc
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.posted = 0

    def _run(self) -> None:
        base = self.server.url.replace("ws://", "http://").removesuffix("/ws")
        h = {"Authorization": f"Bearer {self.server.token}"}
        with httpx.Client(base_url=base, timeout=30) as c:
            while not self.stop.wait(0.2):
                c.post(f"/api/documents/{self.doc}/comments", json={"body": "live"}, headers=h)
                self.posted += 1

    def __enter__(self) -> CommentPoster:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def prepare(server: Server, docs: int) -> None:
    """A user, a workspace and ``docs`` documents on MDReader (names reused for the reference)."""
    base = server.url.replace("ws://", "http://").removesuffix("/ws")
    with httpx.Client(base_url=base, timeout=30) as c:
        c.post(
            "/api/auth/register",
            json={"email": "bench@example.com", "password": PASSWORD, "name": "Bench"},
        )
        server.token = c.post(
            "/api/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {server.token}"}
        ws = c.post("/api/workspaces", json={"name": "Bench"}, headers=h).json()
        for i in range(docs):
            r = c.post(
                f"/api/workspaces/{ws['id']}/documents",
                json={"title": f"Doc {i}", "content": "# Bench\n"},
                headers=h,
            )
            r.raise_for_status()
            server.doc_ids.append(r.json()["id"])


def _shares(case: Case, docs: list[str], generators: int) -> list[dict]:
    """What each load generator drives: whole documents when there are enough, else a
    slice of the one document's clients."""
    if len(docs) >= generators:
        return [{"docs": docs[i::generators]} for i in range(generators)]
    n = min(generators, case.clients_per_doc)
    bounds = [round(i * case.clients_per_doc / n) for i in range(n + 1)]
    return [{"docs": docs, "firstClient": bounds[i], "lastClient": bounds[i + 1]} for i in range(n)]


def _tail(files: list) -> str:
    text = ""
    for f in files:
        f.seek(0)
        text += f.read()[-1000:]
    return text


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)


def run_case(server: Server, case: Case, docs: list[str], seconds: float, generators: int) -> dict:
    warmup = 1.0
    procs = []
    errors = []  # stderr in files: a full pipe would stall a generator
    for share in _shares(case, docs, generators):
        cfg = {
            "url": server.url,
            "token": server.token,
            "clientsPerDoc": case.clients_per_doc,
            "writersPerDoc": case.writers_per_doc,
            "rate": case.rate,
            "closed": case.closed,
            "warmupMs": int(warmup * 1000),
            "durationMs": int(seconds * 1000),
            "coordinated": True,
            "raw": True,
            **share,
        }
        errors.append(tempfile.TemporaryFile("w+"))  # noqa: SIM115 - closed below
        procs.append(
            subprocess.Popen(
                ["node", "--max-old-space-size=4096", str(NODE / "loadgen.mjs"), json.dumps(cfg)],
                cwd=NODE,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors[-1],
                text=True,
            )
        )
    with Sampler(server.proc.pid) as sampler:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "SYNCED":
                for other in procs:
                    other.kill()
                raise RuntimeError(f"a load generator failed on {server.name}: {_tail(errors)}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        time.sleep(warmup)
        cpu_start, wall_start = sampler.cpu(), time.monotonic()
        time.sleep(seconds)
        window_cpu, window_wall = sampler.cpu() - cpu_start, time.monotonic() - wall_start
        outputs = [proc.communicate(timeout=600) for proc in procs]
    parts = []
    failed = [p for p in procs if p.returncode != 0]
    tail = _tail(errors) if failed else ""
    for f in errors:
        f.close()
    for proc, (out, _) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"a load generator failed on {server.name}: {tail}")
        parts.append(json.loads(out.strip().splitlines()[-1]))
    delivery = [v for part in parts for v in part["raw"]["delivery"]]
    acks = [v for part in parts for v in part["raw"]["ack"]]
    span = max(part["seconds"] for part in parts)
    acked = sum(part["acked"] for part in parts)
    delivered = sum(part["delivered"] for part in parts)
    return {
        "clients": sum(part["clients"] for part in parts),
        "sent": sum(part["sent"] for part in parts),
        "acked": acked,
        "delivered": delivered,
        "delivered_per_s": round(delivered / span),
        "acked_per_s": round(acked / span),
        "delivery_p50_ms": _pct(delivery, 50),
        "delivery_p99_ms": _pct(delivery, 99),
        "ack_p50_ms": _pct(acks, 50),
        "ack_p99_ms": _pct(acks, 99),
        "server_rss_mb": round(sampler.peak_rss / 2**20, 1),
        "server_cpu_cores": round(window_cpu / window_wall, 2),
        # Server CPU time per update over the measured window (ms per acknowledged update,
        # µs per delivered one).
        "cpu_ms_per_ack": round(window_cpu * 1000 / acked, 3) if acked else None,
        "cpu_us_per_delivery": round(window_cpu * 1e6 / delivered, 1) if delivered else None,
    }


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cases", default="10,100,500,1000x1,100x10,peak")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--comments", type=int, default=0, help="threads per document first")
    args = parser.parse_args()
    if not shutil.which("node"):
        sys.exit("bench/collab needs Node.js (node and npm)")
    npm_ci()
    cases = [CASES[c] for c in args.cases.split(",")]
    needed = sum(c.docs for c in cases)
    results: list[tuple[Case, dict, dict]] = []
    with tempfile.TemporaryDirectory() as data:
        env = server_env(data)
        if args.database_url:
            env["MDREADER_DATABASE_URL"] = args.database_url
        mdreader = start_mdreader(env)
        reference = start_reference()
        try:
            prepare(mdreader, needed)
            if args.comments:
                add_comments(mdreader, mdreader.doc_ids, args.comments)
            reference.doc_ids = mdreader.doc_ids
            offset = 0
            for case in cases:
                docs = mdreader.doc_ids[offset : offset + case.docs]
                offset += case.docs
                if args.comments:
                    with CommentPoster(mdreader, docs[0]):
                        m = run_case(mdreader, case, docs, args.seconds, args.generators)
                else:
                    m = run_case(mdreader, case, docs, args.seconds, args.generators)
                r = run_case(reference, case, docs, args.seconds, args.generators)
                results.append((case, m, r))
                print(f"  {case.name}: done", file=sys.stderr, flush=True)
        finally:
            for server in (mdreader, reference):
                server.proc.terminate()
                try:
                    server.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    extra = f", {args.comments} threads per document and live comments" if args.comments else ""
    print(
        f"bench/collab  {args.seconds:.0f}s per run, {args.generators} load generators"
        f"  (MDReader: uvicorn, 1 worker, {backend}{extra})"
    )
    cols = [
        ("delivered/s", "delivered_per_s"),
        ("acked/s", "acked_per_s"),
        ("deliv p50", "delivery_p50_ms"),
        ("deliv p99", "delivery_p99_ms"),
        ("ack p50", "ack_p50_ms"),
        ("ack p99", "ack_p99_ms"),
        ("RSS MB", "server_rss_mb"),
        ("CPU", "server_cpu_cores"),
        ("CPU ms/ack", "cpu_ms_per_ack"),
        ("CPU us/deliv", "cpu_us_per_delivery"),
    ]
    header = f"{'case':24}{'server':20}" + "".join(f"{c:>13}" for c, _ in cols)
    print(header)
    for case, m, r in results:
        for label, res in (("MDReader", m), ("reference", r)):
            print(
                f"{case.name:24}{label:20}"
                + "".join(f"{'-' if res.get(k) is None else res[k]!s:>13}" for _, k in cols)
            )
        print(
            f"{'':24}{'ratio MDR/ref':20}"
            + "".join(f"{ratio(m.get(k), r.get(k)):>13}" for _, k in cols)
        )
    print(
        json.dumps(
            {case.name: {"mdreader": m, "reference": r} for case, m, r in results}, default=str
        )
    )


if __name__ == "__main__":
    main()
