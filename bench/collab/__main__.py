"""bench/collab: live co-editing, MDReader against the stock @hocuspocus/server, same run.

Node load generators drive each server in turn (``--generators`` processes share the
clients). The default one (``node/rawgen.mjs``, ``--client raw``) speaks the Hocuspocus
protocol over plain sockets: only writers hold a Y.Doc, receivers find the timestamps in the
frames' bytes, so it saturates long after the servers; ``--client provider``
(``node/loadgen.mjs``) runs a stock @hocuspocus/provider per client instead. Cases: 10, 100
and 500 clients on one document, 1,000 documents with one client each, 100 documents with 10
clients each, and a closed loop (``peak``: every writer sends its next update as soon as the
last is acknowledged) that finds the peak acknowledged throughput. Reported per case and
server: updates delivered/s (to the other clients of a document), updates acknowledged/s,
end-to-end delivery and acknowledgement latency p50/p99, the server's peak RSS and what the
case added to it (peak minus the RSS before its clients connected: memory per loaded
document and client, without the interpreter and the app), its CPU
(cores) and its CPU time per acknowledged and per delivered update over the measured window;
then the MDReader / reference ratios.

The reference keeps documents in memory and acknowledges at once; MDReader (``mdreader
serve``, as shipped) acknowledges only after the update is in the database (SQLite here
unless ``--database-url``). The Node packages are installed for the benchmark only (``npm
ci`` in ``bench/collab/node``).

``--comments N`` runs every MDReader case three times on documents of its own: without
comments, on documents with N threads (each with a reply) that nobody comments on while the
case runs (``present``), and with a comment posted on one of them every 0.2 s, which every
client of it receives as an event (``posted``); the present/none and posted/none ratios follow.

``--limits`` searches, for each server, the most documents (2 clients each, 1 edit/s per
document) and the most clients on one document (10 of them typing twice a second) it carries
with delivery p99 <= 100 ms and nearly every update acknowledged (README, "Tested limits").

``--profile DIR`` samples MDReader with py-spy (a dev tool, not installed by the project)
over each measured window into DIR/<case>.txt (collapsed stacks, GIL holder only).

Usage: python -m bench.collab [--seconds 5] [--cases 10,100,500,1000x1,100x10,peak]
                              [--generators 2] [--client raw|provider] [--database-url URL]
                              [--comments N] [--limits] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support.scratch import free_port, server_env, start_command

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


# The load generators: raw Hocuspocus frames over `ws` (no provider, no Y.Doc per receiver),
# or the stock @hocuspocus/provider (each client a full Yjs client).
GENERATORS = {"raw": "rawgen.mjs", "provider": "loadgen.mjs"}


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

    def settle(self, idle: float = 0.05, limit: float = 30.0) -> None:
        """Wait (at most ``limit`` s) until the process is idle: what the last case left it to
        do (MDReader compacts the documents it wrote) must not count against the next."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            start = self.cpu()
            time.sleep(0.5)
            if self.cpu() - start < idle * 0.5:
                return

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
    """``mdreader serve`` as shipped (it migrates first); every load generator connects from
    127.0.0.1, so the per-address connection cap is lifted."""
    port = free_port()
    env = {**env, "MDREADER_MAX_CONNECTIONS_PER_ADDRESS": "0"}
    proc = start_command(
        [sys.executable, "-m", "mdreader", "serve", "--port", str(port)],
        port,
        env,
        "mdreader serve",
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


def _profiler(
    server: Server, case: Case, seconds: float, folder: str | None
) -> subprocess.Popen | None:
    """py-spy sampling MDReader over the measured window (``--profile DIR``: a dev tool, not
    installed by the project), written as collapsed stacks to DIR/<case>.txt."""
    if folder is None or server.name != "MDReader":
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(folder) / (re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-") + ".txt")
    args = ["record", "-p", str(server.proc.pid), "-d", str(max(1, int(seconds)))]
    args += ["-r", "200", "-f", "raw", "-o", str(out), "--nonblocking", "--gil"]
    return subprocess.Popen(
        [spy, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_case(
    server: Server,
    case: Case,
    docs: list[str],
    seconds: float,
    generators: int,
    profile: str | None = None,
    client: str = "raw",
) -> dict:
    warmup = 1.0
    sampler = Sampler(server.proc.pid)
    sampler.settle()
    idle_rss = sampler.rss()  # before the case's clients connect
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
                [
                    "node",
                    "--max-old-space-size=4096",
                    str(NODE / GENERATORS[client]),
                    json.dumps(cfg),
                ],
                cwd=NODE,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors[-1],
                text=True,
            )
        )
    with sampler:
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
        spy = _profiler(server, case, seconds, profile)
        cpu_start, wall_start = sampler.cpu(), time.monotonic()
        time.sleep(seconds)
        window_cpu, window_wall = sampler.cpu() - cpu_start, time.monotonic() - wall_start
        outputs = [proc.communicate(timeout=600) for proc in procs]
        if spy is not None:
            spy.wait(timeout=60)
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
        # What the case's documents and clients added to the idle process (the peak over
        # the RSS at the start): per loaded document, unlike the total, which is mostly
        # the interpreter and the app.
        "server_rss_added_mb": round(max(0, sampler.peak_rss - idle_rss) / 2**20, 1),
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


COLS = [
    ("delivered/s", "delivered_per_s"),
    ("acked/s", "acked_per_s"),
    ("deliv p50", "delivery_p50_ms"),
    ("deliv p99", "delivery_p99_ms"),
    ("ack p50", "ack_p50_ms"),
    ("ack p99", "ack_p99_ms"),
    ("RSS MB", "server_rss_mb"),
    ("RSS +MB", "server_rss_added_mb"),
    ("CPU", "server_cpu_cores"),
    ("CPU ms/ack", "cpu_ms_per_ack"),
    ("CPU us/deliv", "cpu_us_per_delivery"),
]


def _row(case: str, label: str, res: dict) -> str:
    return f"{case:24}{label:20}" + "".join(
        f"{'-' if res.get(k) is None else res[k]!s:>13}" for _, k in COLS
    )


def _ratio_row(label: str, a: dict, b: dict) -> str:
    return f"{'':24}{label:20}" + "".join(f"{ratio(a.get(k), b.get(k)):>13}" for _, k in COLS)


# --limits: the largest load each server carries with delivery p99 <= 100 ms, in steps.
LIMIT_P99_MS = 100.0
DOC_STEPS = (250, 500, 1000, 2000)  # documents, 2 clients each, 1 edit/s per document
CLIENT_STEPS = (100, 200, 400, 800, 1600)  # clients on one document, 10 of them typing 2/s


def _meets(res: dict, case: Case, seconds: float) -> bool:
    """Within the limit: p99 under 100 ms and (nearly) every update sent acknowledged."""
    p99 = res.get("delivery_p99_ms")
    expected = case.docs * case.writers_per_doc * case.rate * seconds
    return p99 is not None and p99 <= LIMIT_P99_MS and res["acked"] >= 0.9 * expected


def find_limits(server: Server, docs: list[str], args: argparse.Namespace) -> dict[str, dict]:
    found: dict[str, dict] = {}
    searches = [
        ("documents", DOC_STEPS, lambda n: Case(f"{n} docs x 2", n, 2, 1, 1)),
        ("clients on 1 doc", CLIENT_STEPS, lambda n: Case(f"{n} clients, 1 doc", 1, n, 10, 2)),
    ]
    for what, steps, make in searches:
        best: dict = {"count": 0}
        for n in steps:
            case = make(n)
            targets = docs[:n] if case.docs > 1 else docs[-1:]
            try:
                res = run_case(
                    server, case, targets, args.seconds, args.generators, None, args.client
                )
            except RuntimeError as exc:  # the generator could not even connect them all
                print(f"  {server.name} {case.name}: {exc}", file=sys.stderr, flush=True)
                break
            ok = _meets(res, case, args.seconds)
            print(
                f"  {server.name} {case.name}: p99 {res['delivery_p99_ms']} ms,"
                f" {res['acked_per_s']} acked/s {'ok' if ok else 'over'}",
                file=sys.stderr,
                flush=True,
            )
            if not ok:
                break
            best = {"count": n, **res}
        found[what] = best
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cases", default="10,100,500,1000x1,100x10,peak")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--client", choices=sorted(GENERATORS), default="raw")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--comments",
        type=int,
        default=0,
        help="also run every case on documents with N threads each: present, then posting",
    )
    parser.add_argument("--limits", action="store_true", help="search the p99 <= 100 ms limits")
    parser.add_argument("--profile", default=None, help="folder for py-spy stacks of MDReader")
    args = parser.parse_args()
    if not shutil.which("node"):
        sys.exit("bench/collab needs Node.js (node and npm)")
    npm_ci()
    cases = [CASES[c] for c in args.cases.split(",")] if not args.limits else []
    plain_docs = sum(c.docs for c in cases)
    # With comments every case gets fresh documents of its own for each variant: a document
    # that grew in one run would make the next one slower.
    needed = plain_docs * (3 if args.comments else 1)
    if args.limits:
        needed = max(DOC_STEPS) + 1
    results: list[tuple[Case, dict, dict, dict | None, dict | None]] = []
    limits: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as data:
        env = server_env(data)
        if args.database_url:
            env["MDREADER_DATABASE_URL"] = args.database_url
        mdreader = start_mdreader(env)
        reference = start_reference()
        try:
            prepare(mdreader, needed)
            reference.doc_ids = mdreader.doc_ids
            if args.limits:
                for server in (mdreader, reference):
                    limits[server.name] = find_limits(server, mdreader.doc_ids, args)
            offset = 0
            commented = mdreader.doc_ids[plain_docs:]
            if args.comments:
                add_comments(mdreader, commented, args.comments)

            def run(server: Server, case: Case, docs: list[str]) -> dict:
                return run_case(
                    server, case, docs, args.seconds, args.generators, args.profile, args.client
                )

            for case in cases:
                docs = mdreader.doc_ids[offset : offset + case.docs]
                m = run(mdreader, case, docs)
                present = posted = None
                if args.comments:
                    present = run(mdreader, case, commented[2 * offset : 2 * offset + case.docs])
                    posting = commented[2 * offset + case.docs : 2 * offset + 2 * case.docs]
                    with CommentPoster(mdreader, posting[0]):
                        posted = run(mdreader, case, posting)
                offset += case.docs
                r = run(reference, case, docs)
                results.append((case, m, r, present, posted))
                print(f"  {case.name}: done", file=sys.stderr, flush=True)
        finally:
            for server in (mdreader, reference):
                server.proc.terminate()
                try:
                    server.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"bench/collab  {args.seconds:.0f}s per run, {args.generators} {args.client} load"
        f" generators  (MDReader: mdreader serve, 1 worker, {backend})"
    )
    if limits:
        print(f"limits: the most each server carried with delivery p99 <= {LIMIT_P99_MS:.0f} ms")
        for what in limits["MDReader"]:
            m, r = limits["MDReader"][what], limits[reference.name][what]
            print(
                f"  {what:20} MDReader {m['count']:>6}   {reference.name} {r['count']:>6}"
                f"   ratio {ratio(m['count'], r['count'])}"
            )
        print(json.dumps(limits, default=str))
        return
    print(f"{'case':24}{'server':20}" + "".join(f"{c:>13}" for c, _ in COLS))
    for case, m, r, _, _ in results:
        print(_row(case.name, "MDReader", m))
        print(_row(case.name, "reference", r))
        print(_ratio_row("ratio MDR/ref", m, r))
    if args.comments:
        print(
            f"comments: MDReader on documents with {args.comments} threads each, against the"
            " same case without (present: nobody comments; posted: a comment every 0.2 s)"
        )
        for case, m, _, present, posted in results:
            assert present is not None and posted is not None
            print(_row(case.name, "with comments", present))
            print(_row(case.name, "posting", posted))
            print(_ratio_row("present/none", present, m))
            print(_ratio_row("posted/none", posted, m))
    print(
        json.dumps(
            {
                case.name: {"mdreader": m, "reference": r, "present": pr, "posted": po}
                for case, m, r, pr, po in results
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
