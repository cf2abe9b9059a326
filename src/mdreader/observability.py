"""JSON logs with a request id, Prometheus metrics by route template and, optionally,
CloudWatch embedded-metric-format lines."""

from __future__ import annotations

import contextvars
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("method", "path", "route", "status", "duration_ms", "client", "audit"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = False


class Metrics:
    """The process's Prometheus registry; one per app, no global state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mdreader_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mdreader_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # A plain counter, read when scraped: no lock taken twice per request.
        self.in_flight = 0
        Gauge(
            "mdreader_http_requests_in_flight",
            "HTTP requests being served.",
            registry=self.registry,
        ).set_function(lambda: self.in_flight)
        self.collab_connections = Gauge(
            "mdreader_collab_connections",
            "Open collaboration WebSockets.",
            registry=self.registry,
        )
        self.collab_documents = Gauge(
            "mdreader_collab_documents_loaded",
            "Documents loaded in this process for live editing.",
            registry=self.registry,
        )
        self.collab_updates = Counter(
            "mdreader_collab_updates_total",
            "Document updates received from clients and stored.",
            registry=self.registry,
        )
        self.collab_ack_seconds = Histogram(
            "mdreader_collab_ack_seconds",
            "From receiving an update to acknowledging it (durable).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.collab_denied = Counter(
            "mdreader_collab_denied_total",
            "Collaboration connections refused or dropped for lack of access.",
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.collab_rejected = Counter(
            "mdreader_collab_rejected_total",
            "Collaboration sockets closed for a malformed or refused message.",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency (the labelled series are looked up once)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (``name`` in lower case, as ASGI gives them)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            found: bytes = value
            return found
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/documents/{document_id}``), not the raw path,
    so that metrics have one series per route. The router records the match in the scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    return "/{path}" if path == "/{path:path}" else path


class EmfEmitter:
    """CloudWatch embedded metric format: one JSON line per request. On Lambda they go to
    stdout, whose lines CloudWatch Logs reads for metrics itself; on ECS to the CloudWatch
    agent beside the app (``endpoint`` = ``MDREADER_EMF_ENDPOINT``, ``udp://127.0.0.1:25888``),
    since lines the awslogs driver ships are stored as logs only. UDP: a missing agent costs
    a dropped datagram, never a request."""

    def __init__(
        self, namespace: str = "MDReader", stream: Any = None, endpoint: str | None = None
    ) -> None:
        self.namespace = namespace
        self.stream = stream
        self._socket: Any = None
        self._address: tuple[str, int] | None = None
        if endpoint:
            import socket
            from urllib.parse import urlsplit

            parts = urlsplit(endpoint)
            if parts.scheme != "udp" or not parts.hostname or not parts.port:
                raise ValueError(f"MDREADER_EMF_ENDPOINT must be udp://host:port, not {endpoint!r}")
            self._address = (parts.hostname, parts.port)
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    def record(self, method: str, route: str, status: int, seconds: float, request_id: str) -> None:
        line = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["Method", "Route"], []],
                        "Metrics": [
                            {"Name": "Latency", "Unit": "Milliseconds"},
                            {"Name": "Requests", "Unit": "Count"},
                            {"Name": "ClientErrors", "Unit": "Count"},
                            {"Name": "ServerErrors", "Unit": "Count"},
                        ],
                    }
                ],
            },
            "Method": method,
            "Route": route,
            "Latency": round(seconds * 1000, 3),
            "Requests": 1,
            "ClientErrors": int(400 <= status < 500),
            "ServerErrors": int(status >= 500),
            "Status": status,
            "request_id": request_id,
        }
        text = json.dumps(line, separators=(",", ":")) + "\n"
        if self._socket is not None:
            try:
                self._socket.sendto(text.encode(), self._address)
            except OSError:
                pass  # no agent listening (yet): the metric is lost, the request is not
            return
        out = self.stream or sys.stdout
        out.write(text)
        out.flush()


class ObservabilityMiddleware:
    """Request id, access log line and metrics, as plain ASGI (no per-request task)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        emf: EmfEmitter | None = None,
        client_of: Callable[[Scope], str] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.emf = emf
        # The client's address as the rest of the app sees it (api.deps.scope_client_ip).
        self.client_of = client_of or (lambda scope: (scope.get("client") or ("",))[0])
        self.log = logging.getLogger("mdreader.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"x-request-id")
        incoming = raw.decode("latin-1")[:64] if raw is not None else None
        # Unique, not secret: no system call for it.
        request_id = (
            incoming if incoming and incoming.isprintable() else f"{random.getrandbits(128):032x}"
        )
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight -= 1
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, elapsed)
            if self.emf is not None:
                self.emf.record(method, route, status, elapsed, request_id)
            if self.log.isEnabledFor(logging.INFO) and not scope["path"].startswith(
                ("/assets/", "/health", "/metrics")
            ):
                self.log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client": self.client_of(scope),
                    },
                )
            request_id_var.reset(token)
