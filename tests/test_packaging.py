"""`pip install .` carries the built web app: the wheel built from a clean checkout (the
committed files only) has ``mdreader/web/index.html``, and the installed package serves it at
``/`` with no checkout around.

A clean checkout has no ``web/dist`` and no ``web/node_modules``: the build hook builds the web
app (``npm run build``). To keep this test fast, the checkout copy borrows this worktree's
installed ``node_modules`` (what ``npm ci`` would install from the same lock file)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

# Building the web app and the wheel takes minutes on a loaded two-core machine.
pytestmark = [pytest.mark.database_independent, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[1]


def _clean_checkout(target: Path) -> Path:
    archive = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    with io.BytesIO() as buf:
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for raw in archive:
                name = raw.decode()
                if name and (ROOT / name).is_file():
                    tar.add(ROOT / name, arcname=name)
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            tar.extractall(target, filter="data")
    assert not (target / "web" / "dist").exists()
    modules = ROOT / "web" / "node_modules"
    assert modules.is_dir(), "make web-deps installs the web app's packages"
    (target / "web" / "node_modules").symlink_to(modules)
    return target


def test_the_wheel_carries_the_web_app_and_serves_it(tmp_path):
    checkout = _clean_checkout(tmp_path / "checkout")
    out = tmp_path / "wheels"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            ".",
        ],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("mdreader-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "mdreader/web/index.html" in names
        assert any(n.startswith("mdreader/web/assets/") and n.endswith(".js") for n in names)
        assert "mdreader/migrations/env.py" in names or any(
            n.startswith("mdreader/migrations/") for n in names
        )
        site = tmp_path / "site"
        zf.extractall(site)

    # The installed package, away from any checkout, serves the UI at / (web_dist unset).
    script = (
        "import asyncio, httpx\n"
        "from mdreader.app import create_app\n"
        "from mdreader.settings import Settings\n"
        f"s = Settings(_env_file=None, data_dir={str(tmp_path / 'data')!r})\n"
        "assert 'site' in str(s.resolved_web_dist), s.resolved_web_dist\n"
        "async def main():\n"
        "    app = create_app(s)\n"
        "    t = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=t, base_url='http://t') as c:\n"
        "        r = await c.get('/w/some/client/route')\n"
        "        assert r.status_code == 200 and '<div id=\"root\">' in r.text, r.text[:300]\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env["PYTHONPATH"] = str(site)
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    shutil.rmtree(checkout, ignore_errors=True)
