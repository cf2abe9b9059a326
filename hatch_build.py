"""Hatch build hook: the wheel (and the sdist) carry the built web app, so that `pip install .`
gives a `mdreader serve` that serves the UI, as datasette and JupyterLab ship their assets.

The bundle goes into the package as ``mdreader/web`` (``Settings.resolved_web_dist`` finds it
there). ``web/dist`` is built first when it is missing or older than a source of the web app
(``npm ci`` when the packages are not installed yet, then ``npm run build``); a build from an
sdist uses the ``web/dist`` it carries. Editable installs (``make install``) serve ``web/dist``
from the checkout and build nothing here. ``MDREADER_SKIP_WEB_BUILD=1`` packages without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = ("package.json", "package-lock.json", "index.html", "vite.config.ts", "src", "public")


def _newest_source(web: Path) -> float:
    newest = 0.0
    for name in SOURCES:
        path = web / name
        files = path.rglob("*") if path.is_dir() else [path]
        for f in files:
            if f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise RuntimeError(f"building the web app failed ({' '.join(args)}):\n{output}")


def build_web(root: Path) -> Path | None:
    """``web/dist`` built and current; None when there are no web sources (an sdist with its
    bundle already in place is fine too)."""
    web = root / "web"
    dist = web / "dist"
    index = dist / "index.html"
    if not (web / "package.json").is_file():
        return dist if index.is_file() else None
    if index.is_file() and index.stat().st_mtime >= _newest_source(web):
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "The web app is not built and npm (Node.js 20+) is not installed: install Node.js, "
            "or build web/dist elsewhere first (MDREADER_SKIP_WEB_BUILD=1 packages without it)."
        )
    installed = web / "node_modules" / ".package-lock.json"
    lock = web / "package-lock.json"
    if not installed.is_file() or (
        lock.is_file() and lock.stat().st_mtime > installed.stat().st_mtime
    ):
        _run([npm, "ci", "--no-audit", "--no-fund"], web)
    _run([npm, "run", "build"], web)
    return dist


class WebAppHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable" or os.environ.get("MDREADER_SKIP_WEB_BUILD") == "1":
            return
        dist = build_web(Path(self.root))
        if dist is None:
            return
        target = "mdreader/web" if self.target_name == "wheel" else "web/dist"
        build_data.setdefault("force_include", {})[str(dist)] = target
