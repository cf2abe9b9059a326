"""A small closed-loop HTTP/1.1 load generator (keep-alive, raw asyncio streams).

It is the same for the app under test and its reference, so their ratio is fair even
though the generator shares the machine with the servers.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000

    def summary(self) -> dict[str, float]:
        return {
            "req_per_s": round(self.rps, 1),
            "p50_ms": round(self.pct(50), 2),
            "p99_ms": round(self.pct(99), 2),
            "errors": self.errors,
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
        }


def build_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def run(
    host: str,
    port: int,
    make_request: callable,  # type: ignore[valid-type]
    concurrency: int = 50,
    duration: float = 5.0,
    warmup: float = 1.0,
) -> Result:
    latencies: list[float] = []
    counts = {"ok": 0, "err": 0}
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = 0
        try:
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                payload = make_request(n, i)
                i += 1
                t0 = time.perf_counter()
                writer.write(payload)
                status = await _read_response(reader)
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    if status < 400:
                        counts["ok"] += 1
                        latencies.append(t1 - t0)
                    else:
                        counts["err"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return Result(counts["ok"], counts["err"], duration, latencies)


def json_body(obj: object) -> bytes:
    return json.dumps(obj).encode()
