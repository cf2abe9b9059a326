"""The web app's end-to-end harness: the built bundle, Debian's Chromium, and a real server
subprocess (``support/serve.py``) on port 0 with a fresh database."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.node import npm_ci
from support.scratch import SERVER_START_WITHIN, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
CHROMIUM = os.environ.get("MDREADER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "web"


def prepare_web() -> str | None:
    """Install the web app's packages and build it when needed; an error sentence if not."""
    if not Path(CHROMIUM).exists():
        return f"Chromium is needed at {CHROMIUM} (make test installs Debian's chromium)"
    error = npm_ci(WEB, timeout=600)
    if error:
        return error
    npm = shutil.which("npm") or "npm"
    if not (WEB / "dist" / "index.html").exists() or _sources_newer_than_dist():
        done = subprocess.run(
            [npm, "run", "build"], cwd=WEB, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            return f"the web app does not build: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return None


def _sources_newer_than_dist() -> bool:
    built = (WEB / "dist" / "index.html").stat().st_mtime
    sources = [WEB / "index.html", WEB / "package-lock.json", *(WEB / "src").rglob("*")]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


@contextmanager
def database(backend: str, pg_admin_url: str, tmp: Path) -> Iterator[str]:
    """A fresh, empty database for one server: a SQLite file, or a PostgreSQL database."""
    if backend != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp / 'mdreader.db'}"
        return
    with scratch_postgres(pg_admin_url) as url:
        yield url


@dataclass
class WebServer:
    base_url: str
    mail_log: Path  # the server's stderr
    process: subprocess.Popen[str]
    # What the SMTP test server received, one block per message in the console mailer's
    # layout (what the e2e scripts read links from).
    mailbox: Path | None = None


class MailboxFile:
    """An aiosmtpd handler writing each message it receives to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        for to in envelope.rcpt_tos:
            with self.path.open("a") as out:
                out.write(
                    f"\n--- e-mail from {envelope.mail_from} to {to}: {message['Subject']}\n"
                    f"{text}\n--- end of e-mail\n"
                )
        return "250 OK"


@contextmanager
def smtp_mailbox(path: Path) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on a free port, writing what it gets to ``path``."""
    from aiosmtpd.controller import Controller

    path.touch()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(MailboxFile(path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@contextmanager
def web_server(
    database_url: str, redis_url: str | None, tmp: Path, extra_env: dict[str, str] | None = None
) -> Iterator[WebServer]:
    """`python -m support.serve` in a subprocess, its stderr in a file, sending its e-mail to a
    real SMTP server that writes them to another file, which the e2e scripts read links from."""
    with smtp_mailbox(tmp / "mailbox.log") as smtp_port:
        yield from _web_server(database_url, redis_url, tmp, smtp_port, extra_env)


def _web_server(
    database_url: str,
    redis_url: str | None,
    tmp: Path,
    smtp_port: int,
    extra_env: dict[str, str] | None,
) -> Iterator[WebServer]:
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    mail_log = tmp / "server.log"
    env = {
        **os.environ,
        "MDREADER_DATA_DIR": str(data),
        "MDREADER_DATABASE_URL": database_url,
        "MDREADER_SECRET_KEY": "e2e-secret-key-" + "x" * 64,
        "MDREADER_ENVIRONMENT": "test",
        "MDREADER_LOG_JSON": "false",
        "MDREADER_LOG_LEVEL": "WARNING",
        "MDREADER_WEB_DIST": str(WEB / "dist"),
        "MDREADER_EMAIL_BACKEND": "smtp",
        "MDREADER_SMTP_HOST": "127.0.0.1",
        "MDREADER_SMTP_PORT": str(smtp_port),
        # Many sign-ins from one address in a short time: the tests are not an attack.
        "MDREADER_LOGIN_MAX_FAILURES_PER_IP": "1000",
        # Every simulated person of every script shares 127.0.0.1: run one after another on one
        # server, they pass the API's 1,000 requests per address and 5 minutes (a 429 then
        # looked like a lost title or an unsaved mention). The limit itself is tested apart.
        "MDREADER_RATE_LIMIT_REQUESTS": "1000000",
        # webhooks.e2e.mjs runs its receiver on this machine.
        "MDREADER_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    env.pop("MDREADER_REDIS_URL", None)
    env.update(extra_env or {})
    if redis_url:
        env["MDREADER_REDIS_URL"] = redis_url
    with mail_log.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "support.serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + SERVER_START_WITHIN
        port = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                port = int(line.split()[1])
                break
            if not line and proc.poll() is not None:
                break
        if port is None:
            proc.kill()
            raise RuntimeError(f"the server did not start: {mail_log.read_text()[-3000:]}")
        yield WebServer(f"http://127.0.0.1:{port}", mail_log, proc, tmp / "mailbox.log")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run_e2e(
    script: str, server: WebServer, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """One e2e file under web/e2e with Node's test runner."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BASE_URL": server.base_url,
        "MAIL_LOG": str(server.mailbox or server.mail_log),
        "ARTIFACTS_DIR": str(ARTIFACTS),
        "CHROMIUM": CHROMIUM,
    }
    return subprocess.run(
        ["node", "--test", "--test-reporter=spec", f"e2e/{script}"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
